//! What `runbook run` does with the run store: find it, take the lock against overlapping
//! runs (skip, wait or allow), record the run, journal it, and close it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use runbook_lang::{LockPolicy, Runbook};
use runbook_store::{LockHolder, LockOutcome, NewRun, RunStore, SqliteStore};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The variable that points every command at a state directory.
pub const STATE_DIR_ENV: &str = "RUNBOOK_STATE_DIR";

/// How often a `wait` run looks at the lock again.
const LOCK_POLL: Duration = Duration::from_millis(250);

/// How long a `wait` run waits when the runbook has no `timeout`.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60 * 60);

/// The state directory: `--state-dir`, else `$RUNBOOK_STATE_DIR`, `$XDG_STATE_HOME/runbook`,
/// `~/.local/state/runbook`.
pub fn state_dir(flag: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = flag {
        return Ok(dir.to_owned());
    }
    runbook_store::default_state_dir(|name| std::env::var(name).ok()).ok_or_else(|| {
        format!("no state directory: pass --state-dir DIR or set {STATE_DIR_ENV} (or HOME)")
    })
}

pub async fn open(dir: &Path) -> Result<Arc<dyn RunStore>, String> {
    SqliteStore::open(dir)
        .await
        .map(|store| Arc::new(store) as Arc<dyn RunStore>)
        .map_err(|error| error.to_string())
}

/// The lock's key: the runbook's `lock.key` rendered over its inputs (only non-secret ones,
/// the validator makes sure), else its name and target project.
pub fn lock_key(
    runbook: &Runbook,
    inputs: &Map<String, Value>,
    project: &str,
) -> Result<String, String> {
    let Some(template) = runbook.lock.as_ref().and_then(|lock| lock.key.as_ref()) else {
        return Ok(format!("{}@{project}", runbook.name));
    };
    let engine = runbook_lang::template::Engine::default();
    let context = runbook_lang::template::to_jinja(&json!({ "inputs": inputs }));
    let key = engine
        .render_text(template, &context)
        .map_err(|error| format!("lock.key: {error}"))?;
    if key.trim().is_empty() {
        return Err("lock.key renders to an empty key".to_owned());
    }
    Ok(key)
}

/// Why a run did not start.
pub enum Refused {
    /// Another live run holds the lock (policy `skip`, or `wait` ran out).
    Held {
        key: String,
        holder: LockHolder,
    },
    Cancelled,
    Failed(String),
}

/// Takes the lock as the runbook's policy says; `Ok(None)` under `allow`.
pub async fn take_lock(
    store: &dyn RunStore,
    runbook: &Runbook,
    key: String,
    me: &LockHolder,
    cancel: &CancellationToken,
    note: &dyn Fn(&str),
) -> Result<Option<String>, Refused> {
    let policy = runbook.lock.as_ref().map(|l| l.policy).unwrap_or_default();
    if policy == LockPolicy::Allow {
        return Ok(None);
    }
    let this_host = runbook_store::host_name();
    let is_alive = move |holder: &LockHolder| {
        holder.host != this_host || runbook_store::process_is_alive(holder.pid)
    };
    let patience = runbook.timeout.map_or(DEFAULT_LOCK_WAIT, |t| t.0);
    let began = std::time::Instant::now();
    let mut told = false;
    loop {
        match store.acquire_lock(&key, me, &is_alive).await {
            Ok(LockOutcome::Acquired { took_over_from }) => {
                if let Some(dead) = took_over_from {
                    note(&format!(
                        "lock `{key}`: run {} (pid {} on {}) is gone; taking its lock",
                        dead.run_id, dead.pid, dead.host
                    ));
                }
                return Ok(Some(key));
            }
            Ok(LockOutcome::Held(holder)) => {
                if policy == LockPolicy::Skip || began.elapsed() >= patience {
                    return Err(Refused::Held { key, holder });
                }
                if !told {
                    note(&format!(
                        "lock `{key}`: waiting for run {} (pid {} on {}, since {})",
                        holder.run_id, holder.pid, holder.host, holder.since
                    ));
                    told = true;
                }
            }
            Err(error) => return Err(Refused::Failed(error.to_string())),
        }
        tokio::select! {
            () = tokio::time::sleep(LOCK_POLL) => {}
            () = cancel.cancelled() => return Err(Refused::Cancelled),
        }
    }
}

/// The run as the store records it when it begins.
pub fn new_run(
    run_id: &str,
    runbook: &Runbook,
    path: &Path,
    text: &str,
    shown_inputs: &Map<String, Value>,
    lock_key: Option<String>,
    started_at: String,
) -> NewRun {
    NewRun {
        run_id: run_id.to_owned(),
        runbook_name: runbook.name.clone(),
        runbook_path: path.display().to_string(),
        runbook_digest: format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes()))),
        inputs: Value::Object(shown_inputs.clone()),
        lock_key,
        started_at,
        host: runbook_store::host_name(),
        pid: std::process::id(),
    }
}
