//! The writes that decide on what they read (take a lock, append, finish, prune), one attempt
//! each: a transaction that locks the rows its decision rests on, so an attempt a conflict
//! rolled back can simply run again.

use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::failure::Failure;
use super::PgStore;
use crate::lease::{lease_too_short, millis};
use crate::{Fence, Gone, Lease, LockHolder, LockOutcome, Previous, StoreError, RUNNING};

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
pub(super) use from_now;

impl PgStore {
    /// A `READ COMMITTED` transaction, whatever the database's default isolation: the row
    /// locks below are what make the operations safe, and they are written for it.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
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

    /// One attempt at `acquire_lock`, in one transaction. `ask` stands for the caller's
    /// `is_alive`, answered at most once per holder across attempts.
    pub(super) async fn try_acquire_lock(
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
    pub(super) async fn try_append(
        &self,
        run_id: &str,
        batch: &[(String, &str)],
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
        let (ats, texts): (Vec<&str>, Vec<&str>) =
            batch.iter().map(|(at, text)| (at.as_str(), *text)).unzip();
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

    pub(super) async fn try_finish_run(
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

    pub(super) async fn try_prune(&self, cutoff: &str) -> Result<u64, Failure> {
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
