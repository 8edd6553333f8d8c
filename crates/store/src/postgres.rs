//! [`PgStore`]: the run store on a PostgreSQL server, shared by every host that runs runbooks
//! against it.
//!
//! The same semantics as [`SqliteStore`](crate::SqliteStore), kept by other means: SQLite has
//! one writer at a time, PostgreSQL many. Every transaction here is `READ COMMITTED` and
//! takes row locks (`SELECT … FOR UPDATE` / `FOR SHARE`, or the unique index of an `INSERT`)
//! on exactly the rows its decision rests on, always in the same order (a lock's row before a
//! run's), and re-reads after waiting. Deadlocks and serialization failures are retried.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow, PgSslMode};
use sqlx::{Connection, Row};

use crate::lease::{lease_too_short, millis};
use crate::time_format::{self, normalize};
use crate::{
    Fence, Gone, Lease, LockHolder, LockOutcome, NewRun, Previous, RunFilter, RunRecord, RunStore,
    StoreError, TakenFire, RUNNING,
};

/// How long [`PgStore::connect`] waits for the server to answer (name lookup, TCP or socket
/// connection, TLS, login) before [`StoreError::Unreachable`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an operation waits for a pooled connection (opening one if needed) before
/// [`StoreError::Unreachable`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a statement waits for another session's row lock before
/// [`StoreError::Unreachable`] (the server's `lock_timeout`, as SQLite's busy timeout): the
/// transactions here are short, so a longer wait means a session is stuck.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations, in order: entry `i` brings the schema to version `i + 1`. Never edit one
/// that has shipped; add the next. The versions match SQLite's: version `n` has the same
/// tables and columns on both backends.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2];

/// The key of the transaction-level advisory lock that migrations take, so that of several
/// hosts migrating one database at the same moment one applies each migration and the
/// others wait and find it done. ASCII "runbookm".
const MIGRATION_LOCK: i64 = 0x7275_6e62_6f6f_6b6d;

/// Version 1, as SQLite's: runs, the append-only journal, and locks. Text columns that are
/// compared or sorted are `COLLATE "C"` (byte order), so ordering and prefix lookups give
/// exactly what SQLite gives, whatever the database's default collation.
const SCHEMA_V1: &str = r#"
CREATE TABLE runs (
    run_id         TEXT COLLATE "C" PRIMARY KEY,
    runbook_name   TEXT COLLATE "C" NOT NULL,
    runbook_path   TEXT NOT NULL,
    runbook_digest TEXT NOT NULL,
    inputs         TEXT NOT NULL,
    lock_key       TEXT COLLATE "C",
    status         TEXT COLLATE "C" NOT NULL,
    started_at     TEXT COLLATE "C" NOT NULL,
    finished_at    TEXT COLLATE "C",
    host           TEXT NOT NULL,
    pid            BIGINT NOT NULL,
    error          TEXT,
    exit_code      INTEGER
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_runbook ON runs (runbook_name, started_at);
CREATE INDEX runs_by_finish ON runs (finished_at);

CREATE TABLE events (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id),
    seq    BIGINT NOT NULL,
    at     TEXT COLLATE "C" NOT NULL,
    event  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE FUNCTION runbook_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: an event is never changed';
END
$$;
CREATE TRIGGER events_are_append_only BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION runbook_events_are_append_only();

CREATE FUNCTION runbook_events_of_unfinished_runs_stay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT finished_at IS NULL OR status = 'running' FROM runs WHERE run_id = OLD.run_id) THEN
        RAISE EXCEPTION 'the journal of a running run is never deleted';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER events_of_unfinished_runs_stay BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION runbook_events_of_unfinished_runs_stay();

CREATE TABLE locks (
    key    TEXT COLLATE "C" PRIMARY KEY,
    run_id TEXT NOT NULL,
    host   TEXT NOT NULL,
    pid    BIGINT NOT NULL,
    since  TEXT NOT NULL
);
"#;

/// Version 2, as SQLite's: schedule fires (one run per fire) and leased locks with fencing
/// tokens. The lease is a `timestamptz` compared with the server's clock; lock rows from
/// before it get a lease that ran out long ago, so the next run takes them over.
const SCHEMA_V2: &str = r#"
ALTER TABLE runs ADD COLUMN fire_scope TEXT COLLATE "C", ADD COLUMN fire_key TEXT COLLATE "C";
CREATE UNIQUE INDEX runs_by_fire ON runs (fire_scope, fire_key) WHERE fire_key IS NOT NULL;

ALTER TABLE locks ADD COLUMN token BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN lease_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch';

CREATE SEQUENCE fencing_tokens AS BIGINT MINVALUE 1;
"#;

/// The name of the unique index that keeps one run per schedule fire.
const FIRE_INDEX: &str = "runs_by_fire";

/// The columns of `runs`, in `concat!` so every query stays a `&'static str` (no SQL is ever
/// built from values).
macro_rules! run_columns {
    () => {
        "run_id, runbook_name, runbook_path, runbook_digest, inputs, lock_key, status, \
         started_at, finished_at, host, pid, error, exit_code, fire_key"
    };
}

/// `$n` milliseconds from now by the server's clock. `clock_timestamp()`, not `now()`:
/// `now()` stands still at the start of the transaction, and a transaction may have waited
/// for a row lock since.
macro_rules! from_now {
    ($param:literal) => {
        concat!(
            "clock_timestamp() + ",
            $param,
            "::bigint * interval '1 millisecond'"
        )
    };
}

/// The longest lease the server is asked for (about 31 years): longer ones are as good as
/// endless, and a timestamp far enough out would overflow.
const MAX_LEASE_MS: i64 = 1_000_000_000_000;

/// How often a transaction that failed on a deadlock or a serialization failure is tried
/// again before the error is reported.
const CONFLICT_RETRIES: u32 = 5;

/// How [`PgStore::connect_with`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// How long connecting may take ([`DEFAULT_CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// How long an operation waits for a pooled connection ([`DEFAULT_ACQUIRE_TIMEOUT`]).
    pub acquire_timeout: Duration,
    /// How long a statement waits for another session's row lock
    /// ([`DEFAULT_LOCK_TIMEOUT`]), unless the URL's `options` set `lock_timeout`.
    pub lock_timeout: Duration,
    /// At most this many connections to the server (4).
    pub max_connections: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            max_connections: 4,
        }
    }
}

