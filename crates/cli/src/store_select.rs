//! Which run store a command uses — the shared PostgreSQL one (`--store`, `RUNBOOK_STORE`) or
//! the embedded SQLite one in the state directory — and what opening it failed with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use runbook_store::{RunStore, SqliteStore, StoreError};

use crate::exit;

/// The variable that points every command at a state directory.
pub const STATE_DIR_ENV: &str = "RUNBOOK_STATE_DIR";

/// The variable that points every command at a shared store.
pub const STORE_ENV: &str = "RUNBOOK_STORE";

/// Where the run store is.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The shared run store, for runs on several hosts: a PostgreSQL URL such as
    /// postgres://runbook:PASSWORD@db.internal/runbook?sslmode=verify-full&sslrootcert=ca.pem
    /// (or ?host=/socket/dir for a Unix socket). Wins over --state-dir.
    #[arg(long, value_name = "URL", env = STORE_ENV, hide_env_values = true, global = true)]
    pub store: Option<String>,
    /// The embedded run store's directory (default: $RUNBOOK_STATE_DIR, $XDG_STATE_HOME/runbook
    /// or ~/.local/state/runbook).
    #[arg(long, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// Whether a store was asked for explicitly (`--sandbox` uses one only then).
    pub fn given(&self) -> bool {
        self.store.is_some() || self.state_dir.is_some()
    }
}

/// A store that could not be opened: what to print, and the exit code that says whether
/// trying later may help.
#[derive(Debug)]
pub struct Unopened {
    pub message: String,
    pub code: u8,
}

impl Unopened {
    fn invalid(message: String) -> Unopened {
        Unopened {
            message,
            code: exit::INVALID,
        }
    }
}

impl From<StoreError> for Unopened {
    fn from(error: StoreError) -> Unopened {
        Unopened {
            code: code_for(&error),
            message: error.to_string(),
        }
    }
}

/// The exit code for a store failure: 75 (try later) when the store was busy or could not be
/// reached, 2 (fix the configuration) otherwise.
pub fn code_for(error: &StoreError) -> u8 {
    if error.is_temporary() {
        exit::SKIPPED
    } else {
        exit::INVALID
    }
}

/// Opens the store `args` select: `--store`/`RUNBOOK_STORE`, else the state directory.
pub async fn open(args: &StoreArgs) -> Result<Arc<dyn RunStore>, Unopened> {
    match args.store.as_deref().filter(|url| !url.trim().is_empty()) {
        Some(url) => open_url(url).await,
        None => {
            let dir = state_dir(args.state_dir.as_deref()).map_err(Unopened::invalid)?;
            let store = SqliteStore::open(&dir).await?;
            // Never closed: closing the file's last connection checkpoints the WAL into the
            // database and syncs it, milliseconds at the end of every command (racing the
            // process's exit). Nothing depends on it: a commit in the WAL survives the process,
            // durable appends are synced when they commit, and SQLite checkpoints as the WAL
            // grows during later appends.
            std::mem::forget(store.clone());
            Ok(Arc::new(store))
        }
    }
}

/// The store an [`open`] started on another task opened, once it has.
pub async fn opened(
    opening: tokio::task::JoinHandle<Result<Arc<dyn RunStore>, Unopened>>,
) -> Result<Arc<dyn RunStore>, Unopened> {
    opening.await.unwrap_or_else(|stopped| {
        Err(Unopened {
            message: format!("opening the run store stopped ({stopped}); run the command again"),
            code: exit::SKIPPED,
        })
    })
}

/// The state directory: `--state-dir`, else `$RUNBOOK_STATE_DIR`, `$XDG_STATE_HOME/runbook`,
/// `~/.local/state/runbook`.
fn state_dir(flag: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = flag {
        return Ok(dir.to_owned());
    }
    runbook_store::default_state_dir(|name| std::env::var(name).ok()).ok_or_else(|| {
        format!("no state directory: pass --state-dir DIR or set {STATE_DIR_ENV} (or HOME)")
    })
}

fn is_postgres(url: &str) -> bool {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
}

#[cfg(feature = "postgres")]
async fn open_url(url: &str) -> Result<Arc<dyn RunStore>, Unopened> {
    if !is_postgres(url) {
        return Err(not_postgres());
    }
    let store = runbook_store::PgStore::connect(url).await?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn open_url(url: &str) -> Result<Arc<dyn RunStore>, Unopened> {
    if !is_postgres(url) {
        return Err(not_postgres());
    }
    Err(Unopened::invalid(format!(
        "--store/{STORE_ENV}: this runbook was built without PostgreSQL support (the `postgres` feature); use --state-dir, or a build with it"
    )))
}

/// Never quotes the URL: it may hold a password.
fn not_postgres() -> Unopened {
    Unopened::invalid(format!(
        "--store/{STORE_ENV} takes a postgres:// (or postgresql://) URL; for the embedded store on this host, use --state-dir DIR instead"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_urls_select_the_shared_store() {
        assert!(is_postgres("postgres://u:p@db/runbook"));
        assert!(is_postgres("PostgreSQL://db/runbook?sslmode=require"));
        assert!(!is_postgres("sqlite:///var/lib/runbook"));
        assert!(!is_postgres("/var/lib/runbook"));
        assert!(!is_postgres("db.internal:5432"));
    }

    #[tokio::test]
    async fn a_store_url_of_another_kind_is_refused_without_quoting_it() {
        let args = StoreArgs {
            store: Some("mysql://admin:hunter2@db/runbook".to_owned()),
            state_dir: None,
        };
        let Err(refused) = open(&args).await else {
            panic!("a mysql URL was accepted");
        };
        assert_eq!(refused.code, exit::INVALID);
        assert!(!refused.message.contains("hunter2"), "{}", refused.message);
        assert!(
            refused.message.contains("postgres://"),
            "{}",
            refused.message
        );
    }
}
