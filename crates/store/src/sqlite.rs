//! [`SqliteStore`]: the embedded run store, one SQLite file in the state directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite};

use crate::lease::{lease_too_short, millis};
use crate::rows::{self, run_columns, Unreadable};
use crate::time_format::{self, normalize};
use crate::{
    Fence, Gone, Lease, LockHolder, LockOutcome, NewEvent, NewRun, Previous, RunFilter, RunRecord,
    RunStore, StoreError, TakenFire, RUNNING,
};

/// The database's file name inside the state directory.
pub const DATABASE_FILE_NAME: &str = "runs.sqlite3";

/// How long a statement waits for another process's lock before [`StoreError::Busy`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most events in one `INSERT`: four parameters each, inside the 999 parameters that even
/// an SQLite built with the old default limit takes. A power of two: see [`insert_sizes`].
const MAX_ROWS_PER_INSERT: usize = 128;
const _: () = assert!(MAX_ROWS_PER_INSERT * 4 <= 999 && MAX_ROWS_PER_INSERT.is_power_of_two());

/// The migrations, in order: entry `i` brings the schema to version `i + 1`. Never edit one
/// that has shipped; add the next.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2];

/// Version 1. See the crate documentation for what each table holds and why.
const SCHEMA_V1: &str = r#"
CREATE TABLE runs (
    run_id         TEXT PRIMARY KEY NOT NULL,
    runbook_name   TEXT NOT NULL,
    runbook_path   TEXT NOT NULL,
    runbook_digest TEXT NOT NULL,
    inputs         TEXT NOT NULL,
    lock_key       TEXT,
    status         TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    host           TEXT NOT NULL,
    pid            INTEGER NOT NULL,
    error          TEXT,
    exit_code      INTEGER
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_runbook ON runs (runbook_name, started_at);
CREATE INDEX runs_by_finish ON runs (finished_at);

CREATE TABLE events (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    seq    INTEGER NOT NULL,
    at     TEXT NOT NULL,
    event  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TRIGGER events_are_append_only BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only: an event is never changed');
END;

CREATE TRIGGER events_of_unfinished_runs_stay BEFORE DELETE ON events
WHEN (SELECT finished_at IS NULL OR status = 'running' FROM runs WHERE run_id = OLD.run_id)
BEGIN
    SELECT RAISE(ABORT, 'the journal of a running run is never deleted');
END;

CREATE TABLE locks (
    key    TEXT PRIMARY KEY NOT NULL,
    run_id TEXT NOT NULL,
    host   TEXT NOT NULL,
    pid    INTEGER NOT NULL,
    since  TEXT NOT NULL
);
"#;

/// Version 2: schedule fires (one run per fire) and leased locks with fencing tokens.
/// Lock rows of version 1 get an expired lease, so the next run takes them over.
const SCHEMA_V2: &str = r#"
ALTER TABLE runs ADD COLUMN fire_scope TEXT;
ALTER TABLE runs ADD COLUMN fire_key TEXT;
CREATE UNIQUE INDEX runs_by_fire ON runs (fire_scope, fire_key) WHERE fire_key IS NOT NULL;

ALTER TABLE locks ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE locks ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE fencing_tokens (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last_token INTEGER NOT NULL
);
INSERT INTO fencing_tokens (id, last_token) VALUES (1, 0);
"#;

/// How many events each `INSERT` of an append of `rows` takes: as many of the largest as
/// fit, then the binary digits of what is left. So every statement has one of eight shapes,
/// each prepared once per connection; a statement of a new length would be parsed and
/// planned again, and group commits come in every length.
fn insert_sizes(rows: usize) -> impl Iterator<Item = usize> {
    let left = rows % MAX_ROWS_PER_INSERT;
    std::iter::repeat_n(MAX_ROWS_PER_INSERT, rows / MAX_ROWS_PER_INSERT).chain(
        (0..MAX_ROWS_PER_INSERT.trailing_zeros())
            .rev()
            .map(|bit| 1 << bit)
            .filter(move |size| left & size != 0),
    )
}

/// SQLite's clock in milliseconds since the Unix epoch: leases are compared with the
/// database's clock, as on PostgreSQL (here it is this host's).
macro_rules! now_ms {
    () => {
        "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
    };
}

/// How [`SqliteStore::open_with`] opens the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long to wait for another process's lock on the file ([`DEFAULT_BUSY_TIMEOUT`]).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// The run store in one SQLite file, `runs.sqlite3`, in WAL mode.
///
/// Three pools over the same file: `pool` (`synchronous = NORMAL`: a commit survives this
/// process crashing, and is on disk at the next checkpoint) for everything else,
/// `journal_pool` (one connection, also NORMAL) for appends, and `durable_pool` (one
/// connection, `synchronous = FULL`: the WAL is fsynced at each commit) for durable appends.
/// Appends have connections of their own because SQLite drops a connection's page cache
/// whenever another connection wrote since its last transaction: appends taking turns on the
/// pool's connections re-read the journal's pages from the WAL every time.
///
/// `synchronous` is set per connection; keeping one connection that always has FULL, instead
/// of switching a pooled one back and forth, means no connection is ever returned to the pool
/// in the wrong mode (a cancelled future cannot leave it FULL or, worse, a durable append
/// NORMAL). Since the WAL is one file written in order, the fsync of a durable commit also
/// makes every earlier commit durable.
///
/// Writes that read first (appends, locks, migrations, prune) run in `BEGIN IMMEDIATE`
/// transactions: sqlx's `begin()` is DEFERRED, and a deferred reader that then writes fails
/// at once with `SQLITE_BUSY` (no waiting) when another process wrote in between.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    busy_timeout: Duration,
    pool: SqlitePool,
    journal_pool: SqlitePool,
    durable_pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating as needed) the store in `dir` with the default options.
    pub async fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(dir, &SqliteOptions::default()).await
    }

    /// Opens (creating as needed) the store in `dir`: the directory (mode 0700), the file
    /// (0600; SQLite gives its `-wal` and `-shm` files the same), WAL mode, and the schema
    /// migrated to this version. Safe when several processes open an empty store at once.
    pub async fn open_with(dir: &Path, options: &SqliteOptions) -> Result<SqliteStore, StoreError> {
        create_state_dir(dir)?;
        let path = dir.join(DATABASE_FILE_NAME);
        create_private_file(&path)?;

        // `busy_timeout` is applied by sqlx right after the file is opened, before any
        // pragma or statement runs, so even the first statement waits for other processes.
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal)
            // 256 KiB of page cache per connection, not SQLite's 2 MiB: a run appends and
            // rarely reads back, and each of up to six connections would fill its own cache
            // with the journal's pages (a fan-out's peak memory, issue 15).
            .pragma("cache_size", "-256");

        // A pool waits for a free connection a little longer than SQLite waits for a lock,
        // so that a stuck other process is reported as `Busy` by SQLite, not as a pool timeout.
        let acquire_timeout = options.busy_timeout + Duration::from_secs(5);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(connect.clone());
        let journal_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(connect.clone());
        let durable_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(connect.synchronous(SqliteSynchronous::Full));

        // Set up on the pool's first connection, which then stays open for the run: a
        // connection of its own would be the file's last one when it closed, and SQLite
        // checkpoints the WAL into the file and syncs it then (5 ms of every run's start).
        let fail = |doing, err| database_error(&path, options.busy_timeout, doing, err);
        let mut setup = pool.acquire().await.map_err(|err| match err {
            err if is_busy(&err) => fail("opening the file", err),
            err => StoreError::Open {
                path: path.clone(),
                detail: err.to_string(),
            },
        })?;
        ensure_wal(&mut setup, &path, options.busy_timeout).await?;
        migrate(&mut setup, &path, options.busy_timeout).await?;
        drop(setup);
        Ok(SqliteStore {
            path,
            busy_timeout: options.busy_timeout,
            pool,
            journal_pool,
            durable_pool,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the connections (the last one checkpoints the WAL into the file). Further
    /// calls fail. Dropping the store closes them too, without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
        self.journal_pool.close().await;
        self.durable_pool.close().await;
    }

    fn fail(&self, doing: &'static str, err: sqlx::Error) -> StoreError {
        database_error(&self.path, self.busy_timeout, doing, err)
    }

    fn at(&self) -> String {
        self.path.display().to_string()
    }

    fn unknown_run(&self, run_id: &str) -> StoreError {
        StoreError::UnknownRun {
            at: self.at(),
            run_id: run_id.to_owned(),
        }
    }

    /// A row read back, or the store's error naming the run.
    fn read<T>(&self, doing: &'static str, read: Result<T, Unreadable>) -> Result<T, StoreError> {
        read.map_err(|unreadable| unreadable.into_error(&self.at(), |err| self.fail(doing, err)))
    }

    fn run_from_row(&self, row: &SqliteRow) -> Result<RunRecord, StoreError> {
        self.read("reading a run", rows::run_record(row))
    }

    fn holder_from_row(&self, row: &SqliteRow) -> Result<LockHolder, StoreError> {
        self.read("reading a lock", rows::lock_holder(row))
    }

    /// The run that already has `run`'s fire, as the error `begin_run` returns.
    async fn fire_taken(&self, run: &NewRun) -> Result<Option<StoreError>, StoreError> {
        let Some(fire) = &run.fire else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT run_id, host, started_at FROM runs WHERE fire_scope = ?1 AND fire_key = ?2",
        )
        .bind(&fire.scope)
        .bind(&fire.key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| self.fail("looking up a schedule fire", err))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let read = |err| self.fail("looking up a schedule fire", err);
        Ok(Some(StoreError::FireTaken(Box::new(TakenFire {
            at: self.at(),
            scope: fire.scope.clone(),
            key: fire.key.clone(),
            run_id: row.try_get("run_id").map_err(read)?,
            host: row.try_get("host").map_err(read)?,
            started_at: row.try_get("started_at").map_err(read)?,
        }))))
    }

    /// Fails with [`StoreError::Fenced`] unless `fence` holds, inside the caller's write
    /// transaction (so nothing can change it before the write commits).
    async fn check_fence(
        &self,
        conn: &mut SqliteConnection,
        fence: &Fence,
        doing: &'static str,
    ) -> Result<(), StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(concat!(
            "SELECT token, lease_until_ms - ",
            now_ms!(),
            " FROM locks WHERE key = ?1"
        ))
        .bind(&fence.key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|err| self.fail(doing, err))?;
        let left = match row {
            Some((token, left)) if token == fence.token => left,
            Some((token, _)) => {
                return Err(self.fenced(
                    fence,
                    format!(
                        "a newer holder has it (token {token}, this writer's {})",
                        fence.token
                    ),
                ))
            }
            None => return Err(self.fenced(fence, "the lock is no longer held".to_owned())),
        };
        if left <= millis(fence.outlast) {
            return Err(self.fenced(fence, lease_too_short(left, fence.outlast)));
        }
        Ok(())
    }

    fn fenced(&self, fence: &Fence, detail: String) -> StoreError {
        StoreError::Fenced {
            at: self.at(),
            key: fence.key.clone(),
            detail,
        }
    }

    async fn run_exists(&self, run_id: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = ?1)")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await
            .map_err(|err| self.fail("looking up a run", err))
    }
}