/// The run store in a PostgreSQL database, for runs on many hosts at once.
///
/// Opened from a URL that sqlx accepts: `postgres://user:password@host:port/database`,
/// `?host=/run/postgresql` for a Unix socket, `sslmode`, `sslrootcert` and the rest. TLS is
/// rustls. The URL's password is kept only inside the connection pool: [`location`]
/// (`RunStore::location`), every error and this type's `Debug` leave it out.
///
/// [`location`]: RunStore::location
#[derive(Clone)]
pub struct PgStore {
    /// The URL without its password, for messages.
    at: String,
    /// The server as reasons name it: `host:port`, or the socket's path.
    place: String,
    /// The socket's path, when the connection is over a Unix socket.
    socket: Option<String>,
    /// The timeouts, for messages.
    options: PgOptions,
    pool: PgPool,
}

/// Shows where the store is and nothing else: the pool's options hold the password.
impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.at)
            .finish_non_exhaustive()
    }
}

/// A failed attempt: a database error (retried when it is a conflict), or a decided answer.
enum Failure {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Failure::Sql(err)
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::Store(err)
    }
}

impl PgStore {
    /// Connects with the default options: see [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, &PgOptions::default()).await
    }

    /// Connects to the database at `url`, checks that it can log in, and brings the schema
    /// to this version ([`migrate`](Self::migrate)); safe when several hosts connect to a new
    /// database at once. Further connections are opened as needed, at most
    /// `max_connections`.
    ///
    /// [`StoreError::Config`] for what trying again will not fix: a malformed URL, a login
    /// the server refuses, a database that does not exist, an unusable `sslrootcert`, a
    /// failed TLS handshake. [`StoreError::Unreachable`] for what may pass: no server at that
    /// address or socket, no answer within the connect timeout, a name that does not
    /// resolve, a server shutting down or starting up.
    pub async fn connect_with(url: &str, options: &PgOptions) -> Result<PgStore, StoreError> {
        let target = Target::parse(url, options)?;
        target.check_root_cert(url)?;
        let at = target.at.clone();
        let place = target.place.clone();
        let classify =
            |doing, err| classify(&at, &place, target.socket.as_deref(), options, doing, err);

        let connecting = PgConnection::connect_with(&target.options);
        let mut setup = match tokio::time::timeout(options.connect_timeout, connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(err)) => return Err(target.scrub(classify("connecting", err))),
            Err(_) => {
                return Err(StoreError::Unreachable {
                    at,
                    reason: format!(
                        "{place} did not answer within {} s",
                        options.connect_timeout.as_secs_f64()
                    ),
                })
            }
        };
        let migrated = migrate(&mut setup, &at)
            .await
            .map_err(|failure| match failure {
                Failure::Sql(err) => classify("migrating the schema", err),
                Failure::Store(err) => err,
            });
        // The setup connection's work is committed or failed; closing it cannot lose anything.
        let _ = setup.close().await;
        migrated?;

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(target.options);
        Ok(PgStore {
            at,
            place,
            socket: target.socket,
            options: options.clone(),
            pool,
        })
    }

    /// Brings the schema to this version and returns it. [`connect`](Self::connect) already
    /// does; this is for saying so (`runbook store migrate`). Each migration is applied in a
    /// transaction that first takes an advisory lock and reads the version again, so it is
    /// applied exactly once however many hosts start at the same moment.
    /// [`StoreError::NewerSchema`] when the database is ahead of this program.
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        let doing = "migrating the schema";
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|err| self.fail(doing, err))?;
        migrate(&mut conn, &self.at)
            .await
            .map_err(|failure| self.settle(doing, failure))?;
        schema_version(&mut conn)
            .await
            .map_err(|err| self.fail(doing, err))
    }

    /// Closes the connections. Further calls fail. Dropping the store closes them too,
    /// without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn fail(&self, doing: &'static str, err: sqlx::Error) -> StoreError {
        classify(
            &self.at,
            &self.place,
            self.socket.as_deref(),
            &self.options,
            doing,
            err,
        )
    }

    fn settle(&self, doing: &'static str, failure: Failure) -> StoreError {
        match failure {
            Failure::Sql(err) => self.fail(doing, err),
            Failure::Store(err) => err,
        }
    }

    /// Runs `attempt` (one transaction) and, when it failed on a deadlock or a serialization
    /// failure, runs it again after a short random pause, a few times: such a failure means
    /// only that another session got in the way, and nothing of the attempt was committed.
    async fn retrying<T, F, Fut>(
        &self,
        doing: &'static str,
        mut attempt: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Sql(err)) if is_conflict(&err) && tries < CONFLICT_RETRIES => {
                    tries += 1;
                    let ceiling = 10u64 << tries;
                    let pause = Duration::from_millis(fastrand::u64(ceiling / 2..=ceiling));
                    tokio::time::sleep(pause).await;
                }
                Err(failure) => return Err(self.settle(doing, failure)),
            }
        }
    }

    /// A `READ COMMITTED` transaction, whatever the database's default isolation: the row
    /// locks below are what make the operations safe, and they are written for it.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
    }

    fn unknown_run(&self, run_id: &str) -> StoreError {
        StoreError::UnknownRun {
            at: self.at.clone(),
            run_id: run_id.to_owned(),
        }
    }

    fn corrupt(&self, what: &'static str, run_id: &str, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            at: self.at.clone(),
            what,
            run_id: run_id.to_owned(),
            detail: detail.to_string(),
        }
    }

    fn run_from_row(&self, row: &PgRow) -> Result<RunRecord, StoreError> {
        let read = |err| self.fail("reading a run", err);
        let run_id: String = row.try_get("run_id").map_err(read)?;
        let inputs: String = row.try_get("inputs").map_err(read)?;
        let inputs = serde_json::from_str(&inputs)
            .map_err(|err| self.corrupt("inputs (JSON)", &run_id, err))?;
        let pid: i64 = row.try_get("pid").map_err(read)?;
        let pid = u32::try_from(pid).map_err(|err| self.corrupt("pid", &run_id, err))?;
        Ok(RunRecord {
            runbook_name: row.try_get("runbook_name").map_err(read)?,
            runbook_path: row.try_get("runbook_path").map_err(read)?,
            runbook_digest: row.try_get("runbook_digest").map_err(read)?,
            inputs,
            lock_key: row.try_get("lock_key").map_err(read)?,
            status: row.try_get("status").map_err(read)?,
            started_at: row.try_get("started_at").map_err(read)?,
            finished_at: row.try_get("finished_at").map_err(read)?,
            host: row.try_get("host").map_err(read)?,
            pid,
            error: row.try_get("error").map_err(read)?,
            exit_code: row.try_get("exit_code").map_err(read)?,
            fire_key: row.try_get("fire_key").map_err(read)?,
            run_id,
        })
    }

    fn holder_from_row(&self, row: &PgRow) -> Result<LockHolder, Failure> {
        let run_id: String = row.try_get("run_id")?;
        let pid: i64 = row.try_get("pid")?;
        let pid = u32::try_from(pid).map_err(|err| self.corrupt("lock pid", &run_id, err))?;
        Ok(LockHolder {
            host: row.try_get("host")?,
            pid,
            since: row.try_get("since")?,
            run_id,
        })
    }

    /// The run that already has `run`'s fire, as the error `begin_run` returns.
    async fn fire_taken(&self, run: &NewRun) -> Result<Option<StoreError>, StoreError> {
        let Some(fire) = &run.fire else {
            return Ok(None);
        };
        let doing = "looking up a schedule fire";
        let row = sqlx::query(
            "SELECT run_id, host, started_at FROM runs WHERE fire_scope = $1 AND fire_key = $2",
        )
        .bind(&fire.scope)
        .bind(&fire.key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| self.fail(doing, err))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let read = |err| self.fail(doing, err);
        Ok(Some(StoreError::FireTaken(Box::new(TakenFire {
            at: self.at.clone(),
            scope: fire.scope.clone(),
            key: fire.key.clone(),
            run_id: row.try_get("run_id").map_err(read)?,
            host: row.try_get("host").map_err(read)?,
            started_at: row.try_get("started_at").map_err(read)?,
        }))))
    }

    /// Fails with [`StoreError::Fenced`] unless `fence` holds, inside the caller's
    /// transaction. The lock's row stays share-locked until that transaction ends, so no
    /// takeover can commit between this check and the caller's write.
    async fn check_fence(&self, conn: &mut PgConnection, fence: &Fence) -> Result<(), Failure> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT token, FLOOR(EXTRACT(EPOCH FROM lease_until - clock_timestamp()) * 1000)::bigint \
             FROM locks WHERE key = $1 FOR SHARE",
        )
        .bind(&fence.key)
        .fetch_optional(&mut *conn)
        .await?;
        let left = match row {
            Some((token, left)) if token == fence.token => left,
            Some((token, _)) => {
                return Err(self
                    .fenced(
                        fence,
                        format!(
                            "a newer holder has it (token {token}, this writer's {})",
                            fence.token
                        ),
                    )
                    .into())
            }
            None => {
                return Err(self
                    .fenced(fence, "the lock is no longer held".to_owned())
                    .into())
            }
        };
        if left <= millis(fence.outlast) {
            return Err(self
                .fenced(fence, lease_too_short(left, fence.outlast))
                .into());
        }
        Ok(())
    }

    fn fenced(&self, fence: &Fence, detail: String) -> StoreError {
        StoreError::Fenced {
            at: self.at.clone(),
            key: fence.key.clone(),
            detail,
        }
    }

    async fn run_exists(&self, run_id: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = $1)")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await
            .map_err(|err| self.fail("looking up a run", err))
    }

    /// One attempt at `acquire_lock`, in one transaction. `ask` stands for the caller's
    /// `is_alive`, answered at most once per holder across attempts.
    async fn try_acquire_lock(
        &self,
        key: &str,
        holder: &LockHolder,
        since: &str,
        lease_ms: i64,
        ask: &(dyn Fn(&LockHolder) -> bool + Sync),
    ) -> Result<LockOutcome, Failure> {
        const CURRENT: &str = "SELECT run_id, host, pid, since, token, \
             lease_until <= clock_timestamp() AS expired FROM locks WHERE key = $1 FOR UPDATE";
        const INSERT: &str = concat!(
            "INSERT INTO locks (key, run_id, host, pid, since, token, lease_until) \
             VALUES ($1, $2, $3, $4, $5, nextval('fencing_tokens'), ",
            from_now!("$6"),
            ") ON CONFLICT (key) DO NOTHING RETURNING token"
        );
        let mut tx = self.begin().await?;
        // A free key has no row to lock. Of racers that all found none, the unique index lets
        // one insert; the others wait for it to commit, insert nothing, and then lock and
        // read its row. (A row released in between sends a racer round again.)
        let mut current = None;
        for _ in 0..8 {
            if let Some(row) = sqlx::query(CURRENT)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
            {
                current = Some(row);
                break;
            }
            let inserted: Option<i64> = sqlx::query_scalar(INSERT)
                .bind(key)
                .bind(&holder.run_id)
                .bind(&holder.host)
                .bind(i64::from(holder.pid))
                .bind(since)
                .bind(lease_ms)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(token) = inserted {
                tx.commit().await?;
                return Ok(LockOutcome::Acquired {
                    lease: Lease {
                        key: key.to_owned(),
                        token,
                    },
                    took_over_from: None,
                });
            }
        }
        let Some(row) = current else {
            return Err(StoreError::Database {
                at: self.at.clone(),
                doing: "taking a lock",
                detail: format!("the lock `{key}` kept being taken and released; try again"),
            }
            .into());
        };
        let token: i64 = row.try_get("token")?;
        let expired: bool = row.try_get("expired")?;
        let current = self.holder_from_row(&row)?;

        let outcome = match (current, expired) {
            (current, false) if current.run_id == holder.run_id => {
                sqlx::query(concat!(
                    "UPDATE locks SET lease_until = ",
                    from_now!("$2"),
                    " WHERE key = $1"
                ))
                .bind(key)
                .bind(lease_ms)
                .execute(&mut *tx)
                .await?;
                LockOutcome::Acquired {
                    lease: Lease {
                        key: key.to_owned(),
                        token,
                    },
                    took_over_from: None,
                }
            }
            (current, false) if ask(&current) => {
                // Nothing changed: the transaction ends without a write.
                tx.rollback().await?;
                return Ok(LockOutcome::Held(current));
            }
            (previous, expired) => {
                let token: i64 = sqlx::query_scalar(concat!(
                    "UPDATE locks SET run_id = $2, host = $3, pid = $4, since = $5, \
                     token = nextval('fencing_tokens'), lease_until = ",
                    from_now!("$6"),
                    " WHERE key = $1 RETURNING token"
                ))
                .bind(key)
                .bind(&holder.run_id)
                .bind(&holder.host)
                .bind(i64::from(holder.pid))
                .bind(since)
                .bind(lease_ms)
                .fetch_one(&mut *tx)
                .await?;
                LockOutcome::Acquired {
                    lease: Lease {
                        key: key.to_owned(),
                        token,
                    },
                    took_over_from: Some(Previous {
                        holder: previous,
                        gone: if expired {
                            Gone::LeaseExpired
                        } else {
                            Gone::ProcessGone
                        },
                    }),
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// One attempt at `append`, in one transaction: `batch` is each event's `at` and JSON
    /// text, in order.
    async fn try_append(
        &self,
        run_id: &str,
        batch: &[(String, String)],
        durable: bool,
        fence: Option<&Fence>,
    ) -> Result<(), Failure> {
        let mut tx = self.begin().await?;
        if !durable {
            // This commit need not wait for the WAL to reach the disk (nor a synchronous
            // standby); the next durable commit flushes it along, the WAL being written in
            // order. Only this transaction is affected.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        if let Some(fence) = fence {
            self.check_fence(&mut tx, fence).await?;
        }
        // Appends to one run take turns on its row (`NO KEY UPDATE` leaves other sessions'
        // foreign-key checks free); the last seq is read after the turn comes, by a new
        // statement that sees what the previous appender committed.
        let exists = sqlx::query("SELECT 1 FROM runs WHERE run_id = $1 FOR NO KEY UPDATE")
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(self.unknown_run(run_id).into());
        }
        let last_seq: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = $1")
                .bind(run_id)
                .fetch_one(&mut *tx)
                .await?;
        let seqs: Vec<i64> = (last_seq + 1..).take(batch.len()).collect();
        let (ats, texts): (Vec<&str>, Vec<&str>) = batch
            .iter()
            .map(|(at, text)| (at.as_str(), text.as_str()))
            .unzip();
        sqlx::query(
            "INSERT INTO events (run_id, seq, at, event) \
             SELECT $1, seq, at, event FROM UNNEST($2::bigint[], $3::text[], $4::text[]) \
             AS batch (seq, at, event)",
        )
        .bind(run_id)
        .bind(seqs)
        .bind(ats)
        .bind(texts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn try_finish_run(
        &self,
        run_id: &str,
        status: &str,
        exit_code: i32,
        finished_at: &str,
        error: Option<&str>,
        fence: Option<&Fence>,
    ) -> Result<(), Failure> {
        let mut tx = self.begin().await?;
        if let Some(fence) = fence {
            self.check_fence(&mut tx, fence).await?;
        }
        let updated = sqlx::query(
            "UPDATE runs SET status = $2, exit_code = $3, finished_at = $4, error = $5 \
             WHERE run_id = $1",
        )
        .bind(run_id)
        .bind(status)
        .bind(exit_code)
        .bind(finished_at)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(self.unknown_run(run_id).into());
        }
        tx.commit().await?;
        Ok(())
    }

    async fn try_prune(&self, cutoff: &str) -> Result<u64, Failure> {
        let mut tx = self.begin().await?;
        // Lock the runs first: an append that comes after waits, then finds no run.
        let doomed: Vec<String> = sqlx::query_scalar(
            "SELECT run_id FROM runs \
             WHERE finished_at IS NOT NULL AND finished_at < $1 AND status <> $2 FOR UPDATE",
        )
        .bind(cutoff)
        .bind(RUNNING)
        .fetch_all(&mut *tx)
        .await?;
        if doomed.is_empty() {
            return Ok(0);
        }
        sqlx::query("DELETE FROM events WHERE run_id = ANY($1)")
            .bind(&doomed)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM runs WHERE run_id = ANY($1)")
            .bind(&doomed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }
}

#[async_trait]
impl RunStore for PgStore {
    fn location(&self) -> String {
        self.at.clone()
    }

    async fn begin_run(&self, run: &NewRun) -> Result<(), StoreError> {
        let started_at = normalize("started_at", &run.started_at)?;
        let inputs = run.inputs.to_string();
        let doing = "recording a new run";
        // A run whose fire was taken by a run that is gone again by the time it is looked up
        // (pruned in between) tries again; twice is plenty.
        for _ in 0..3 {
            let conflict = self
                .retrying(doing, || async {
                    let inserted = sqlx::query(
                        "INSERT INTO runs (run_id, runbook_name, runbook_path, runbook_digest, \
                         inputs, lock_key, status, started_at, host, pid, fire_scope, fire_key) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(&run.run_id)
                    .bind(&run.runbook_name)
                    .bind(&run.runbook_path)
                    .bind(&run.runbook_digest)
                    .bind(&inputs)
                    .bind(&run.lock_key)
                    .bind(RUNNING)
                    .bind(&started_at)
                    .bind(&run.host)
                    .bind(i64::from(run.pid))
                    .bind(run.fire.as_ref().map(|fire| &fire.scope))
                    .bind(run.fire.as_ref().map(|fire| &fire.key))
                    .execute(&self.pool)
                    .await;
                    match inserted {
                        Ok(_) => Ok(None),
                        // Which unique index refused it: the fire's, or the run id's.
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                            Ok(Some(db.constraint().map(|index| index == FIRE_INDEX)))
                        }
                        Err(err) => Err(Failure::Sql(err)),
                    }
                })
                .await?;
            match conflict {
                None => return Ok(()),
                Some(Some(false)) => {}
                Some(fire_index) => {
                    if let Some(taken) = self.fire_taken(run).await? {
                        return Err(taken);
                    }
                    if fire_index == Some(true) {
                        continue;
                    }
                }
            }
            return Err(StoreError::DuplicateRun {
                at: self.at.clone(),
                run_id: run.run_id.clone(),
            });
        }
        Err(StoreError::Database {
            at: self.at.clone(),
            doing,
            detail: "the run's schedule fire kept being taken and freed; try again".to_owned(),
        })
    }

    async fn acquire_lock(
        &self,
        key: &str,
        holder: &LockHolder,
        lease: Duration,
        is_alive: &(dyn for<'h> Fn(&'h LockHolder) -> bool + Sync),
    ) -> Result<LockOutcome, StoreError> {
        let since = normalize("since", &holder.since)?;
        let lease_ms = millis(lease).min(MAX_LEASE_MS);
        // `is_alive` is asked at most once for a holder, even when a conflict makes the
        // transaction run again.
        let answered: Mutex<Option<(LockHolder, bool)>> = Mutex::new(None);
        let ask = |current: &LockHolder| {
            let mut answered = answered.lock().unwrap_or_else(|e| e.into_inner());
            match &*answered {
                Some((asked, alive)) if asked == current => *alive,
                _ => {
                    let alive = is_alive(current);
                    *answered = Some((current.clone(), alive));
                    alive
                }
            }
        };
        self.retrying("taking a lock", || {
            self.try_acquire_lock(key, holder, &since, lease_ms, &ask)
        })
        .await
    }

    async fn renew_lock(&self, key: &str, token: i64, lease: Duration) -> Result<bool, StoreError> {
        let lease_ms = millis(lease).min(MAX_LEASE_MS);
        self.retrying("renewing a lock's lease", || async {
            let renewed = sqlx::query(concat!(
                "UPDATE locks SET lease_until = ",
                from_now!("$3"),
                " WHERE key = $1 AND token = $2 AND lease_until > clock_timestamp()"
            ))
            .bind(key)
            .bind(token)
            .bind(lease_ms)
            .execute(&self.pool)
            .await?;
            Ok(renewed.rows_affected() == 1)
        })
        .await
    }

    async fn release_lock(&self, key: &str, run_id: &str) -> Result<bool, StoreError> {
        self.retrying("releasing a lock", || async {
            let deleted = sqlx::query("DELETE FROM locks WHERE key = $1 AND run_id = $2")
                .bind(key)
                .bind(run_id)
                .execute(&self.pool)
                .await?;
            Ok(deleted.rows_affected() > 0)
        })
        .await
    }

    async fn append(
        &self,
        run_id: &str,
        events: &[serde_json::Value],
        durable: bool,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let doing = if durable {
            "writing events durably"
        } else {
            "writing events"
        };
        let append_time = time_format::now();
        let batch: Vec<(String, String)> = events
            .iter()
            .map(|event| {
                let at = event
                    .get("ts")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|ts| normalize("ts", ts).ok())
                    .unwrap_or_else(|| append_time.clone());
                (at, event.to_string())
            })
            .collect();
        self.retrying(doing, || self.try_append(run_id, &batch, durable, fence))
            .await
    }

    async fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        exit_code: i32,
        finished_at: &str,
        error: Option<&str>,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError> {
        let finished_at = normalize("finished_at", finished_at)?;
        self.retrying("recording the end of a run", || {
            self.try_finish_run(run_id, status, exit_code, &finished_at, error, fence)
        })
        .await
    }

    async fn claim_run(&self, run_id: &str, host: &str, pid: u32) -> Result<(), StoreError> {
        let doing = "claiming a run";
        let claimed = self
            .retrying(doing, || async {
                let claimed = sqlx::query(
                    "UPDATE runs SET host = $2, pid = $3 \
                     WHERE run_id = $1 AND finished_at IS NULL AND status = $4",
                )
                .bind(run_id)
                .bind(host)
                .bind(i64::from(pid))
                .bind(RUNNING)
                .execute(&self.pool)
                .await?;
                Ok(claimed.rows_affected() == 1)
            })
            .await?;
        if claimed {
            return Ok(());
        }
        // Nothing changed: say whether the run is missing or already over.
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM runs WHERE run_id = $1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| self.fail(doing, err))?;
        match status {
            None => Err(self.unknown_run(run_id)),
            Some(status) => Err(StoreError::RunFinished {
                at: self.at.clone(),
                run_id: run_id.to_owned(),
                status,
            }),
        }
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        const LIST: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE ($1::text IS NULL OR runbook_name = $1) \
             AND ($2::text IS NULL OR status = $2) \
             AND ($4::text IS NULL OR lock_key = $4) \
             AND ($5::text IS NULL OR finished_at IS NULL OR finished_at >= $5) \
             ORDER BY started_at DESC, run_id DESC LIMIT $3"
        );
        let active_since = filter
            .active_since
            .as_deref()
            .map(|since| normalize("active_since", since))
            .transpose()?;
        let rows = sqlx::query(LIST)
            .bind(&filter.runbook_name)
            .bind(&filter.status)
            // `LIMIT NULL` is no limit.
            .bind(filter.limit.map(i64::from))
            .bind(&filter.lock_key)
            .bind(active_since)
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.fail("listing runs", err))?;
        rows.iter().map(|row| self.run_from_row(row)).collect()
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        const EXACT: &str = concat!("SELECT ", run_columns!(), " FROM runs WHERE run_id = $1");
        // Three are enough to say "ambiguous" and show some of the candidates. The range
        // (byte order: the column is `COLLATE "C"`) lets the primary key's index find them.
        const BY_PREFIX: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE run_id >= $1 AND run_id < $1 || chr(1114111) \
             AND starts_with(run_id, $1) ORDER BY run_id LIMIT 3"
        );
        let doing = "looking up a run";
        if let Some(row) = sqlx::query(EXACT)
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.fail(doing, err))?
        {
            return self.run_from_row(&row).map(Some);
        }
        if run_id.is_empty() {
            return Ok(None);
        }
        let rows = sqlx::query(BY_PREFIX)
            .bind(run_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.fail(doing, err))?;
        match rows.as_slice() {
            [] => Ok(None),
            [row] => self.run_from_row(row).map(Some),
            several => Err(StoreError::AmbiguousRunId {
                at: self.at.clone(),
                prefix: run_id.to_owned(),
                examples: several
                    .iter()
                    .filter_map(|row| row.try_get::<String, _>("run_id").ok())
                    .collect(),
            }),
        }
    }

    async fn events(&self, run_id: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT event FROM events WHERE run_id = $1 ORDER BY seq")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await
                .map_err(|err| self.fail("reading a run's events", err))?;
        if texts.is_empty() && !self.run_exists(run_id).await? {
            return Err(self.unknown_run(run_id));
        }
        texts
            .iter()
            .map(|text| {
                serde_json::from_str(text).map_err(|err| self.corrupt("event", run_id, err))
            })
            .collect()
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        let doing = "reading the schema version";
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|err| self.fail(doing, err))?;
        schema_version(&mut conn)
            .await
            .map_err(|err| self.fail(doing, err))
    }

    async fn prune(&self, finished_before: &str) -> Result<u64, StoreError> {
        let cutoff = normalize("finished_before", finished_before)?;
        self.retrying("pruning old runs", || self.try_prune(&cutoff))
            .await
    }
}

