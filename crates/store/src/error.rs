//! [`StoreError`]: every failure names the store (its file, or its URL without the password)
//! and says what to do.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong in the run store.
///
/// Messages name the store — `at` is the SQLite file's path or the PostgreSQL URL with its
/// password left out — and, where there is one, the remedy, so the CLI can print them as
/// they are.
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

    /// The store's address or credentials are wrong (a malformed URL, a password the server
    /// refuses, a database that does not exist): trying again will not help.
    #[error("the run store {at} cannot be used: {reason}; fix --store or RUNBOOK_STORE")]
    Config { at: String, reason: String },

    /// The store's server cannot be reached now (refused, timed out, shutting down): trying
    /// again later may work.
    #[error("the run store {at} cannot be reached: {reason}; try again later")]
    Unreachable { at: String, reason: String },

    /// The database was written by a newer version of this program.
    #[error(
        "the run store at {at} has schema version {found}, newer than this runbook \
         understands ({supported}); upgrade runbook, or use another store"
    )]
    NewerSchema {
        at: String,
        found: i64,
        supported: i64,
    },

    /// Any other database failure.
    #[error("the run store at {at} failed while {doing}: {detail}")]
    Database {
        at: String,
        doing: &'static str,
        detail: String,
    },

    /// A stored value could not be read back (the store was edited or damaged).
    #[error("the run store at {at} holds an unreadable {what} for run {run_id}: {detail}")]
    Corrupt {
        at: String,
        what: &'static str,
        run_id: String,
        detail: String,
    },

    /// A timestamp handed to the store is not RFC 3339.
    #[error("{field} is not an RFC 3339 timestamp: {value:?}")]
    InvalidTimestamp { field: &'static str, value: String },

    /// `begin_run` with an id the store already has.
    #[error("a run with id {run_id} is already in the run store at {at}")]
    DuplicateRun { at: String, run_id: String },

    /// `begin_run` for a schedule fire that another run already has.
    #[error(
        "fire `{}` of `{}` is already taken by run {} (on {}, started {})",
        .0.key, .0.scope, .0.run_id, .0.host, .0.started_at
    )]
    FireTaken(Box<TakenFire>),

    /// A write whose fence does not hold: a newer holder has the lock, or the writer's lease
    /// is gone or too short for what it is about to do. Nothing was written.
    #[error("the run store at {at} refused a write under lock `{key}`: {detail}")]
    Fenced {
        at: String,
        key: String,
        detail: String,
    },

    /// An operation on a run the store does not have.
    #[error("no run {run_id} in the run store at {at}")]
    UnknownRun { at: String, run_id: String },

    /// `claim_run` on a run that has already finished: its outcome is recorded, so there is
    /// nothing left to resume.
    #[error(
        "run {run_id} in the run store at {at} has already finished ({status}); a finished \
         run cannot be resumed: start a new run instead"
    )]
    RunFinished {
        at: String,
        run_id: String,
        status: String,
    },

    /// A run-id prefix that matches more than one run.
    #[error("{prefix:?} matches several runs in {at} ({}, …); give more of the id", .examples.join(", "))]
    AmbiguousRunId {
        at: String,
        prefix: String,
        examples: Vec<String>,
    },
}

/// Which run has a schedule fire (boxed in [`StoreError::FireTaken`]: errors stay small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenFire {
    pub at: String,
    pub scope: String,
    pub key: String,
    pub run_id: String,
    pub host: String,
    pub started_at: String,
}

impl StoreError {
    /// Whether trying the same thing later may succeed: the store was busy or unreachable.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            StoreError::Busy { .. } | StoreError::Unreachable { .. }
        )
    }
}