#[async_trait]
impl RunStore for SqliteStore {
    fn location(&self) -> String {
        self.at()
    }

    async fn begin_run(&self, run: &NewRun) -> Result<(), StoreError> {
        let started_at = normalize("started_at", &run.started_at)?;
        let inserted = sqlx::query(
            "INSERT INTO runs (run_id, runbook_name, runbook_path, runbook_digest, inputs, \
             lock_key, status, started_at, host, pid, fire_scope, fire_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(&run.run_id)
        .bind(&run.runbook_name)
        .bind(&run.runbook_path)
        .bind(&run.runbook_digest)
        .bind(run.inputs.to_string())
        .bind(&run.lock_key)
        .bind(RUNNING)
        .bind(started_at)
        .bind(&run.host)
        .bind(i64::from(run.pid))
        .bind(run.fire.as_ref().map(|fire| &fire.scope))
        .bind(run.fire.as_ref().map(|fire| &fire.key))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                if let Some(taken) = self.fire_taken(run).await? {
                    return Err(taken);
                }
                Err(StoreError::DuplicateRun {
                    at: self.at(),
                    run_id: run.run_id.clone(),
                })
            }
            Err(err) => Err(self.fail("recording a new run", err)),
        }
    }

    async fn acquire_lock(
        &self,
        key: &str,
        holder: &LockHolder,
        lease: Duration,
        is_alive: &(dyn for<'h> Fn(&'h LockHolder) -> bool + Sync),
    ) -> Result<LockOutcome, StoreError> {
        let since = normalize("since", &holder.since)?;
        let lease_ms = millis(lease);
        let doing = "taking a lock";
        let fail = |err| self.fail(doing, err);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(fail)?;
        let current = sqlx::query(concat!(
            "SELECT run_id, host, pid, since, token, lease_until_ms <= ",
            now_ms!(),
            " AS expired FROM locks WHERE key = ?1"
        ))
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
        let current = match current {
            None => None,
            Some(row) => {
                let token: i64 = row.try_get("token").map_err(fail)?;
                let expired: bool = row.try_get("expired").map_err(fail)?;
                Some((self.holder_from_row(&row)?, token, expired))
            }
        };
        let outcome = match current {
            Some((current, token, false)) if current.run_id == holder.run_id => {
                sqlx::query(concat!(
                    "UPDATE locks SET lease_until_ms = ",
                    now_ms!(),
                    " + ?2 WHERE key = ?1"
                ))
                .bind(key)
                .bind(lease_ms)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
                LockOutcome::Acquired {
                    lease: Lease {
                        key: key.to_owned(),
                        token,
                    },
                    took_over_from: None,
                }
            }
            Some((current, _, false)) if is_alive(&current) => LockOutcome::Held(current),
            previous => {
                let token: i64 = sqlx::query_scalar(
                    "UPDATE fencing_tokens SET last_token = last_token + 1 WHERE id = 1 \
                     RETURNING last_token",
                )
                .fetch_one(&mut *tx)
                .await
                .map_err(fail)?;
                sqlx::query(concat!(
                    "INSERT INTO locks (key, run_id, host, pid, since, token, lease_until_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ",
                    now_ms!(),
                    " + ?7) ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, \
                     host = excluded.host, pid = excluded.pid, since = excluded.since, \
                     token = excluded.token, lease_until_ms = excluded.lease_until_ms"
                ))
                .bind(key)
                .bind(&holder.run_id)
                .bind(&holder.host)
                .bind(i64::from(holder.pid))
                .bind(since)
                .bind(token)
                .bind(lease_ms)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
                LockOutcome::Acquired {
                    lease: Lease {
                        key: key.to_owned(),
                        token,
                    },
                    took_over_from: previous.map(|(holder, _, expired)| Previous {
                        holder,
                        gone: if expired {
                            Gone::LeaseExpired
                        } else {
                            Gone::ProcessGone
                        },
                    }),
                }
            }
        };
        tx.commit().await.map_err(fail)?;
        Ok(outcome)
    }

    async fn renew_lock(&self, key: &str, token: i64, lease: Duration) -> Result<bool, StoreError> {
        let renewed = sqlx::query(concat!(
            "UPDATE locks SET lease_until_ms = ",
            now_ms!(),
            " + ?3 WHERE key = ?1 AND token = ?2 AND lease_until_ms > ",
            now_ms!()
        ))
        .bind(key)
        .bind(token)
        .bind(millis(lease))
        .execute(&self.pool)
        .await
        .map_err(|err| self.fail("renewing a lock's lease", err))?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn release_lock(&self, key: &str, run_id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM locks WHERE key = ?1 AND run_id = ?2")
            .bind(key)
            .bind(run_id)
            .execute(&self.pool)
            .await
            .map_err(|err| self.fail("releasing a lock", err))?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn prepare_appends(&self) {
        // Each append kind has a connection of its own (see `SqliteStore`); a failure to open
        // one is the append's to report.
        let _ = tokio::join!(self.journal_pool.acquire(), self.durable_pool.acquire());
    }

    async fn append(
        &self,
        run_id: &str,
        events: &[NewEvent],
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
        let pool = if durable {
            &self.durable_pool
        } else {
            &self.journal_pool
        };
        let append_time = time_format::now();
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|err| self.fail(doing, err))?;
        if let Some(fence) = fence {
            self.check_fence(&mut tx, fence, doing).await?;
        }
        let (exists, last_seq): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = ?1), \
             (SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?1)",
        )
        .bind(run_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| self.fail(doing, err))?;
        if !exists {
            return Err(self.unknown_run(run_id));
        }
        // One statement per chunk, not per event: each statement is a round trip to the
        // connection's thread, and a step records several events.
        let rows: Vec<(i64, String, &str)> = (last_seq + 1..)
            .zip(events)
            .map(|(seq, event)| {
                let at = event
                    .at
                    .as_deref()
                    .and_then(|ts| normalize("ts", ts).ok())
                    .unwrap_or_else(|| append_time.clone());
                (seq, at, event.json.as_str())
            })
            .collect();
        let mut rest = rows.as_slice();
        for size in insert_sizes(rows.len()) {
            let (chunk, after) = rest.split_at(size);
            rest = after;
            let mut insert =
                QueryBuilder::<Sqlite>::new("INSERT INTO events (run_id, seq, at, event) ");
            insert.push_values(chunk, |mut row, (seq, at, event)| {
                row.push_bind(run_id)
                    .push_bind(seq)
                    .push_bind(at)
                    .push_bind(event);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|err| self.fail(doing, err))?;
        }
        tx.commit().await.map_err(|err| self.fail(doing, err))
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
        let doing = "recording the end of a run";
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|err| self.fail(doing, err))?;
        if let Some(fence) = fence {
            self.check_fence(&mut tx, fence, doing).await?;
        }
        let updated = sqlx::query(
            "UPDATE runs SET status = ?2, exit_code = ?3, finished_at = ?4, error = ?5 \
             WHERE run_id = ?1",
        )
        .bind(run_id)
        .bind(status)
        .bind(exit_code)
        .bind(finished_at)
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(|err| self.fail(doing, err))?;
        if updated.rows_affected() == 0 {
            return Err(self.unknown_run(run_id));
        }
        tx.commit().await.map_err(|err| self.fail(doing, err))
    }

    async fn claim_run(&self, run_id: &str, host: &str, pid: u32) -> Result<(), StoreError> {
        let doing = "claiming a run";
        let claimed = sqlx::query(
            "UPDATE runs SET host = ?2, pid = ?3 \
             WHERE run_id = ?1 AND finished_at IS NULL AND status = ?4",
        )
        .bind(run_id)
        .bind(host)
        .bind(i64::from(pid))
        .bind(RUNNING)
        .execute(&self.pool)
        .await
        .map_err(|err| self.fail(doing, err))?;
        if claimed.rows_affected() == 1 {
            return Ok(());
        }
        // Nothing changed: say whether the run is missing or already over.
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM runs WHERE run_id = ?1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| self.fail(doing, err))?;
        match status {
            None => Err(self.unknown_run(run_id)),
            Some(status) => Err(StoreError::RunFinished {
                at: self.at(),
                run_id: run_id.to_owned(),
                status,
            }),
        }
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        const LIST: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE (?1 IS NULL OR runbook_name = ?1) AND (?2 IS NULL OR status = ?2) \
             AND (?4 IS NULL OR lock_key = ?4) \
             AND (?5 IS NULL OR finished_at IS NULL OR finished_at >= ?5) \
             ORDER BY started_at DESC, run_id DESC LIMIT ?3"
        );
        let active_since = filter
            .active_since
            .as_deref()
            .map(|since| normalize("active_since", since))
            .transpose()?;
        let rows = sqlx::query(LIST)
            .bind(&filter.runbook_name)
            .bind(&filter.status)
            // SQLite reads a negative LIMIT as "no limit".
            .bind(filter.limit.map_or(-1, i64::from))
            .bind(&filter.lock_key)
            .bind(active_since)
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.fail("listing runs", err))?;
        rows.iter().map(|row| self.run_from_row(row)).collect()
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        const EXACT: &str = concat!("SELECT ", run_columns!(), " FROM runs WHERE run_id = ?1");
        // Three are enough to say "ambiguous" and show some of the candidates.
        const BY_PREFIX: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE substr(run_id, 1, length(?1)) = ?1 ORDER BY run_id LIMIT 3"
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
        let matches = rows
            .iter()
            .map(|row| self.run_from_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        rows::only_match(&self.at(), run_id, matches)
    }

    async fn events(&self, run_id: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT event FROM events WHERE run_id = ?1 ORDER BY seq")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await
                .map_err(|err| self.fail("reading a run's events", err))?;
        if texts.is_empty() && !self.run_exists(run_id).await? {
            return Err(self.unknown_run(run_id));
        }
        rows::events(&self.at(), run_id, &texts)
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
        let doing = "pruning old runs";
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|err| self.fail(doing, err))?;
        sqlx::query(
            "DELETE FROM events WHERE run_id IN (SELECT run_id FROM runs \
             WHERE finished_at IS NOT NULL AND finished_at < ?1 AND status <> ?2)",
        )
        .bind(&cutoff)
        .bind(RUNNING)
        .execute(&mut *tx)
        .await
        .map_err(|err| self.fail(doing, err))?;
        let deleted = sqlx::query(
            "DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?1 AND status <> ?2",
        )
        .bind(&cutoff)
        .bind(RUNNING)
        .execute(&mut *tx)
        .await
        .map_err(|err| self.fail(doing, err))?;
        tx.commit().await.map_err(|err| self.fail(doing, err))?;
        Ok(deleted.rows_affected())
    }
}

