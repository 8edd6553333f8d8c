//! What `runbook run` does with the run store: find it, take the lock against overlapping
//! runs (skip, wait or allow), record the run, journal it, and close it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hwc_client::runtime::Clock;
use runbook_lang::{LockPolicy, Runbook};
use runbook_runner::RunState;
use runbook_store::{LockHolder, LockOutcome, NewRun, RunStore, SqliteStore};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::journal::Journal;

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
fn lock_key(
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

/// What a run that is about to start tells the store.
pub struct Begin<'a> {
    pub run_id: &'a str,
    pub runbook: &'a Runbook,
    pub path: &'a Path,
    /// The runbook's text, whose digest is recorded.
    pub text: &'a str,
    /// The inputs with secret ones as `***`.
    pub shown_inputs: &'a Map<String, Value>,
    pub project_id: &'a str,
    pub clock: Arc<dyn Clock>,
}

/// A run recorded in the store: its journal and the lock it holds until it finishes.
pub struct Recorded {
    store: Arc<dyn RunStore>,
    run_id: String,
    lock: Option<String>,
    journal: Journal,
}

/// Takes the lock as the runbook's policy says, records the run, and starts its journal.
pub async fn begin(
    store: Arc<dyn RunStore>,
    begin: Begin<'_>,
    cancel: &CancellationToken,
    note: &dyn Fn(&str),
) -> Result<Recorded, Refused> {
    let key =
        lock_key(begin.runbook, begin.shown_inputs, begin.project_id).map_err(Refused::Failed)?;
    let me = LockHolder {
        run_id: begin.run_id.to_owned(),
        host: runbook_store::host_name(),
        pid: std::process::id(),
        since: runbook_runner::rfc3339(begin.clock.now_utc()),
    };
    let lock = take_lock(&*store, begin.runbook, key, &me, cancel, note).await?;
    // The run starts once it holds the lock (a `wait` run may have waited for it).
    let record = new_run(
        &begin,
        lock.clone(),
        runbook_runner::rfc3339(begin.clock.now_utc()),
    );
    if let Err(error) = store.begin_run(&record).await {
        if let Some(key) = &lock {
            let _ = store.release_lock(key, begin.run_id).await;
        }
        return Err(Refused::Failed(format!("cannot record the run: {error}")));
    }
    let journal = Journal::start(Arc::clone(&store), begin.run_id.to_owned(), begin.clock);
    Ok(Recorded {
        store,
        run_id: begin.run_id.to_owned(),
        lock,
        journal,
    })
}

impl Recorded {
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Writes the final state and the rest of the journal, records the end, frees the lock.
    pub async fn finish(self, state: &RunState, exit_code: u8) {
        self.journal.final_state(state, exit_code);
        self.journal.close().await;
        let finished_at = state.finished_at.clone().unwrap_or_default();
        let recorded = self
            .store
            .finish_run(
                &self.run_id,
                state.status.name(),
                i32::from(exit_code),
                &finished_at,
                state.error.as_deref(),
            )
            .await;
        if let Err(error) = recorded {
            eprintln!("warning: cannot record the end of the run: {error}");
        }
        if let Some(key) = &self.lock {
            if let Err(error) = self.store.release_lock(key, &self.run_id).await {
                eprintln!("warning: cannot release the lock `{key}`: {error}");
            }
        }
    }
}

/// Takes the lock as the runbook's policy says; `Ok(None)` under `allow`.
async fn take_lock(
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
            Err(error) => return Err(Refused::Failed(format!("cannot take the lock: {error}"))),
        }
        tokio::select! {
            () = tokio::time::sleep(LOCK_POLL) => {}
            () = cancel.cancelled() => return Err(Refused::Cancelled),
        }
    }
}

/// The run as the store records it when it begins.
fn new_run(begin: &Begin<'_>, lock_key: Option<String>, started_at: String) -> NewRun {
    NewRun {
        run_id: begin.run_id.to_owned(),
        runbook_name: begin.runbook.name.clone(),
        runbook_path: begin.path.display().to_string(),
        runbook_digest: format!(
            "sha256:{}",
            hex::encode(Sha256::digest(begin.text.as_bytes()))
        ),
        inputs: Value::Object(begin.shown_inputs.clone()),
        lock_key,
        started_at,
        host: runbook_store::host_name(),
        pid: std::process::id(),
    }
}
