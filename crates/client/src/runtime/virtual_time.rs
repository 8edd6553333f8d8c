//! Virtual time: a clock that moves only when everything that could act on it is waiting.
//!
//! A sleep registers a deadline (now + its duration) and stays pending. The clock jumps to
//! the earliest pending deadline only when the system is *quiescent*:
//!
//! - no participant ([`Participant`]: the run, each `for_each` element) is running (inside
//!   its `poll`) or runnable (woken and not yet polled again);
//! - nothing is in flight ([`InFlight`]: an HTTP attempt from its turn to the end of its
//!   body, an await on something outside the participants such as a journal's answer, a
//!   finished element's result on its way to the step that awaits it);
//! - every sleep already woken has been seen by its task.
//!
//! A server on the same virtual time answering a request that is in flight (the sandbox's
//! synchronous run) may sleep *for* that request ([`VirtualTime::sleep_answering`]): the
//! request's hold is lent to the sleep while it waits, so the clock can reach its deadline,
//! and taken back when it ends, before the answer leaves.
//!
//! Every sleep due at that deadline wakes, in registration order, and the clock stays there
//! until the system is quiescent again. So concurrent sleepers each wake at their own deadline
//! (five 200 ms sleeps take 200 ms, not one second), and no task sees the clock move while it
//! is busy or waiting for an answer. With nothing running, nothing in flight and no sleeper,
//! there is nothing to do: a real hang stays a hang instead of spinning.
//!
//! Code outside every participant is not watched: it may run while the clock moves, as when
//! every sleep returned at once. Its sleeps wait like any other, so a test that sleeps on the
//! environment with no participant about sees the sleep end at once and the clock move by it.
//!
//! Every decision is taken under the one state mutex, and wakers are called after it is
//! released; a woken sleep counts as busy until its task has seen it, so no second advance
//! slips in between waking a task and that task running.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use time::OffsetDateTime;

use super::environment::{saturating_after, Clock, SleepFuture, Sleeper};

type Shared = Arc<Mutex<VirtualState>>;

/// Where a participant is, for the quiescence rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Inside its `poll`; `woken` when its waker was called meanwhile (it will be polled
    /// again at once, so it is runnable, not parked, when the poll returns).
    Running { woken: bool },
    /// Woken and waiting for the runtime to poll it.
    Runnable,
    /// Waiting for a waker.
    Parked,
}

#[derive(Debug)]
struct VirtualState {
    start: OffsetDateTime,
    elapsed: Duration,
    sleeps: Vec<Duration>,
    next_id: u64,
    /// Sleeps not yet due, by deadline then registration, with the waker of their last poll.
    pending: BTreeMap<(Duration, u64), Option<Waker>>,
    /// Sleeps woken whose task has not yet seen it.
    woken: HashSet<u64>,
    participants: HashMap<u64, Phase>,
    running: usize,
    runnable: usize,
    in_flight: usize,
    /// In-flight holds lent to sleeps answering those requests.
    lent: usize,
}

impl VirtualState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Moves participant `id` to `phase` (`None`: it is gone), keeping the counts right.
    fn enter(&mut self, id: u64, phase: Option<Phase>) {
        let old = match phase {
            Some(phase) => self.participants.insert(id, phase),
            None => self.participants.remove(&id),
        };
        match old {
            Some(Phase::Running { .. }) => self.running -= 1,
            Some(Phase::Runnable) => self.runnable -= 1,
            Some(Phase::Parked) | None => {}
        }
        match phase {
            Some(Phase::Running { .. }) => self.running += 1,
            Some(Phase::Runnable) => self.runnable += 1,
            Some(Phase::Parked) | None => {}
        }
    }

    /// A participant's waker was called.
    fn wake(&mut self, id: u64) {
        match self.participants.get_mut(&id) {
            Some(Phase::Running { woken }) => *woken = true,
            Some(Phase::Parked) => self.enter(id, Some(Phase::Runnable)),
            Some(Phase::Runnable) | None => {}
        }
    }

    /// The advance decision: when quiescent, the clock jumps to the earliest deadline and the
    /// sleeps due then wake. Returns their wakers, for the caller to call once unlocked.
    fn settle(&mut self) -> Vec<Waker> {
        // Saturating: a request sent from outside every participant holds nothing to lend.
        let holding = self.in_flight.saturating_sub(self.lent);
        let busy = self.running + self.runnable + holding + self.woken.len();
        let Some((&(deadline, _), _)) = self.pending.first_key_value() else {
            return Vec::new();
        };
        if busy > 0 {
            return Vec::new();
        }
        // A deadline is never before the clock it was taken from; `max` keeps it so.
        self.elapsed = self.elapsed.max(deadline);
        self.wake_due()
    }

    /// Wakes every sleep whose deadline has come, in deadline then registration order.
    fn wake_due(&mut self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > self.elapsed {
                break;
            }
            let ((_, id), waker) = entry.remove_entry();
            self.woken.insert(id);
            wakers.extend(waker);
        }
        wakers
    }
}

