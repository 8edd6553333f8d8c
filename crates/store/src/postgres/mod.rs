//! [`PgStore`]: the run store on a PostgreSQL server, shared by every host that runs runbooks
//! against it.
//!
//! The same semantics as [`SqliteStore`](crate::SqliteStore), kept by other means: SQLite has
//! one writer at a time, PostgreSQL many. Every transaction here is `READ COMMITTED` and
//! takes row locks (`SELECT … FOR UPDATE` / `FOR SHARE`, or the unique index of an `INSERT`)
//! on exactly the rows its decision rests on, always in the same order (a lock's row before a
//! run's), and re-reads after waiting. Deadlocks and serialization failures are retried.

mod failure;
mod rows;
mod schema;
mod store;
mod target;
mod transactions;

use std::fmt;
use std::time::Duration;

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use crate::StoreError;
use failure::{classify, Failure};
use schema::{migrate, schema_version};
use target::Target;

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

/// How long the server lets a session sit inside a transaction waiting for its client
/// before it ends the session (`idle_in_transaction_session_timeout`). The transactions here
/// never wait for anything but the network, so a longer wait means the client is frozen
/// (SIGSTOP, a hung VM) or cut off, and then the row locks it holds must not keep a new
/// holder from taking over its lock. Shorter than [`DEFAULT_LOCK_TIMEOUT`], so a waiting
/// taker outlasts a frozen holder's transaction.
pub const DEFAULT_IDLE_IN_TRANSACTION: Duration = Duration::from_secs(3);

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
    /// How long a session may sit idle inside a transaction
    /// ([`DEFAULT_IDLE_IN_TRANSACTION`]), unless the URL's `options` set
    /// `idle_in_transaction_session_timeout`.
    pub idle_in_transaction: Duration,
    /// At most this many connections to the server (4).
    pub max_connections: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            idle_in_transaction: DEFAULT_IDLE_IN_TRANSACTION,
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
/// [`location`]: crate::RunStore::location
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
}
