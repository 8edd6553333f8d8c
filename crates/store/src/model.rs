//! The values the store takes and gives: runs, lock holders, filters.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The status a run has from `begin_run` until `finish_run`; `prune` never deletes it.
pub const RUNNING: &str = "running";

/// An event as the journal hands it over: the JSON object already written out as text (it is
/// serialised once, where it happens, not held as a tree) and its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// RFC 3339, normally the event's own `ts`; `None`, or a time that does not parse,
    /// means the time of the append.
    pub at: Option<String>,
    /// One JSON object. The store keeps it as it is, and reads it back as JSON.
    pub json: String,
}

impl NewEvent {
    /// An event held as a JSON value, timed by its `ts` field.
    pub fn from_value(value: &serde_json::Value) -> Self {
        Self {
            at: value
                .get("ts")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            json: value.to_string(),
        }
    }
}

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
    /// The schedule fire this run is for: of all runs given the same one, only the first is
    /// recorded (`begin_run` fails with [`StoreError::FireTaken`](crate::StoreError::FireTaken)).
    pub fire: Option<Fire>,
}

/// One fire of a schedule: `key` names it (the scheduled minute, or the window it falls in),
/// `scope` says whose schedule it is (the CLI uses the runbook's lock key, so the same
/// runbook against the same target shares fires across hosts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fire {
    pub scope: String,
    pub key: String,
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
    /// The schedule fire it was started for (`--fire-key`), if any.
    pub fire_key: Option<String>,
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
    /// The caller holds the lock now, under `lease`. `took_over_from` is the previous holder
    /// when it was found gone (its run may need resuming).
    Acquired {
        lease: Lease,
        took_over_from: Option<Previous>,
    },
    /// A live holder has it; nothing was changed.
    Held(LockHolder),
}

/// A held lock: what its holder renews ([`RunStore::renew_lock`](crate::RunStore::renew_lock))
/// and what fences its writes ([`Fence`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    /// The fencing token: unique to this holding of the lock, and greater than every token
    /// handed out before it (by any key), so a newer holder always has a greater one.
    pub token: i64,
}

/// A holder that was replaced, and why it counted as gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub holder: LockHolder,
    pub gone: Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Its lease ran out by the database's clock: the process may still be alive somewhere
    /// (frozen, cut off), and a request it sent just before may still be in flight.
    LeaseExpired,
    /// The caller's `is_alive` said its process has ended: nothing of it is in flight.
    ProcessGone,
}

/// What a journal write must prove about the writer's lease: that `token` still holds the
/// lock `key` (no newer holder exists) and that the lease has at least `outlast` left by the
/// database's clock. A write that cannot prove it is refused with
/// [`StoreError::Fenced`](crate::StoreError::Fenced), and writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub key: String,
    pub token: i64,
    /// Zero for ordinary events; a request's timeout for the intent written before it, so a
    /// request is sent only while the lease outlasts it.
    pub outlast: Duration,
}

impl Fence {
    /// The fence of `lease` for writes that need only that no newer holder exists.
    pub fn of(lease: &Lease) -> Fence {
        Fence {
            key: lease.key.clone(),
            token: lease.token,
            outlast: Duration::ZERO,
        }
    }
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