fn lock(state: &Mutex<VirtualState>) -> std::sync::MutexGuard<'_, VirtualState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on the state, settles, and calls the wakers that freed once the lock is released.
fn settle_after(state: &Mutex<VirtualState>, f: impl FnOnce(&mut VirtualState)) {
    let wakers = {
        let mut state = lock(state);
        f(&mut state);
        state.settle()
    };
    wakers.into_iter().for_each(Waker::wake);
}

/// Virtual time shared by a clock and a sleeper (see the module doc).
#[derive(Debug, Clone)]
pub struct VirtualTime {
    state: Shared,
}

impl VirtualTime {
    pub(crate) fn new(start: OffsetDateTime) -> Self {
        Self {
            state: Arc::new(Mutex::new(VirtualState {
                start,
                elapsed: Duration::ZERO,
                sleeps: Vec::new(),
                next_id: 0,
                pending: BTreeMap::new(),
                woken: HashSet::new(),
                participants: HashMap::new(),
                running: 0,
                runnable: 0,
                in_flight: 0,
                lent: 0,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut VirtualState) -> R) -> R {
        f(&mut lock(&self.state))
    }

    /// Moves the clock on without a sleep, whatever is running; the sleeps it passes wake.
    pub fn advance(&self, by: Duration) {
        let wakers = self.with(|s| {
            s.elapsed = s.elapsed.saturating_add(by);
            s.wake_due()
        });
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Every sleep taken so far, in registration order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.with(|s| s.sleeps.clone())
    }

    pub(crate) fn participate<F: Future>(&self, future: F) -> Participant<F> {
        let id = self.with(|s| {
            let id = s.next_id();
            // About to be polled (spawned, or awaited by a running task): runnable.
            s.enter(id, Some(Phase::Runnable));
            id
        });
        Participant {
            body: Body::Unconstrained(tokio::task::unconstrained(Box::pin(future))),
            member: Some(Member {
                state: Arc::clone(&self.state),
                id,
                waker: None,
            }),
        }
    }

    pub(crate) fn in_flight(&self) -> InFlight {
        self.with(|s| s.in_flight += 1);
        InFlight {
            state: Some(Arc::clone(&self.state)),
        }
    }
}

impl Clock for VirtualTime {
    fn now_utc(&self) -> OffsetDateTime {
        self.with(|s| saturating_after(s.start, s.elapsed))
    }

    fn elapsed(&self) -> Duration {
        self.with(|s| s.elapsed)
    }
}

impl VirtualTime {
    fn register(&self, duration: Duration, lends: bool) -> SleepFuture {
        let mut key = (Duration::ZERO, 0);
        settle_after(&self.state, |s| {
            key = (s.elapsed.saturating_add(duration), s.next_id());
            s.sleeps.push(duration);
            s.pending.insert(key, None);
            s.lent += usize::from(lends);
        });
        Box::pin(VirtualSleep {
            state: Arc::clone(&self.state),
            key,
            done: false,
            lends,
        })
    }

    /// A sleep of a server answering a request someone holds in flight: the hold is lent to
    /// the sleep while it waits and taken back when it ends (see the module doc).
    pub(crate) fn sleep_answering(&self, duration: Duration) -> SleepFuture {
        self.register(duration, true)
    }
}

impl Sleeper for VirtualTime {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.register(duration, false)
    }
}

/// One sleep on virtual time: pending until the clock reaches its deadline.
struct VirtualSleep {
    state: Shared,
    key: (Duration, u64),
    done: bool,
    /// Whether it holds a lent in-flight hold, given back when it ends.
    lends: bool,
}

impl VirtualSleep {
    fn give_back(&self, state: &mut VirtualState) {
        if self.lends {
            state.lent -= 1;
        }
    }
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        let key = self.key;
        let mut seen = false;
        settle_after(&self.state, |s| {
            if s.woken.remove(&key.1) {
                self.give_back(s);
                seen = true;
            } else if let Some(waker) = s.pending.get_mut(&key) {
                *waker = Some(cx.waker().clone());
            } else {
                // Neither pending nor woken cannot happen; ending is the safe reading.
                self.give_back(s);
                seen = true;
            }
        });
        if seen {
            self.done = true;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let key = self.key;
        settle_after(&self.state, |s| {
            if !s.woken.remove(&key.1) {
                s.pending.remove(&key);
            }
            self.give_back(s);
        });
    }
}

/// A participant's membership: its id and the waker handed to its body.
struct Member {
    state: Shared,
    id: u64,
    /// The runtime's waker and ours around it, reused while the runtime's stays the same.
    waker: Option<(Waker, Waker)>,
}

impl Member {
    fn waker(&mut self, outer: &Waker) -> Waker {
        if let Some((known, ours)) = &self.waker {
            if known.will_wake(outer) {
                return ours.clone();
            }
        }
        let ours = Waker::from(Arc::new(Wakeup {
            state: Arc::downgrade(&self.state),
            id: self.id,
            inner: outer.clone(),
        }));
        self.waker = Some((outer.clone(), ours.clone()));
        ours
    }
}

/// The waker a participant's body sees: marks the participant runnable, then wakes its task.
struct Wakeup {
    // Weak: a pending sleep holds this waker inside the state it points to.
    state: Weak<Mutex<VirtualState>>,
    id: u64,
    inner: Waker,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(state) = self.state.upgrade() {
            lock(&state).wake(self.id);
        }
        self.inner.wake_by_ref();
    }
}

enum Body<F> {
    Plain(Pin<Box<F>>),
    /// On virtual time the body runs without tokio's cooperative budget: a task that spends
    /// its budget is made to yield with a deferred wake-up, which would look parked here and
    /// let the clock move under a task that still has work to do.
    Unconstrained(tokio::task::Unconstrained<Pin<Box<F>>>),
}

/// A future virtual time waits for (see the module doc); on system time, the future itself.
/// Wrap a whole task's future, so that every wake-up of the body leads to its poll.
pub struct Participant<F: Future> {
    body: Body<F>,
    member: Option<Member>,
}

impl<F: Future> Participant<F> {
    pub(crate) fn plain(future: F) -> Self {
        Self {
            body: Body::Plain(Box::pin(future)),
            member: None,
        }
    }
}

impl<F: Future> Future for Participant<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let Some(member) = &mut this.member else {
            return match &mut this.body {
                Body::Plain(body) => body.as_mut().poll(cx),
                Body::Unconstrained(body) => Pin::new(body).poll(cx),
            };
        };
        let id = member.id;
        lock(&member.state).enter(id, Some(Phase::Running { woken: false }));
        let waker = member.waker(cx.waker());
        let mut inner = Context::from_waker(&waker);
        // A panic here unwinds through the drop of this participant, which ends its turn.
        let poll = match &mut this.body {
            Body::Plain(body) => body.as_mut().poll(&mut inner),
            Body::Unconstrained(body) => Pin::new(body).poll(&mut inner),
        };
        let ready = poll.is_ready();
        // Read and left under one lock: a wake-up in between would otherwise be lost.
        settle_after(&member.state, |s| {
            let next = match s.participants.get(&id) {
                _ if ready => None,
                Some(Phase::Running { woken: true }) => Some(Phase::Runnable),
                _ => Some(Phase::Parked),
            };
            s.enter(id, next);
        });
        if ready {
            this.member = None;
        }
        poll
    }
}

