//! The schema: its migrations, and applying them once however many hosts start at once.

use sqlx::postgres::PgConnection;
use sqlx::Connection;

use super::failure::Failure;
use crate::time_format;
use crate::StoreError;

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
pub(super) const FIRE_INDEX: &str = "runs_by_fire";

/// Brings the schema to the latest version. The version is read first without a lock (the
/// usual case: nothing to do); otherwise, in a transaction holding the advisory lock
/// [`MIGRATION_LOCK`], read again and apply what is missing, so of several hosts migrating at
/// once one does it and the others find it done. DDL is transactional in PostgreSQL: a
/// migration that fails leaves nothing behind.
pub(super) async fn migrate(conn: &mut PgConnection, at: &str) -> Result<(), Failure> {
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
pub(super) async fn schema_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
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
