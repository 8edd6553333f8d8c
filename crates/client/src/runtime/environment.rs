//! Time, sleep and randomness, injected so that waits, retries and timeouts run instantly and
//! deterministically in tests (virtual time: `virtual_time.rs`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::virtual_time::{InFlight, Participant, VirtualTime, YieldNow};

pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock time, for `X-Sdk-Date`.
    fn now_utc(&self) -> OffsetDateTime;
    /// Monotonic time since an arbitrary origin, for deadlines.
    fn elapsed(&self) -> Duration;
}

pub trait Sleeper: Send + Sync + fmt::Debug {
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

pub trait Random: Send + Sync + fmt::Debug {
    /// A number in `[0, 1)`.
    fn unit(&self) -> f64;
}

/// The clock, sleeper and random source one client (or runner) uses.
#[derive(Debug, Clone)]
pub struct Environment {
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
    pub random: Arc<dyn Random>,
    /// The scheduler behind `clock` and `sleeper` on virtual time, which participants and
    /// in-flight work report to.
    virtual_time: Option<VirtualTime>,
}

impl Environment {
    /// Real time, tokio sleeps, and an unseeded random source.
    pub fn system() -> Self {
        Self {
            clock: Arc::new(SystemClock {
                origin: Instant::now(),
            }),
            sleeper: Arc::new(TokioSleeper),
            random: Arc::new(SeededRandom::new(fastrand::u64(..))),
            virtual_time: None,
        }
    }

    /// Virtual time starting at `start`, and randomness from `seed`. A sleep ends when the
    /// clock reaches its deadline, and the clock jumps to the next deadline once every
    /// participant waits and nothing is in flight (see `virtual_time.rs`): concurrent sleeps
    /// overlap as they would in real time, without taking any. The returned handle reads and
    /// moves the clock.
    pub fn virtual_time(start: OffsetDateTime, seed: u64) -> (Self, VirtualTime) {
        let time = VirtualTime::new(start);
        let env = Self {
            clock: Arc::new(time.clone()),
            sleeper: Arc::new(time.clone()),
            random: Arc::new(SeededRandom::new(seed)),
            virtual_time: Some(time.clone()),
        };
        (env, time)
    }

    pub fn sleep(&self, duration: Duration) -> SleepFuture {
        self.sleeper.sleep(duration)
    }

    /// A server's sleep while it answers a request that a client on the same environment
    /// holds in flight (the sandbox taking a synchronous run's time): on virtual time the
    /// request's hold is lent to it, so the clock can reach its end. On system time, a sleep.
    pub fn sleep_answering(&self, duration: Duration) -> SleepFuture {
        match &self.virtual_time {
            Some(time) => time.sleep_answering(duration),
            None => self.sleeper.sleep(duration),
        }
    }

    /// `future` as a task virtual time waits for: the clock does not move while it runs or is
    /// about to, only while it waits. Wrap a whole task's future (a run, a `for_each`
    /// element). On system time, the future itself.
    pub fn participate<F: Future>(&self, future: F) -> Participant<F> {
        match &self.virtual_time {
            Some(time) => time.participate(future),
            None => Participant::plain(future),
        }
    }

    /// Holds virtual time while something outside the participants is under way (a request,
    /// an answer from another thread, a result handed to the task that awaits it), so that
    /// nobody's deadline passes meanwhile. Drop it when that ends. Nothing on system time.
    pub fn in_flight(&self) -> InFlight {
        match &self.virtual_time {
            Some(time) => time.in_flight(),
            None => InFlight::none(),
        }
    }

    /// Lets other tasks run once this one has been busy for a while. On system time that is
    /// tokio's cooperative budget: the task yields after about a hundred steps without
    /// waiting, not at every call, because a yield costs the runtime a poll of its driver (a
    /// system call) and a task that waited on a request has let the others run already. On
    /// virtual time the caller yields at every call and stays runnable throughout, so the
    /// clock does not move under it while it yields.
    pub async fn cooperate(&self) {
        match &self.virtual_time {
            Some(_) => YieldNow::new().await,
            None => tokio::task::coop::consume_budget().await,
        }
    }
}

#[derive(Debug)]
struct SystemClock {
    origin: Instant,
}

impl Clock for SystemClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }
}

#[derive(Debug)]
struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A deterministic random source.
#[derive(Debug)]
pub struct SeededRandom(Mutex<fastrand::Rng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(fastrand::Rng::with_seed(seed)))
    }
}

impl Random for SeededRandom {
    fn unit(&self) -> f64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).f64()
    }
}

/// `at` moved `by` later; a sum past the last representable date stays at that date, so a
/// clock or deadline far in the future reads as "far in the future" rather than panicking.
pub fn saturating_after(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    at.saturating_add(time::Duration::try_from(by).unwrap_or(time::Duration::MAX))
}

/// `at` moved `by` earlier, stopping at the first representable date.
pub fn saturating_before(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    at.saturating_sub(time::Duration::try_from(by).unwrap_or(time::Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_saturates_instead_of_overflowing() {
        let (environment, time) =
            Environment::virtual_time(time::macros::datetime!(2026-03-04 05:06:07 UTC), 1);
        for _ in 0..3 {
            drop(environment.sleep(Duration::MAX));
        }
        time.advance(Duration::MAX);
        assert_eq!(environment.clock.elapsed(), Duration::MAX);
        let last = environment.clock.now_utc();
        assert!(last.year() >= 9999, "{last}");
        assert_eq!(time.sleeps().len(), 3);
    }

    /// A busy task on system time lets another task on its thread run within its budget,
    /// and not at every call.
    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_task_on_system_time_lets_others_run_but_not_at_every_call() {
        let environment = Environment::system();
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = tokio::spawn({
            let ran = ran.clone();
            async move { ran.store(true, std::sync::atomic::Ordering::SeqCst) }
        });
        let mut calls = 0;
        while !ran.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(calls < 10_000, "the other task never ran");
            environment.cooperate().await;
            calls += 1;
        }
        other.await.unwrap();
        assert!(calls > 10, "yielded after {calls} calls");
    }

    #[test]
    fn moving_a_date_by_any_duration_stays_in_the_calendar() {
        let now = time::macros::datetime!(2026-03-04 05:06:07 UTC);
        assert_eq!(
            saturating_after(now, Duration::from_secs(1)),
            time::macros::datetime!(2026-03-04 05:06:08 UTC)
        );
        assert!(saturating_after(now, Duration::MAX) > now);
        assert!(saturating_before(now, Duration::MAX) < now);
        assert_eq!(
            saturating_after(saturating_after(now, Duration::MAX), Duration::MAX),
            saturating_after(now, Duration::MAX)
        );
    }
}
