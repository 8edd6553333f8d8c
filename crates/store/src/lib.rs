//! The run store: every run (who, what, when, how it ended), its journal of events, and the
//! locks that keep two runs of one runbook from overlapping.
//!
//! [`RunStore`] is the interface, with two implementations of the same semantics:
//! [`SqliteStore`], embedded (one file, `runs.sqlite3`, in the state directory — see
//! [`default_state_dir`]) for runs on one host, and `PgStore` (cargo feature `postgres`), on
//! a PostgreSQL server that many hosts share. The checks in `tests/conformance` run against
//! both. The store knows runs, events and locks: never HTTP, the runner or the runbook
//! language. Events arrive as JSON values.
//!
//! # Nothing secret
//!
//! The store keeps what it is given, verbatim. Its callers hand it only redacted values: the
//! runner's `Redactor` replaces secrets before events exist, and the CLI leaves secret inputs
//! out of [`NewRun::inputs`]. The state directory is still created 0700 and the file 0600.
//! A PostgreSQL URL's password stays inside the connection pool: `PgStore`'s location, its
//! `Debug` and every error leave it out.
//!
//! # Schema (version 2)
//!
//! The same tables and columns on both backends, version for version:
//!
//! - `schema_version (version, applied_at)` — one row per migration applied. Each migration
//!   is applied exactly once however many processes open a new store at the same moment:
//!   SQLite applies them in `BEGIN IMMEDIATE`, PostgreSQL in a transaction that first takes
//!   the advisory lock `pg_advisory_xact_lock(0x7275_6e62_6f6f_6b6d)`; both read the version
//!   again inside. A store at a newer version than this program knows is refused
//!   ([`StoreError::NewerSchema`]). Shipped migrations are never edited.
//! - `runs` — one row per run: `run_id` (primary key, the caller's id), `runbook_name`,
//!   `runbook_path`, `runbook_digest`, `inputs` (JSON text, non-secret, as given),
//!   `lock_key` (nullable), `status` (`running` until finished), `started_at`,
//!   `finished_at` (nullable), `host`, `pid`, `error` (nullable), `exit_code` (nullable),
//!   and (v2) `fire_scope`, `fire_key` (nullable: the schedule fire the run is for).
//!   Indexed by `started_at`, by `(runbook_name, started_at)`, by `finished_at`, and (v2)
//!   uniquely by `(fire_scope, fire_key)` where `fire_key` is set: one run per fire.
//! - `events` — the journal: `(run_id, seq)` primary key (also the index replay reads by),
//!   `at`, `event` (JSON text, exactly as appended). `run_id` references `runs`.
//! - `locks` — `key` primary key, and its holder: `run_id`, `host`, `pid`, `since`, and (v2)
//!   `token` (the fencing token of this holding) and the lease's end (`lease_until_ms`,
//!   milliseconds since the epoch, on SQLite; `lease_until timestamptz` on PostgreSQL). No
//!   reference to `runs`: a run may take its lock before it is recorded (a run that finds the
//!   lock held may never be recorded at all).
//! - Fencing tokens come from one counter for all keys: the one-row table `fencing_tokens` on
//!   SQLite, the sequence `fencing_tokens` on PostgreSQL.
//!
//! Timestamps of runs, events and holders are TEXT, UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`: fixed
//! width, so text order is time order (callers may pass any RFC 3339 form; the store rewrites
//! it), and both backends return identical records. On PostgreSQL the text columns that are
//! sorted or compared are `COLLATE "C"`, so order and prefix lookups are byte order, as on
//! SQLite, whatever the database's collation.
//!
//! # Invariants
//!
//! - The journal is append-only: `seq` goes 1, 2, 3… per run with no gaps, each batch in one
//!   transaction; a trigger refuses any `UPDATE` of an event, another any `DELETE` of the
//!   events of a run that has not finished. Only [`RunStore::prune`] deletes, and only
//!   finished runs with their events.
//! - An append with `durable = true` is on disk before it returns (and with it everything
//!   committed before). Other writes survive the process crashing but may be lost with the
//!   machine's power: on SQLite, as WAL with `synchronous = NORMAL` promises; on PostgreSQL,
//!   a non-durable append commits with `SET LOCAL synchronous_commit = off` (the server's
//!   crash may lose its last moments of such commits), everything else with the server's
//!   default (`on`: durable).
//! - A lock has at most one holder, under a lease that runs out by the database's clock
//!   (SQLite's is this host's; PostgreSQL's is the server's `clock_timestamp()`, never a
//!   client's). Of processes racing for a key exactly one wins: SQLite reads and writes in one
//!   `BEGIN IMMEDIATE` transaction; PostgreSQL locks the key's row (`SELECT … FOR UPDATE`),
//!   and a key without a row is taken by `INSERT … ON CONFLICT DO NOTHING`, so of racers that
//!   all found none exactly one inserts and the others then lock and read its row. A holder is
//!   replaced only when its lease ran out or the caller's `is_alive` says it is gone; only the
//!   holder's run releases it.
//! - Each new holding gets a fencing token from the counter: greater than every token of the
//!   same key before it, and than every token handed out before it at all (on PostgreSQL,
//!   two keys taken at the same moment may commit in the other order than their tokens).
//!   A fenced write (append, finish) checks in its own transaction that the token still holds
//!   the lock and the lease outlasts what the writer is about to do; on PostgreSQL it
//!   share-locks the lock's row until it commits, so no takeover can slip in between.
//! - Schedule fires: the unique index makes the first `begin_run` of a fire win, on any
//!   number of hosts; the others get [`StoreError::FireTaken`] naming it.
//! - Waiting: every SQLite statement waits up to the busy timeout (10 s) for other processes'
//!   locks, then fails with [`StoreError::Busy`]. PostgreSQL transactions run `READ
//!   COMMITTED` and wait up to `lock_timeout` (10 s) for another session's row lock, then fail
//!   with [`StoreError::Unreachable`] ("try later"); a deadlock or serialization failure
//!   (SQLSTATE `40P01`, `40001`) is retried a few times after a short random pause and never
//!   reported unless it persists. Nothing else is retried silently.
//! - PostgreSQL failures are classified: a malformed URL, a refused login, a missing
//!   database, an unusable `sslrootcert` or a failed TLS handshake is
//!   [`StoreError::Config`] (trying again will not help); no server at the address or
//!   socket, no answer within the connect timeout, a name that does not resolve, a server
//!   shutting down or starting up, no pooled connection in time is
//!   [`StoreError::Unreachable`].
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
mod rows;
mod sqlite;
mod store;
mod time_format;

pub use error::{StoreError, TakenFire};
pub use host::{default_state_dir, host_name, process_is_alive, HOST_ENV};
pub use model::{
    Fence, Fire, Gone, Lease, LockHolder, LockOutcome, NewEvent, NewRun, Previous, RunFilter,
    RunRecord, RUNNING,
};
#[cfg(feature = "postgres")]
pub use postgres::{
    PgOptions, PgStore, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_IN_TRANSACTION, DEFAULT_LOCK_TIMEOUT,
};
pub use sqlite::{SqliteOptions, SqliteStore, DATABASE_FILE_NAME, DEFAULT_BUSY_TIMEOUT};
pub use store::RunStore;