/// A URL taken apart: what to connect with, and how to name the server without the password.
/// (No `Debug`: it holds the password.)
struct Target {
    /// The URL without its password, with the port and database it stands for filled in.
    at: String,
    /// `host:port`, or `the socket /dir/.s.PGSQL.5432`.
    place: String,
    /// The socket's path, when the connection is over a Unix socket.
    socket: Option<String>,
    options: PgConnectOptions,
    /// The password as written in the URL and decoded, to scrub from any message.
    secrets: Vec<String>,
}

impl Target {
    fn parse(url: &str, connect: &PgOptions) -> Result<Target, StoreError> {
        let malformed = |reason: String| StoreError::Config {
            at: redact_unparsed(url),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|err| {
            malformed(format!(
                "the URL is malformed ({err}); expected \
                 postgres://user:password@host:port/database"
            ))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(malformed(format!(
                "`{}:` is not a PostgreSQL URL; expected postgres://user:password@host:port/database",
                parsed.scheme()
            )));
        }
        let mut secrets: Vec<String> = parsed.password().map(str::to_owned).into_iter().collect();
        for (key, value) in parsed.query_pairs() {
            if key == "password" {
                secrets.push(value.into_owned());
            }
        }
        // The user info's password is percent-encoded; sqlx connects with it decoded.
        if let Some(password) = parsed.password() {
            let encoded = format!("p={}", password.replace('+', "%2B"));
            if let Some((_, decoded)) = url::form_urlencoded::parse(encoded.as_bytes()).next() {
                secrets.push(decoded.into_owned());
            }
        }
        let redacted = redact(&parsed);
        let mut options = PgConnectOptions::from_str(url).map_err(|err| StoreError::Config {
            at: redacted.to_string(),
            reason: scrub(
                &format!("the URL has a value that cannot be used ({err})"),
                &secrets,
            ),
        })?;

        // An IPv6 address comes out of the URL in its brackets, which sqlx (on tokio) would
        // then try to resolve as a host name.
        let host = options.get_host();
        if let Some(address) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let address = address.to_owned();
            options = options.host(&address);
        }
        if options.get_application_name().is_none() {
            options = options.application_name("runbook");
        }
        let given = options.get_options().unwrap_or_default().to_owned();
        let lock_timeout = format!("{}ms", connect.lock_timeout.as_millis());
        for (setting, value) in [
            ("lock_timeout", lock_timeout.as_str()),
            // A process frozen inside a transaction would hold its row locks for as long as
            // it is frozen; the server ends such a session (and its transaction) after this.
            ("idle_in_transaction_session_timeout", "60s"),
        ] {
            if !given.contains(setting) {
                options = options.options([(setting, value)]);
            }
        }

        let port = options.get_port();
        let socket_dir = match options.get_socket() {
            Some(dir) => Some(dir.display().to_string()),
            None if options.get_host().starts_with('/') => Some(options.get_host().to_owned()),
            None => None,
        };
        let socket = socket_dir.map(|dir| {
            let dir = dir.trim_end_matches('/');
            format!("{dir}/.s.PGSQL.{port}")
        });
        if socket.is_some() {
            // As libpq: TLS is for TCP; a Unix socket is local, and servers refuse TLS on it.
            options = options.ssl_mode(PgSslMode::Disable);
        }
        let place = match &socket {
            Some(path) => format!("the socket {path}"),
            None if options.get_host().contains(':') => {
                format!("[{}]:{port}", options.get_host())
            }
            None => format!("{}:{port}", options.get_host()),
        };
        Ok(Target {
            at: location(redacted, &options),
            place,
            socket,
            options,
            secrets,
        })
    }

