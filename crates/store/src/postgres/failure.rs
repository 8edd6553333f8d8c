//! What a failed operation tells the caller: the PostgreSQL error classified as the CLI
//! needs it, and conflicts (deadlocks, serialization failures) tried again first.

use std::future::Future;
use std::time::Duration;

use super::{PgOptions, PgStore};
use crate::StoreError;

/// How often a transaction that failed on a deadlock or a serialization failure is tried
/// again before the error is reported.
const CONFLICT_RETRIES: u32 = 5;

/// A failed attempt: a database error (retried when it is a conflict), or a decided answer.
pub(super) enum Failure {
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
    pub(super) fn fail(&self, doing: &'static str, err: sqlx::Error) -> StoreError {
        classify(
            &self.at,
            &self.place,
            self.socket.as_deref(),
            &self.options,
            doing,
            err,
        )
    }

    pub(super) fn settle(&self, doing: &'static str, failure: Failure) -> StoreError {
        match failure {
            Failure::Sql(err) => self.fail(doing, err),
            Failure::Store(err) => err,
        }
    }

    /// Runs `attempt` (one transaction) and, when it failed on a deadlock or a serialization
    /// failure, runs it again after a short random pause, a few times: such a failure means
    /// only that another session got in the way, and nothing of the attempt was committed.
    pub(super) async fn retrying<T, F, Fut>(
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
}

/// A deadlock or a serialization failure: the transaction was rolled back because another
/// one got in the way, and running it again is the remedy.
fn is_conflict(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

/// A failure as the CLI must see it: [`StoreError::Config`] for what trying again will not
/// fix, [`StoreError::Unreachable`] for what may pass, else [`StoreError::Database`].
pub(super) fn classify(
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
