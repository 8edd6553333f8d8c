//! Holding a lock under a lease: the heartbeat that renews it, the fences that journal writes
//! carry, and the moment the holder must stop acting because the lease is, or may be, gone.
//!
//! The lease is the database's (its `now()` decides when it runs out); this process keeps a
//! conservative local copy, `valid_until`, measured from *before* each renewal was sent, so
//! the local copy always runs out first. When it does — renewals failed, or the process was
//! frozen past it — or the store says a newer holder exists, the holding is lost: the run
//! stops at once (no `finally`: the new holder goes on with the run) and the process exits 75.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use runbook_store::{Fence, Lease, RunStore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest `--lease`, `--heartbeat` or `--request-timeout` taken.
const MAX_TIMING: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a lock lasts without renewal, and how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    pub lease: Duration,
    pub heartbeat: Duration,
    /// The longest one request may take: a change is sent only while the lease outlasts it,
    /// and a holder taking over waits it out before looking at what the old holder did.
    pub request_timeout: Duration,
}

impl LeaseTiming {
    /// Refuses timings under which a holder could never send a change, or would lose its
    /// lease between two heartbeats.
    pub fn check(self) -> Result<LeaseTiming, String> {
        let show = |d: Duration| humantime::format_duration(d).to_string();
        if self.heartbeat.is_zero() || self.lease.is_zero() {
            return Err("--lease and --heartbeat must be longer than zero".to_owned());
        }
        if [self.lease, self.heartbeat, self.request_timeout]
            .iter()
            .any(|d| *d > MAX_TIMING)
        {
            return Err(format!(
                "--lease, --heartbeat and --request-timeout are at most {} (a lock held that long without renewal is a lock nobody can take over)",
                show(MAX_TIMING)
            ));
        }
        if self.heartbeat.saturating_mul(2) > self.lease {
            return Err(format!(
                "--heartbeat {} is too slow for --lease {}: renew at least twice per lease, so one late renewal does not lose the lock",
                show(self.heartbeat),
                show(self.lease)
            ));
        }
        if self.request_timeout.saturating_add(self.heartbeat) >= self.lease {
            return Err(format!(
                "--lease {} is too short: a request is sent only while the lease outlasts it (--request-timeout {}), even just before the next renewal (--heartbeat {}); make the lease longer than both together",
                show(self.lease),
                show(self.request_timeout),
                show(self.heartbeat)
            ));
        }
        Ok(self)
    }
}

/// A lock this process holds, kept alive by a heartbeat until [`Holding::release`].
pub struct Holding {
    store: Arc<dyn RunStore>,
    timing: LeaseTiming,
    state: Arc<Mutex<State>>,
    lost: CancellationToken,
    heartbeat: tokio::task::JoinHandle<()>,
}

struct State {
    lease: Lease,
    /// The run the store records as holding the lock (it changes at a handover).
    holder: String,
    /// When the lease runs out at the latest, by this process's clock.
    valid_until: Instant,
    /// Set while this process hands the lock to another run of its own: a renewal refused
    /// meanwhile was refused for the token being replaced, not lost to anyone.
    handing_over: bool,
    why_lost: Option<String>,
}

impl Holding {
    /// Starts renewing `lease`, granted by a request sent at `asked`.
    pub fn start(
        store: Arc<dyn RunStore>,
        lease: Lease,
        holder: String,
        asked: Instant,
        timing: LeaseTiming,
    ) -> Holding {
        let state = Arc::new(Mutex::new(State {
            lease,
            holder,
            valid_until: cut_short_after(asked, timing.lease),
            handing_over: false,
            why_lost: None,
        }));
        let lost = CancellationToken::new();
        let heartbeat = tokio::spawn(beat(
            Arc::clone(&store),
            Arc::clone(&state),
            lost.clone(),
            timing,
        ));
        Holding {
            store,
            timing,
            state,
            lost,
            heartbeat,
        }
    }

    pub fn timing(&self) -> LeaseTiming {
        self.timing
    }

    /// This process is about to hand the lock to the run it resumes ([`Holding::replace`]
    /// follows): the store then refuses renewals of the current token before this process
    /// learns the new one.
    pub fn hand_over(&self) {
        lock(&self.state).handing_over = true;
    }

    /// The lock is now held under `lease` by `holder` (a run handed the lock to the run it
    /// resumes).
    pub fn replace(&self, lease: Lease, holder: String, asked: Instant) {
        let mut state = lock(&self.state);
        state.lease = lease;
        state.holder = holder;
        state.valid_until = cut_short_after(asked, self.timing.lease);
        state.handing_over = false;
    }

    pub fn key(&self) -> String {
        lock(&self.state).lease.key.clone()
    }

    /// What an ordinary journal write carries: no newer holder may exist.
    pub fn fence(&self) -> Fence {
        Fence::of(&lock(&self.state).lease)
    }