    /// An `sslrootcert` that TLS will verify the server with must be a readable file (or
    /// inline PEM) holding certificates: checked first, because sqlx would otherwise report
    /// a missing file as if the server were unreachable.
    fn check_root_cert(&self, url: &str) -> Result<(), StoreError> {
        if !matches!(
            self.options.get_ssl_mode(),
            PgSslMode::VerifyCa | PgSslMode::VerifyFull
        ) {
            return Ok(());
        }
        let given = url::Url::parse(url)
            .ok()
            .and_then(|parsed| {
                parsed
                    .query_pairs()
                    .filter(|(key, _)| matches!(&**key, "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
                    .map(|(_, value)| value.into_owned())
                    .last()
            })
            .or_else(|| std::env::var("PGSSLROOTCERT").ok());
        let Some(given) = given else {
            return Ok(());
        };
        let config = |reason: String| StoreError::Config {
            at: self.at.clone(),
            reason,
        };
        let trimmed = given.trim();
        let pem = if trimmed.starts_with("-----BEGIN") && trimmed.ends_with("-----") {
            trimmed.to_owned()
        } else {
            std::fs::read_to_string(&given).map_err(|err| {
                config(format!("cannot read the sslrootcert file {given} ({err})"))
            })?
        };
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(config(format!(
                "the sslrootcert {given} holds no PEM certificate \
                 (-----BEGIN CERTIFICATE-----)"
            )));
        }
        Ok(())
    }

    /// `err` with the password, wherever it might appear, replaced.
    fn scrub(&self, err: StoreError) -> StoreError {
        match err {
            StoreError::Config { at, reason } => StoreError::Config {
                at,
                reason: scrub(&reason, &self.secrets),
            },
            StoreError::Unreachable { at, reason } => StoreError::Unreachable {
                at,
                reason: scrub(&reason, &self.secrets),
            },
            StoreError::Database { at, doing, detail } => StoreError::Database {
                at,
                doing,
                detail: scrub(&detail, &self.secrets),
            },
            other => other,
        }
    }
}

/// `text` with each secret replaced. Secrets shorter than four characters are left: they
/// would blot out ordinary words, and say little about the password.
fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| secret.chars().count() >= 4)
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "******")
        })
}