/// Creates the state directory, private to this user (0700) where it is created.
fn create_state_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// Creates the database file (mode 0600) if it is missing, so SQLite never creates it with
/// the umask's wider default; an empty file is a valid empty database.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|err| StoreError::Open {
            path: path.to_owned(),
            detail: err.to_string(),
        })
}

/// Switches the file to WAL (a persistent setting of the file, so only the first opener of a
/// new store changes anything). The switch needs an exclusive lock that SQLite does not wait
/// for with `busy_timeout`, so a `SQLITE_BUSY` here is retried until the timeout.
async fn ensure_wal(
    conn: &mut SqliteConnection,
    path: &Path,
    busy_timeout: Duration,
) -> Result<(), StoreError> {
    let doing = "switching the file to WAL mode";
    let deadline = Instant::now() + busy_timeout;
    let mut statement = "PRAGMA journal_mode";
    loop {
        match sqlx::query_scalar::<_, String>(statement)
            .fetch_one(&mut *conn)
            .await
        {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) if statement == "PRAGMA journal_mode" => statement = "PRAGMA journal_mode = WAL",
            Ok(mode) => {
                return Err(StoreError::Open {
                    path: path.to_owned(),
                    detail: format!("SQLite kept the journal mode {mode:?} instead of WAL"),
                })
            }
            Err(err) if is_busy(&err) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(err) => return Err(database_error(path, busy_timeout, doing, err)),
        }
    }
}

