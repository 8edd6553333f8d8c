//! The run store: every run (who, what, when, how it ended), its journal of events, and the
//! locks that keep two runs of one runbook from overlapping.
//!
//! [`RunStore`] is the interface, [`SqliteStore`] the embedded implementation (one file,
//! `runs.sqlite3`, in the state directory — see [`default_state_dir`]); a PostgreSQL store
//! is meant to be a second implementation of the trait. The store knows runs, events and
//! locks: never HTTP, the runner or the runbook language. Events arrive as JSON values.
//!
//! # Nothing secret
//!
//! The store keeps what it is given, verbatim. Its callers hand it only redacted values: the
//! runner's `Redactor` replaces secrets before events exist, and the CLI leaves secret inputs
//! out of [`NewRun::inputs`]. The state directory is still created 0700 and the file 0600.
//!
//! # Schema (version 1)
//!
//! - `schema_version (version, applied_at)` — one row per migration applied. Migrations run
//!   in `BEGIN IMMEDIATE` and re-read the version inside it, so processes opening a new store
//!   at the same moment apply each migration exactly once.
//! - `runs` — one row per run: `run_id` (primary key, the caller's id), `runbook_name`,
//!   `runbook_path`, `runbook_digest`, `inputs` (JSON text, non-secret, as given),
//!   `lock_key` (nullable), `status` (`running` until finished), `started_at`,
//!   `finished_at` (nullable), `host`, `pid`, `error` (nullable), `exit_code` (nullable).
//!   Indexed by `started_at`, by `(runbook_name, started_at)` and by `finished_at`.
//! - `events` — the journal: `(run_id, seq)` primary key (also the index replay reads by),
//!   `at`, `event` (JSON text, exactly as appended). `run_id` references `runs`.
//! - `locks` — `key` primary key, and its holder: `run_id`, `host`, `pid`, `since`. No
//!   reference to `runs`: a run may take its lock before it is recorded (a run that finds the
//!   lock held may never be recorded at all).
//!
//! Timestamps are TEXT, UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`: fixed width, so text order is
//! time order (callers may pass any RFC 3339 form; the store rewrites it).
//!
//! # Invariants
//!
//! - The journal is append-only: `seq` goes 1, 2, 3… per run with no gaps, each batch in one
//!   transaction; a trigger refuses any `UPDATE` of an event, another any `DELETE` of the
//!   events of a run that has not finished. Only [`RunStore::prune`] deletes, and only
//!   finished runs with their events.
//! - An append with `durable = true` is fsynced before it returns (and with it everything
//!   committed before); other writes survive the process crashing but may be lost with the
//!   machine's power, as WAL with `synchronous = NORMAL` promises.
//! - A lock has at most one holder. Acquisition reads and writes in one `BEGIN IMMEDIATE`
//!   transaction, so of processes racing for a key exactly one wins. A holder is replaced only
//!   when the caller's `is_alive` says it is gone; only the holder's run releases it.
//! - Every statement waits up to the busy timeout (10 s) for other processes' locks, then
//!   fails with [`StoreError::Busy`]; nothing is retried silently after that.
//!
//! # Async style
//!
//! The trait uses `async-trait` (boxed `Send` futures), because the CLI holds an
//! `Arc<dyn RunStore>` and native `async fn` in traits is not object safe. Queries are sqlx's
//! runtime `query` functions (no compile-time macros), so building needs no database.

mod error;
mod host;
mod lease;
mod model;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
mod store;
mod time_format;

pub use error::{StoreError, TakenFire};
pub use host::{default_state_dir, host_name, process_is_alive, HOST_ENV};
pub use model::{
    Fence, Fire, Gone, Lease, LockHolder, LockOutcome, NewRun, Previous, RunFilter, RunRecord,
    RUNNING,
};
#[cfg(feature = "postgres")]
pub use postgres::{
    PgOptions, PgStore, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, LOCK_TIMEOUT,
};
pub use sqlite::{SqliteOptions, SqliteStore, DATABASE_FILE_NAME, DEFAULT_BUSY_TIMEOUT};
pub use store::RunStore;