/// The URL without its password, in the user's info and in a `password` parameter.
fn redact(parsed: &url::Url) -> url::Url {
    let mut shown = parsed.clone();
    // Fails only for a URL that cannot have a password, which then has none.
    let _ = shown.set_password(None);
    let kept: Vec<&str> = parsed
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && query_key(pair) != "password")
        .collect();
    shown.set_query((!kept.is_empty()).then(|| kept.join("&")).as_deref());
    shown
}

/// The key of one `key=value` pair of a query, decoded.
fn query_key(pair: &str) -> String {
    url::form_urlencoded::parse(pair.as_bytes())
        .next()
        .map(|(key, _)| key.into_owned())
        .unwrap_or_default()
}

/// The redacted URL with what it leaves to defaults filled in — the host or socket
/// directory, the port and the database — so that messages say where the store is.
fn location(mut shown: url::Url, options: &PgConnectOptions) -> String {
    let pairs: Vec<String> = shown
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(str::to_owned)
        .collect();
    let has = |key: &str| pairs.iter().any(|pair| query_key(pair) == key);
    let mut added = Vec::new();
    let has_host = shown.host_str().is_some_and(|host| !host.is_empty());
    if !has_host && !has("host") && !has("hostaddr") {
        let host = match options.get_socket() {
            Some(dir) => dir.display().to_string(),
            None => options.get_host().to_owned(),
        };
        added.push(format!("host={host}"));
    }
    if shown.port().is_none() && !has("port") {
        let port = options.get_port();
        if !has_host || shown.set_port(Some(port)).is_err() {
            added.push(format!("port={port}"));
        }
    }
    if shown.path().trim_start_matches('/').is_empty() && !has("dbname") {
        // Without a database, the server picks the one named like the user.
        let database = options
            .get_database()
            .unwrap_or_else(|| options.get_username())
            .to_owned();
        shown.set_path(&format!("/{database}"));
    }
    if !added.is_empty() {
        let query = pairs.into_iter().chain(added).collect::<Vec<_>>().join("&");
        shown.set_query(Some(&query));
    }
    shown.to_string()
}

