//! [`RunStore`] for [`PgStore`]: the operations, each a query or a retried transaction.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;

use super::failure::Failure;
use super::schema::{schema_version, FIRE_INDEX};
use super::transactions::from_now;
use super::PgStore;
use crate::lease::millis;
use crate::rows::{self, run_columns};
use crate::time_format::{self, normalize};
use crate::{
    Fence, LockHolder, LockOutcome, NewEvent, NewRun, RunFilter, RunRecord, RunStore, StoreError,
    TakenFire, RUNNING,
};

/// The longest lease the server is asked for (about 31 years): longer ones are as good as
/// endless, and a timestamp far enough out would overflow.
const MAX_LEASE_MS: i64 = 1_000_000_000_000;

impl PgStore {
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

    async fn run_exists(&self, run_id: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = $1)")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await
            .map_err(|err| self.fail("looking up a run", err))
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
        let append_time = time_format::now();
        let batch: Vec<(String, &str)> = events
            .iter()
            .map(|event| {
                let at = event
                    .at
                    .as_deref()
                    .and_then(|ts| normalize("ts", ts).ok())
                    .unwrap_or_else(|| append_time.clone());
                (at, event.json.as_str())
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
        let matches = rows
            .iter()
            .map(|row| self.run_from_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        rows::only_match(&self.at, run_id, matches)
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
        rows::events(&self.at, run_id, &texts)
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
