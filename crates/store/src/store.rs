//! [`RunStore`]: what the runner and the CLI need from a run store, whatever the backend.

use std::time::Duration;

use async_trait::async_trait;

use crate::{Fence, LockHolder, LockOutcome, NewEvent, NewRun, RunFilter, RunRecord, StoreError};

/// Runs, their journal of events, and the locks against overlapping runs.
///
/// Implemented by [`SqliteStore`](crate::SqliteStore) (one host) and `PgStore` (feature
/// `postgres`: many hosts sharing one database). The trait is object safe
/// (`Arc<dyn RunStore>`): its methods are `async fn`s made into boxed `Send` futures by
/// `async-trait`, because native `async fn` in traits cannot be called through `dyn`.
///
/// Timestamps go in as RFC 3339 in any offset and come out in UTC with six fractional
/// digits. The store keeps what it is given: callers (the runner's `Redactor`) remove
/// secrets before events and inputs get here.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Where the store is, for messages: the file's path, or the URL without its password.
    fn location(&self) -> String;

    /// Records a new run with status [`RUNNING`](crate::RUNNING).
    /// [`StoreError::DuplicateRun`] if the id is taken; [`StoreError::FireTaken`] if
    /// [`NewRun::fire`] names a fire another run already has (then nothing is recorded).
    async fn begin_run(&self, run: &NewRun) -> Result<(), StoreError>;

    /// Takes the lock `key` for `holder` under a lease of `lease` from now by the database's
    /// clock, atomically: free → taken; held under a lease that has run out, or by a holder
    /// that `is_alive` says is gone → taken over (the old holder and why it counted as gone
    /// are in the outcome); held by a live holder → [`LockOutcome::Held`], nothing changed.
    /// The same run asking again gets `Acquired` with the same token, its lease extended,
    /// and keeps its original `since`.
    ///
    /// Every new holding gets a fencing token greater than any handed out before. Of any
    /// number of processes racing for one key, exactly one gets `Acquired`. `is_alive` is
    /// called at most once, inside the store's write transaction: keep it quick. The CLI's
    /// is `|h| h.host != this_host || process_is_alive(h.pid)`: a holder on another host
    /// cannot be checked from here, so only its lease can say it is gone.
    ///
    /// (`for<'h>` is spelled out because `async-trait` would otherwise tie the closure's
    /// argument to the method's lifetimes; any `Fn(&LockHolder) -> bool` closure fits.)
    async fn acquire_lock(
        &self,
        key: &str,
        holder: &LockHolder,
        lease: Duration,
        is_alive: &(dyn for<'h> Fn(&'h LockHolder) -> bool + Sync),
    ) -> Result<LockOutcome, StoreError>;

    /// Extends the lease of the holding with `token` to `lease` from now (database clock).
    /// `false` when that holding is over — its lease ran out or a newer holder exists — and
    /// then nothing changes: a lease that ran out is never revived, because its holder must
    /// already have stopped acting.
    async fn renew_lock(&self, key: &str, token: i64, lease: Duration) -> Result<bool, StoreError>;

    /// Releases `key` if `run_id` holds it; `true` if it did, `false` if the lock was free
    /// or someone else's (a taken-over lock is never released by its old holder).
    async fn release_lock(&self, key: &str, run_id: &str) -> Result<bool, StoreError>;

    /// Appends `events` to the run's journal in one transaction, numbered on from the last
    /// (`seq` 1, 2, …). Each event's `at` is [`NewEvent::at`] when that is an RFC 3339
    /// string, else the time of the append. With `durable`, the commit is on disk (fsynced) before
    /// this returns — for the intent of a request that changes something; without, it
    /// survives this process crashing but maybe not the machine losing power.
    /// [`StoreError::UnknownRun`] for a run never begun.
    ///
    /// With a `fence`, the append happens only if the fence holds, checked in the same
    /// transaction; otherwise [`StoreError::Fenced`] and nothing is written.
    async fn append(
        &self,
        run_id: &str,
        events: &[NewEvent],
        durable: bool,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError>;

    /// Opens ahead of time what [`append`](Self::append) uses, so that the first append —
    /// often the intent of a request, which waits for it — does not pay for opening it.
    /// Never needed: an append opens what it needs itself, and reports what fails then.
    async fn prepare_appends(&self) {}

    /// Records the run's end. [`StoreError::UnknownRun`] for a run never begun; with a
    /// `fence` that does not hold, [`StoreError::Fenced`] and nothing changes.
    async fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        exit_code: i32,
        finished_at: &str,
        error: Option<&str>,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError>;

    /// Records `host` and `pid` as the process of a run that has not finished, so that from
    /// now on the run's record names the process that is actually carrying it on: a run
    /// resumed after its process crashed is owned by the resuming process, and whoever asks
    /// whether the run is still alive must look at that one, not at the dead one. (The lock,
    /// if the run has one, is a separate record: take it over with
    /// [`acquire_lock`](Self::acquire_lock).)
    ///
    /// [`StoreError::RunFinished`] for a run that has finished: its outcome is recorded and
    /// final, so resuming it would run steps whose result nobody will ever read.
    /// [`StoreError::UnknownRun`] for a run never begun.
    async fn claim_run(&self, run_id: &str, host: &str, pid: u32) -> Result<(), StoreError>;

    /// Runs matching `filter`, newest first (by `started_at`, then id).
    ///
    /// [`RunFilter::lock_key`] with [`RunFilter::active_since`] answer the question a run
    /// resuming after a crash has to ask: which other runs under the same lock were
    /// unfinished, or ended, while it was away — they may have changed what it was changing.
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError>;

    /// The run with this id, or with an id starting with it when exactly one does;
    /// [`StoreError::AmbiguousRunId`] when several do, `None` when none does.
    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError>;

    /// The run's journal in `seq` order, each event as appended.
    /// [`StoreError::UnknownRun`] for a run the store does not have.
    async fn events(&self, run_id: &str) -> Result<Vec<serde_json::Value>, StoreError>;

    /// The schema version the store is at (migrations run when it is opened).
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// Deletes the runs that finished before `finished_before` (RFC 3339), with their
    /// journals; running runs are never deleted. Returns how many runs were deleted.
    async fn prune(&self, finished_before: &str) -> Result<u64, StoreError>;
}