    /// What the intent of a change carries: the lease must also outlast the request.
    pub fn intent_fence(&self) -> Fence {
        Fence {
            outlast: self.timing.request_timeout,
            ..self.fence()
        }
    }

    /// Whether, by this process's clock, the lease outlasts a request sent now. Checked
    /// before and after the intent is written: a process frozen in between must not send.
    pub fn outlasts_request(&self) -> bool {
        let valid_until = lock(&self.state).valid_until;
        Instant::now()
            .checked_add(self.timing.request_timeout)
            .is_some_and(|answered_by| answered_by < valid_until)
    }

    /// Renews now (the heartbeat's next beat may be too late for a change about to be sent).
    pub async fn renew_now(&self) {
        renew(&*self.store, &self.state, &self.lost, self.timing).await;
    }

    /// Cancelled when the lock is lost: stop acting at once.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Why the lock was lost, once it is.
    pub fn why_lost(&self) -> Option<String> {
        lock(&self.state).why_lost.clone()
    }

    /// The store refused a write under this holding: the lock is lost.
    pub fn lose(&self, why: String) {
        give_up(&self.state, &self.lost, why);
    }

    /// Stops renewing the lock and frees it, whichever run holds it now. (A lock that was
    /// lost is someone else's: the store releases only the holder's, and says so with
    /// `false`.)
    pub async fn release(&self) -> Result<bool, runbook_store::StoreError> {
        self.heartbeat.abort();
        let (key, holder) = {
            let state = lock(&self.state);
            (state.lease.key.clone(), state.holder.clone())
        };
        self.store.release_lock(&key, &holder).await
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// `duration` after `from`, cut to [`MAX_TIMING`]. [`LeaseTiming::check`] refuses longer
/// timings; one that skipped it must not overflow the clock, and cutting it only makes the
/// local copy of the lease run out, or the heartbeat beat, sooner.
fn cut_short_after(from: Instant, duration: Duration) -> Instant {
    from.checked_add(duration.min(MAX_TIMING)).unwrap_or(from)
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic elsewhere while holding this lock left plain data behind; it is still usable.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `token` is being, or has been, replaced by this process's own handover.
fn replacing(state: &Mutex<State>, token: i64) -> bool {
    let state = lock(state);
    state.handing_over || state.lease.token != token
}

fn give_up(state: &Mutex<State>, lost: &CancellationToken, why: String) {
    lock(state).why_lost.get_or_insert(why);
    lost.cancel();
}

/// Renews every `heartbeat`, and gives the lock up when the local copy of the lease runs out
/// before a renewal succeeds (so a frozen or cut-off process stops by its own clock too).
async fn beat(
    store: Arc<dyn RunStore>,
    state: Arc<Mutex<State>>,
    lost: CancellationToken,
    timing: LeaseTiming,
) {
    loop {
        let valid_until = lock(&state).valid_until;
        let next = cut_short_after(Instant::now(), timing.heartbeat).min(valid_until);
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = lost.cancelled() => return,
        }
        if Instant::now() >= lock(&state).valid_until {
            give_up(
                &state,
                &lost,
                "its lease ran out before it could be renewed".to_owned(),
            );
            return;
        }
        renew(&*store, &state, &lost, timing).await;
        if lost.is_cancelled() {
            return;
        }
    }
}

async fn renew(
    store: &dyn RunStore,
    state: &Mutex<State>,
    lost: &CancellationToken,
    timing: LeaseTiming,
) {
    let (key, token) = {
        let state = lock(state);
        (state.lease.key.clone(), state.lease.token)
    };
    let asked = Instant::now();
    // A renewal that hangs past the local lease changes nothing: the beat gives up then.
    let answer = tokio::time::timeout(timing.lease, store.renew_lock(&key, token, timing.lease));
    match answer.await {
        Ok(Ok(true)) => {
            let mut state = lock(state);
            // A handover may have replaced the lease meanwhile; its own time stands.
            if state.lease.token == token {
                state.valid_until = cut_short_after(asked, timing.lease);
            }
        }
        // Refused for a token this process is replacing or has replaced (a handover): not a
        // loss.
        Ok(Ok(false)) if replacing(state, token) => {}
        Ok(Ok(false)) => give_up(
            state,
            lost,
            "its lease ran out or was taken over by another process".to_owned(),
        ),
        // Unreachable for now: keep trying until the local copy of the lease runs out.
        Ok(Err(_)) | Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(lease: u64, heartbeat: u64, request: u64) -> LeaseTiming {
        LeaseTiming {
            lease: Duration::from_secs(lease),
            heartbeat: Duration::from_secs(heartbeat),
            request_timeout: Duration::from_secs(request),
        }
    }

    #[test]
    fn the_defaults_leave_room_for_a_request_between_renewals() {
        // --lease 60s, --heartbeat 15s, --request-timeout 30s (run.rs, README).
        assert!(timing(60, 15, 30).check().is_ok());
    }

    /// A holding on a real SQLite store, with 400 ms leases renewed every 100 ms.
    async fn held(dir: &std::path::Path) -> (Arc<dyn RunStore>, Holding) {
        held_with(
            dir,
            LeaseTiming {
                lease: Duration::from_millis(400),
                heartbeat: Duration::from_millis(100),
                request_timeout: Duration::from_millis(150),
            },
        )
        .await
    }

    async fn held_with(dir: &std::path::Path, timing: LeaseTiming) -> (Arc<dyn RunStore>, Holding) {
        let store: Arc<dyn RunStore> =
            Arc::new(runbook_store::SqliteStore::open(dir).await.unwrap());
        let asked = Instant::now();
        let outcome = store
            .acquire_lock("deploy", &holder("r1", "host-a"), timing.lease, &|_| true)
            .await
            .unwrap();
        let runbook_store::LockOutcome::Acquired { lease, .. } = outcome else {
            panic!("not acquired: {outcome:?}");
        };
        (
            Arc::clone(&store),
            Holding::start(store, lease, "r1".to_owned(), asked, timing),
        )
    }

    fn holder(run_id: &str, host: &str) -> runbook_store::LockHolder {
        runbook_store::LockHolder {
            run_id: run_id.to_owned(),
            host: host.to_owned(),
            pid: 1,
            since: "2026-12-02T10:00:00Z".to_owned(),
        }
    }

    #[tokio::test]
    async fn the_heartbeat_keeps_the_lock_past_many_leases() {
        let dir = tempfile::tempdir().unwrap();
        let (store, holding) = held(dir.path()).await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let other = store
            .acquire_lock(
                "deploy",
                &holder("r2", "host-b"),
                Duration::from_secs(1),
                &|_| true,
            )
            .await
            .unwrap();
        assert!(
            matches!(other, runbook_store::LockOutcome::Held(_)),
            "{other:?}"
        );
        assert!(!holding.lost().is_cancelled());
        assert!(holding.outlasts_request());
    }

    #[tokio::test]
    async fn a_holding_whose_lock_was_taken_over_is_lost_at_the_next_beat() {
        let dir = tempfile::tempdir().unwrap();
        let (store, holding) = held(dir.path()).await;
        // Someone else holds it now (as after an expiry and a takeover).
        assert!(store.release_lock("deploy", "r1").await.unwrap());
        store
            .acquire_lock(
                "deploy",
                &holder("r2", "host-b"),
                Duration::from_secs(5),
                &|_| true,
            )
            .await
            .unwrap();
        let lost = tokio::time::timeout(Duration::from_secs(2), holding.lost().cancelled()).await;
        assert!(lost.is_ok(), "the holding never noticed");
        let why = holding.why_lost().unwrap();
        assert!(why.contains("taken over"), "{why}");
    }

    #[tokio::test]
    async fn a_holding_that_cannot_renew_is_lost_when_its_own_copy_of_the_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, holding) = held(dir.path()).await;
        // Another process keeps the database locked: every renewal waits, none succeeds.
        let url = format!(
            "sqlite://{}",
            dir.path().join(runbook_store::DATABASE_FILE_NAME).display()
        );
        let mut other = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .unwrap();
        let lost = tokio::time::timeout(Duration::from_secs(3), holding.lost().cancelled()).await;
        assert!(lost.is_ok(), "the holding outlived its lease");
        assert!(!holding.outlasts_request());
    }

    #[tokio::test]
    async fn timings_past_any_clock_neither_overflow_nor_stretch_the_local_lease() {
        let dir = tempfile::tempdir().unwrap();
        let longest = LeaseTiming {
            lease: Duration::MAX,
            heartbeat: Duration::MAX,
            request_timeout: Duration::MAX,
        };
        let (_store, holding) = held_with(dir.path(), longest).await;
        holding.renew_now().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!holding.heartbeat.is_finished(), "the heartbeat died");
        assert!(!holding.lost().is_cancelled());
        assert!(!holding.outlasts_request(), "no request outlasts any lease");
        assert!(lock(&holding.state).valid_until <= Instant::now() + MAX_TIMING);
    }

    #[test]
    fn timings_that_could_never_send_a_change_or_keep_the_lock_are_refused() {
        let error = timing(30, 10, 30).check().unwrap_err();
        assert!(error.contains("--lease 30s is too short"), "{error}");
        let error = timing(60, 40, 10).check().unwrap_err();
        assert!(error.contains("renew at least twice"), "{error}");
        assert!(timing(0, 0, 0).check().is_err());
        let error = timing(u64::MAX / 4, 15, 30).check().unwrap_err();
        assert!(error.contains("at most 1day"), "{error}");
    }
}
