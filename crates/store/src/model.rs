//! The values the store takes and gives: runs, lock holders, filters.

use serde::{Deserialize, Serialize};

/// The status a run has from `begin_run` until `finish_run`; `prune` never deletes it.
pub const RUNNING: &str = "running";

/// A run as it starts: what `begin_run` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// The caller's id for the run (the CLI makes a UUIDv7).
    pub run_id: String,
    pub runbook_name: String,
    pub runbook_path: String,
    /// A digest of the runbook's text, so a resumed run can tell the file changed.
    pub runbook_digest: String,
    /// The inputs as given, without secrets (the caller leaves them out or masks them).
    pub inputs: serde_json::Value,
    /// The lock key this run took, if it took one.
    pub lock_key: Option<String>,
    /// RFC 3339; stored in UTC with six fractional digits.
    pub started_at: String,
    pub host: String,
    pub pid: u32,
}

/// A run as the store has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub runbook_name: String,
    pub runbook_path: String,
    pub runbook_digest: String,
    pub inputs: serde_json::Value,
    pub lock_key: Option<String>,
    /// [`RUNNING`] until `finish_run`, then whatever status it was given.
    pub status: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub started_at: String,
    /// UTC, as `started_at`; `None` while running.
    pub finished_at: Option<String>,
    pub host: String,
    pub pid: u32,
    pub error: Option<String>,
    pub exit_code: Option<i32>,
}

/// Who holds (or asks for) a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    /// When the lock was taken: RFC 3339, stored in UTC with six fractional digits.
    pub since: String,
}

/// The answer of `acquire_lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// The caller holds the lock now. `took_over_from` is the previous holder when it was
    /// found dead (its run may need marking as abandoned, or resuming).
    Acquired { took_over_from: Option<LockHolder> },
    /// A live holder has it; nothing was changed.
    Held(LockHolder),
}

/// Which runs `list_runs` returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs of the runbook with this `name`.
    pub runbook_name: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// At most this many; `None` for all.
    pub limit: Option<u32>,
    /// Only runs recorded with this lock key: the runs that could have overlapped one
    /// another, so a run resuming after a crash can find its unfinished siblings.
    pub lock_key: Option<String>,
    /// RFC 3339. Only runs still running at or after this time: unfinished ones, and those
    /// that finished at or after it (`finished_at IS NULL OR finished_at >= since`).
    pub active_since: Option<String>,
}