impl<F: Future> Drop for Participant<F> {
    fn drop(&mut self) {
        if let Some(member) = self.member.take() {
            settle_after(&member.state, |s| s.enter(member.id, None));
        }
    }
}

/// Something outside the participants is under way; virtual time does not move while it
/// is held. A no-op on system time.
#[must_use = "the clock is held only while this lives"]
pub struct InFlight {
    state: Option<Shared>,
}

impl InFlight {
    pub(crate) fn none() -> Self {
        Self { state: None }
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            settle_after(&state, |s| s.in_flight -= 1);
        }
    }
}

/// Yields once, waking itself at once: on virtual time the yielding participant stays
/// runnable, where tokio's `yield_now` (whose wake-up is deferred past the poll) would leave it
/// looking parked.
pub(crate) struct YieldNow {
    yielded: bool,
}

impl YieldNow {
    pub(crate) fn new() -> Self {
        Self { yielded: false }
    }
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use crate::runtime::Environment;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn environment() -> (Environment, super::VirtualTime) {
        Environment::virtual_time(time::macros::datetime!(2026-03-04 05:06:07 UTC), 1)
    }

    /// Sleeps each of `durations` in a participant task of its own, all at once, and returns
    /// when each woke (by the clock) in the order they woke.
    async fn sleep_concurrently(
        environment: &Environment,
        durations: &[u64],
    ) -> Vec<(u64, Duration)> {
        let woke = std::sync::Arc::new(Mutex::new(Vec::new()));
        // The spawning task takes part too: were it invisible, the first sleeper could park,
        // and the clock move, before the others were spawned.
        environment
            .participate(async {
                let mut tasks = tokio::task::JoinSet::new();
                for &n in durations {
                    let (env, woke) = (environment.clone(), woke.clone());
                    tasks.spawn(environment.participate(async move {
                        env.sleep(ms(n)).await;
                        woke.lock().unwrap().push((n, env.clock.elapsed()));
                    }));
                }
                while let Some(done) = tasks.join_next().await {
                    done.unwrap();
                }
            })
            .await;
        let woke = woke.lock().unwrap().clone();
        woke
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_sleepers_wake_at_their_own_deadline() {
        let (environment, time) = environment();
        let woke = sleep_concurrently(&environment, &[200; 5]).await;
        assert_eq!(woke, vec![(200, ms(200)); 5]);
        assert_eq!(environment.clock.elapsed(), ms(200));
        assert_eq!(time.sleeps(), vec![ms(200); 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sleepers_wake_in_deadline_order_as_the_clock_reaches_each() {
        let (environment, _time) = environment();
        let woke = sleep_concurrently(&environment, &[300, 100]).await;
        assert_eq!(woke, vec![(100, ms(100)), (300, ms(300))]);

        let durations: Vec<u64> = (0..40).map(|i| (i * 37) % 11 * 10).collect();
        let woke = sleep_concurrently(&environment, &durations).await;
        // Each woke at its own deadline (300 ms on), and the clock never went back.
        for (n, at) in &woke {
            assert_eq!(*at, ms(300 + n), "{woke:?}");
        }
        assert!(woke.windows(2).all(|w| w[0].1 <= w[1].1), "{woke:?}");
        assert_eq!(environment.clock.elapsed(), ms(400));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sleepers_wake_on_a_single_thread_too() {
        let (environment, _time) = environment();
        let woke = sleep_concurrently(&environment, &[200, 50, 200]).await;
        assert_eq!(woke, vec![(50, ms(50)), (200, ms(200)), (200, ms(200))]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_clock_holds_while_a_participant_runs() {
        let (environment, _time) = environment();
        let env = environment.clone();
        // Both take part before either is spawned: the test's own task is not watched.
        let sleeper = environment.participate(async move {
            env.sleep(ms(100)).await;
            env.clock.elapsed()
        });
        let env = environment.clone();
        let busy = environment.participate(async move {
            // Inside one poll for a while, as a step that computes: the sleeper parks meanwhile.
            std::thread::sleep(Duration::from_millis(150));
            env.clock.elapsed()
        });
        let (sleeper, busy) = (tokio::spawn(sleeper), tokio::spawn(busy));
        assert_eq!(busy.await.unwrap(), Duration::ZERO);
        assert_eq!(sleeper.await.unwrap(), ms(100));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_clock_holds_while_something_is_in_flight() {
        let (environment, _time) = environment();
        let env = environment.clone();
        let sleeper = environment.participate(async move {
            env.sleep(Duration::from_secs(1)).await;
            env.clock.elapsed()
        });
        let env = environment.clone();
        let asking = environment.participate(async move {
            let (answer, answered) = tokio::sync::oneshot::channel();
            // Answered from another thread, as a journal answers from SQLite's.
            let outside = env.in_flight();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                answer.send(()).unwrap();
            });
            answered.await.unwrap();
            let seen = env.clock.elapsed();
            drop(outside);
            seen
        });
        let (sleeper, asking) = (tokio::spawn(sleeper), tokio::spawn(asking));
        assert_eq!(asking.await.unwrap(), Duration::ZERO);
        assert_eq!(sleeper.await.unwrap(), Duration::from_secs(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_server_sleeping_for_a_request_in_flight_moves_the_clock_to_its_end() {
        let (environment, time) = environment();
        let env = environment.clone();
        let asking = environment.participate(async move {
            let (answer, answered) = tokio::sync::oneshot::channel();
            let on_the_wire = env.in_flight();
            let server = env.clone();
            // The server is no participant: it answers from a task of its own, as the sandbox.
            tokio::spawn(async move {
                server.sleep_answering(Duration::from_secs(3)).await;
                answer.send(server.clock.elapsed()).unwrap();
            });
            let answered_at = answered.await.unwrap();
            // The hold came back before the answer left: the clock did not move on meanwhile.
            let seen = env.clock.elapsed();
            drop(on_the_wire);
            (answered_at, seen)
        });
        let env = environment.clone();
        let later = environment.participate(async move {
            env.sleep(Duration::from_secs(5)).await;
            env.clock.elapsed()
        });
        let (asking, later) = (tokio::spawn(asking), tokio::spawn(later));
        assert_eq!(
            asking.await.unwrap(),
            (Duration::from_secs(3), Duration::from_secs(3))
        );
        assert_eq!(later.await.unwrap(), Duration::from_secs(5));
        assert_eq!(time.with(|s| s.lent), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_server_sleep_given_up_returns_its_hold() {
        let (environment, time) = environment();
        let sleep = environment.sleep_answering(Duration::from_secs(3));
        assert_eq!(time.with(|s| s.lent), 1);
        drop(sleep);
        assert_eq!(time.with(|s| s.lent), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn yielding_holds_the_clock() {
        let (environment, _time) = environment();
        let env = environment.clone();
        let sleeper = environment.participate(async move {
            env.sleep(ms(1)).await;
        });
        let env = environment.clone();
        let yielding = environment.participate(async move {
            for _ in 0..1000 {
                env.cooperate().await;
            }
            env.clock.elapsed()
        });
        let (sleeper, yielding) = (tokio::spawn(sleeper), tokio::spawn(yielding));
        assert_eq!(yielding.await.unwrap(), Duration::ZERO);
        sleeper.await.unwrap();
        assert_eq!(environment.clock.elapsed(), ms(1));
    }

    #[tokio::test]
    async fn a_sleep_outside_every_participant_ends_at_once() {
        let (environment, time) = environment();
        environment.sleep(Duration::from_secs(5)).await;
        environment.sleep(Duration::from_secs(2)).await;
        assert_eq!(environment.clock.elapsed(), Duration::from_secs(7));
        time.advance(Duration::from_secs(1));
        assert_eq!(environment.clock.elapsed(), Duration::from_secs(8));
    }

    #[tokio::test]
    async fn advancing_by_hand_wakes_the_sleeps_it_passes() {
        let (environment, time) = environment();
        let outside = environment.in_flight();
        let sleep = environment.sleep(Duration::from_secs(2));
        time.advance(Duration::from_secs(3));
        sleep.await;
        drop(outside);
        assert_eq!(environment.clock.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_to_wait_for_is_a_hang_not_a_jump() {
        let (environment, _time) = environment();
        let stuck = tokio::spawn(environment.participate(std::future::pending::<()>()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!stuck.is_finished());
        assert_eq!(environment.clock.elapsed(), Duration::ZERO);
        stuck.abort();
    }
}