/// A URL that did not parse, as far as it can be shown: the scheme, then the user but no
/// password — everything up to the last `@` counts as user info, since a malformed URL's
/// password may hold any character — and no `password` parameter.
fn redact_unparsed(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = match rest.rsplit_once('@') {
        Some((info, host)) => {
            let user = info.split([':', '?', '/']).next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => rest.to_owned(),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((&rest, ""));
    let query: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !query_key(pair).contains("password"))
        .collect();
    let mut shown = if scheme.is_empty() {
        rest.to_owned()
    } else {
        format!("{scheme}://{rest}")
    };
    if !query.is_empty() {
        shown.push('?');
        shown.push_str(&query.join("&"));
    }
    shown
}

/// Brings the schema to the latest version. The version is read first without a lock (the
/// usual case: nothing to do); otherwise, in a transaction holding the advisory lock
/// [`MIGRATION_LOCK`], read again and apply what is missing, so of several hosts migrating at
/// once one does it and the others find it done. DDL is transactional in PostgreSQL: a
/// migration that fails leaves nothing behind.
async fn migrate(conn: &mut PgConnection, at: &str) -> Result<(), Failure> {
    let latest = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let newer = |found| StoreError::NewerSchema {
        at: at.to_owned(),
        found,
        supported: latest,
    };

    let found = schema_version(&mut *conn).await?;
    if found == latest {
        return Ok(());
    }
    if found > latest {
        return Err(newer(found).into());
    }

    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version \
         (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let found = schema_version(&mut tx).await?;
    if found > latest {
        return Err(newer(found).into());
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip_while(|(version, _)| *version <= found)
    {
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(time_format::now())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The schema version recorded in the database; 0 for a new one.
async fn schema_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('schema_version') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !has_table {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::bigint FROM schema_version")
        .fetch_one(&mut *conn)
        .await
}

/// A deadlock or a serialization failure: the transaction was rolled back because another
/// one got in the way, and running it again is the remedy.
fn is_conflict(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

/// A failure as the CLI must see it: [`StoreError::Config`] for what trying again will not
/// fix, [`StoreError::Unreachable`] for what may pass, else [`StoreError::Database`].
fn classify(
    at: &str,
    place: &str,
    socket: Option<&str>,
    options: &PgOptions,
    doing: &'static str,
    err: sqlx::Error,
) -> StoreError {
    use std::io::ErrorKind;
    let config = |reason: String| StoreError::Config {
        at: at.to_owned(),
        reason,
    };
    let unreachable = |reason: String| StoreError::Unreachable {
        at: at.to_owned(),
        reason,
    };
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|code| code.into_owned()).unwrap_or_default();
            let message = db.message();
            match code.as_str() {
                "28P01" | "28000" => config(format!("{place} refused the login: {message}")),
                "3D000" => config(format!("{place} has no such database: {message}")),
                "42501" => config(format!(
                    "{place} refused what the run store needs (while {doing}): {message}; \
                     the user lacks a privilege"
                )),
                "57P01" => {
                    unreachable(format!("the server at {place} is shutting down: {message}"))
                }
                "57P02" => unreachable(format!(
                    "the server at {place} is restarting after a crash: {message}"
                )),
                "57P03" => unreachable(format!(
                    "the server at {place} is starting up or in recovery, not yet accepting \
                     connections: {message}"
                )),
                "53300" => unreachable(format!(
                    "the server at {place} has no connection slot free: {message}"
                )),
                "55P03" => unreachable(format!(
                    "another session at {place} kept a row the run store needs locked for \
                     more than {} s (while {doing})",
                    options.lock_timeout.as_secs_f64()
                )),
                "25P03" => unreachable(format!(
                    "the server at {place} ended a session that stayed idle inside a \
                     transaction (while {doing}): {message}"
                )),
                code if code.starts_with("08") => unreachable(format!(
                    "the connection to {place} failed (while {doing}): {message}"
                )),
                _ => StoreError::Database {
                    at: at.to_owned(),
                    doing,
                    detail: format!("{message} (SQLSTATE {code})"),
                },
            }
        }
        sqlx::Error::Io(io) => match (io.kind(), socket) {
            (ErrorKind::NotFound, Some(path)) => unreachable(format!(
                "there is no socket {path}: is PostgreSQL running, with its socket in that \
                 directory and on that port?"
            )),
            (ErrorKind::ConnectionRefused, Some(_)) => unreachable(format!(
                "nothing accepts connections at {place}: is PostgreSQL running? ({io})"
            )),
            (ErrorKind::ConnectionRefused, None) => unreachable(format!(
                "{place} refused the connection: is PostgreSQL running there, listening on \
                 that address and port? ({io})"
            )),
            (ErrorKind::TimedOut, _) => {
                unreachable(format!("the connection to {place} timed out ({io})"))
            }
            // rustls reports a failed handshake (an untrusted or wrong certificate, no
            // common protocol) as invalid data; nothing else here does.
            (ErrorKind::InvalidData, _) => config(format!(
                "the TLS handshake with {place} failed ({io}); check sslmode and sslrootcert"
            )),
            (ErrorKind::PermissionDenied, _) => {
                config(format!("permission denied connecting to {place} ({io})"))
            }
            _ if io.to_string().contains("lookup address") => {
                unreachable(format!("cannot look up the address of {place} ({io})"))
            }
            _ => unreachable(format!(
                "the connection to {place} failed (while {doing}): {io}"
            )),
        },
        sqlx::Error::Tls(err) => config(format!("TLS with {place} failed: {err}")),
        sqlx::Error::PoolTimedOut => unreachable(format!(
            "no connection to {place} within {} s (while {doing})",
            options.acquire_timeout.as_secs_f64()
        )),
        sqlx::Error::Configuration(err) => config(format!("{err}")),
        sqlx::Error::Protocol(detail) if doing == "connecting" => config(format!(
            "{place} does not answer as a PostgreSQL server does: {detail}"
        )),
        other => StoreError::Database {
            at: at.to_owned(),
            doing,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_fills_in_what_the_url_leaves_to_defaults_and_drops_the_password() {
        let shown = |url: &str| {
            let target = Target::parse(url, &PgOptions::default()).unwrap();
            (target.at, target.place)
        };
        assert_eq!(
            shown("postgres://runbook:s3cret@db.internal/runbook?sslmode=verify-full"),
            (
                "postgres://runbook@db.internal:5432/runbook?sslmode=verify-full".to_owned(),
                "db.internal:5432".to_owned()
            )
        );
        assert_eq!(
            shown("postgres://pg:s3cret@localhost/runs?host=/run/pg/&password=other"),
            (
                "postgres://pg@localhost:5432/runs?host=/run/pg/".to_owned(),
                "the socket /run/pg/.s.PGSQL.5432".to_owned()
            )
        );
        assert_eq!(
            shown("postgresql://u:pw@[::1]:6543"),
            (
                "postgresql://u@[::1]:6543/u".to_owned(),
                "[::1]:6543".to_owned()
            )
        );
        assert_eq!(
            shown("postgres:///runs?host=/tmp&user=u&password=s3cret").0,
            "postgres:///runs?host=/tmp&user=u&port=5432"
        );
    }

    #[test]
    fn a_url_that_does_not_parse_is_shown_without_what_may_be_its_password() {
        assert_eq!(
            redact_unparsed("postgres://u:pa?s/s@w:rd@host:x/db?password=p&sslmode=y"),
            "postgres://u@host:x/db?sslmode=y"
        );
        assert_eq!(redact_unparsed("postgres://[::1"), "postgres://[::1");
        assert_eq!(redact_unparsed("host:5432"), "host:5432");
    }

    #[test]
    fn only_passwords_long_enough_to_tell_are_scrubbed() {
        let secrets = ["hunter22".to_owned(), "pw".to_owned()];
        assert_eq!(
            scrub("login hunter22 failed for pw", &secrets),
            "login ****** failed for pw"
        );
    }

    /// Conflicts are retried until they stop, and reported when they do not; nothing else is
    /// retried. Needs the test server (see `tests/pg_store.rs`).
    #[tokio::test]
    async fn conflicts_are_retried_and_other_failures_are_not() {
        let Ok(url) = std::env::var("RUNBOOK_TEST_POSTGRES") else {
            println!("skipped: set RUNBOOK_TEST_POSTGRES to a throw-away PostgreSQL server");
            return;
        };
        let store = PgStore::connect(&url).await.unwrap();
        let pool = &store.pool;
        let fail = |code: &'static str| async move {
            let sql = match code {
                "40001" => "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
                "40P01" => "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$",
                _ => "DO $$ BEGIN RAISE EXCEPTION 'other' USING ERRCODE = 'P0001'; END $$",
            };
            sqlx::raw_sql(sql).execute(pool).await.map(drop)
        };

        for code in ["40001", "40P01"] {
            let mut tries = 0;
            let answer = store
                .retrying("testing", || {
                    tries += 1;
                    let this = tries;
                    async move {
                        if this < 3 {
                            fail(code).await?;
                        }
                        Ok(this)
                    }
                })
                .await
                .unwrap();
            assert_eq!(answer, 3, "{code}: two conflicts, then success");

            let mut tries = 0;
            let err = store
                .retrying("testing", || {
                    tries += 1;
                    async move { fail(code).await.map_err(Failure::from) }
                })
                .await
                .unwrap_err();
            assert_eq!(tries, 1 + CONFLICT_RETRIES);
            assert!(err.to_string().contains(code), "{err}");
        }

        let mut tries = 0;
        let err = store
            .retrying("testing", || {
                tries += 1;
                async move { fail("other").await.map_err(Failure::from) }
            })
            .await
            .unwrap_err();
        assert_eq!(tries, 1, "not a conflict: not retried");
        assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
    }
}
