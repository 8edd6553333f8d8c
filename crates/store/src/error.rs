//! [`StoreError`]: every failure names the store's file and says what to do.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong in the run store.
///
/// Messages name the database file (or state directory) and, where there is one, the remedy,
/// so the CLI can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory could not be created.
    #[error(
        "cannot create the state directory {path}: {source}; point --state-dir or \
         RUNBOOK_STATE_DIR at a writable local directory"
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The database file could not be created or opened.
    #[error(
        "cannot open the run store {path}: {detail}; check that the file is readable and \
         writable by this user, or point --state-dir at another directory"
    )]
    Open { path: PathBuf, detail: String },

    /// Another process kept the database locked for longer than the busy timeout.
    #[error(
        "the run store at {path} is locked by another process for more than {} s (while \
         {doing}); another runbook process may be stuck, or the state directory is on a \
         network file system, which SQLite does not support: use a local directory",
        .waited.as_secs_f64()
    )]
    Busy {
        path: PathBuf,
        doing: &'static str,
        waited: Duration,
    },

    /// The database was written by a newer version of this program.
    #[error(
        "the run store at {path} has schema version {found}, newer than this runbook \
         understands ({supported}); upgrade runbook, or use another --state-dir"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// Any other database failure.
    #[error("the run store at {path} failed while {doing}: {source}")]
    Database {
        path: PathBuf,
        doing: &'static str,
        source: sqlx::Error,
    },

    /// A stored value could not be read back (the file was edited or damaged).
    #[error("the run store at {path} holds an unreadable {what} for run {run_id}: {detail}")]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        run_id: String,
        detail: String,
    },

    /// A timestamp handed to the store is not RFC 3339.
    #[error("{field} is not an RFC 3339 timestamp: {value:?}")]
    InvalidTimestamp { field: &'static str, value: String },

    /// `begin_run` with an id the store already has.
    #[error("a run with id {run_id} is already in the run store at {path}")]
    DuplicateRun { path: PathBuf, run_id: String },

    /// An operation on a run the store does not have.
    #[error("no run {run_id} in the run store at {path}")]
    UnknownRun { path: PathBuf, run_id: String },

    /// `claim_run` on a run that has already finished: its outcome is recorded, so there is
    /// nothing left to resume.
    #[error(
        "run {run_id} in the run store at {path} has already finished ({status}); a finished \
         run cannot be resumed: start a new run instead"
    )]
    RunFinished {
        path: PathBuf,
        run_id: String,
        status: String,
    },

    /// A run-id prefix that matches more than one run.
    #[error("{prefix:?} matches several runs in {path} ({}, …); give more of the id", .examples.join(", "))]
    AmbiguousRunId {
        path: PathBuf,
        prefix: String,
        examples: Vec<String>,
    },
}