/// Brings the schema to the latest version. The version is read first without a write lock
/// (the usual case: nothing to do); otherwise, inside `BEGIN IMMEDIATE`, read again and apply
/// what is missing, so of several processes opening a new store at once one migrates and the
/// others find it done.
async fn migrate(
    conn: &mut SqliteConnection,
    path: &Path,
    busy_timeout: Duration,
) -> Result<(), StoreError> {
    let doing = "migrating the schema";
    let fail = |err| database_error(path, busy_timeout, doing, err);
    let latest = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let newer = |found| StoreError::NewerSchema {
        at: path.display().to_string(),
        found,
        supported: latest,
    };

    let found = schema_version(&mut *conn).await.map_err(fail)?;
    if found == latest {
        return Ok(());
    }
    if found > latest {
        return Err(newer(found));
    }

    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(fail)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version \
         (version INTEGER PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(fail)?;
    let found = schema_version(&mut tx).await.map_err(fail)?;
    if found > latest {
        return Err(newer(found));
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip_while(|(version, _)| *version <= found)
    {
        sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)")
            .bind(version)
            .bind(time_format::now())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
    }
    tx.commit().await.map_err(fail)
}

/// The schema version recorded in the file; 0 for a new file.
async fn schema_version(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !has_table {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *conn)
        .await
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED` (any extended code), or no pooled connection in time.
fn is_busy(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

fn database_error(
    path: &Path,
    busy_timeout: Duration,
    doing: &'static str,
    err: sqlx::Error,
) -> StoreError {
    if is_busy(&err) {
        StoreError::Busy {
            path: path.to_owned(),
            doing,
            waited: busy_timeout,
        }
    } else {
        StoreError::Database {
            at: path.display().to_string(),
            doing,
            detail: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn durable_appends_use_a_connection_that_fsyncs_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let level = |pool: SqlitePool| async move {
            sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        // 1 = NORMAL, 2 = FULL (https://sqlite.org/pragma.html#pragma_synchronous).
        assert_eq!(level(store.pool.clone()).await, 1);
        assert_eq!(level(store.journal_pool.clone()).await, 1);
        assert_eq!(level(store.durable_pool.clone()).await, 2);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.durable_pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn a_store_opens_on_one_connection_and_prepares_one_of_each_append_kind() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        // The set-up connection stays in the pool (closing the file's last connection would
        // checkpoint the WAL); the append connections open only when asked.
        let sizes = |store: &SqliteStore| {
            [&store.pool, &store.journal_pool, &store.durable_pool].map(|pool| pool.size())
        };
        assert_eq!(sizes(&store), [1, 0, 0]);
        store.prepare_appends().await;
        assert_eq!(sizes(&store), [1, 1, 1]);
        let latest = i64::try_from(MIGRATIONS.len()).unwrap();
        assert_eq!(store.schema_version().await.unwrap(), latest);
    }

    #[test]
    fn appends_of_every_length_use_eight_statement_shapes() {
        let mut shapes = std::collections::BTreeSet::new();
        for rows in 0..=1_000 {
            let sizes: Vec<usize> = insert_sizes(rows).collect();
            assert_eq!(sizes.iter().sum::<usize>(), rows, "{rows}: {sizes:?}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{rows}: {sizes:?}");
            shapes.extend(sizes);
        }
        assert_eq!(
            shapes.into_iter().collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 64, MAX_ROWS_PER_INSERT]
        );
    }
}
