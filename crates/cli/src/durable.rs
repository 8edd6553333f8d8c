//! What `runbook run` does with the run store: take the lock against overlapping runs (skip,
//! wait or allow) under a lease, find an unfinished run to resume (or refuse to guess),
//! record the run (once per schedule fire), journal it, and close it — or, when it is
//! suspended, leave it resumable.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hwc_client::runtime::Clock;
use runbook_lang::{LockPolicy, Runbook};
use runbook_runner::{Decision, Resume, RunState, RunStatus, StartedExecution};
use runbook_store::{
    Fire, Gone, LockHolder, LockOutcome, NewRun, Previous, RunFilter, RunRecord, RunStore,
    StoreError,
};
use serde_json::{json, Map, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::journal::Journal;
use crate::lease::{Holding, LeaseTiming};

/// How often a `wait` run looks at the lock again.
const LOCK_POLL: Duration = Duration::from_millis(250);

/// How long a `wait` run waits when the runbook has no `timeout`.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60 * 60);

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

/// A fresh run, or the resumption of one.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `runbook run`: resume an unfinished run of the same lock whose process is gone, unless
    /// `new` (then that run is marked abandoned and a new one starts).
    Fresh { new: bool },
    /// `runbook resume RUN_ID`, with what a person decided about the change it stopped at.
    Resume {
        run_id: String,
        decision: Option<Decision>,
    },
}

/// The status a run gets when `--new` starts afresh instead of resuming it.
pub const ABANDONED: &str = "abandoned";

/// Why a run did not start.
pub enum Refused {
    /// An unfinished run cannot be resumed safely by this command (the runbook or inputs
    /// changed, or its deadline passed): a person decides.
    Unfinished {
        run: Box<RunRecord>,
        why: String,
        executions: Vec<StartedExecution>,
    },
    /// Another live run holds the lock (policy `skip`, or `wait` ran out).
    Held {
        key: String,
        holder: LockHolder,
    },
    /// Another run has this schedule fire (`--fire-key`).
    FireTaken(String),
    Cancelled,
    /// The store is busy or cannot be reached: try later.
    Unavailable(String),
    Failed(String),
}

impl Refused {
    /// A store failure while `doing`: temporary ones say "try later".
    fn store(doing: &str, error: &StoreError) -> Refused {
        let message = format!("{doing}: {error}");
        if error.is_temporary() {
            Refused::Unavailable(message)
        } else {
            Refused::Failed(message)
        }
    }
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
    /// The schedule fire this run is for (`--fire-key`, `--fire-window`).
    pub fire: Option<String>,
    pub timing: LeaseTiming,
}

/// A run recorded in the store: its journal and the lock it holds until it finishes.
pub struct Recorded {
    store: Arc<dyn RunStore>,
    run_id: String,
    lock: Option<Arc<Holding>>,
    journal: Journal,
    /// Set when an unfinished run is resumed: its journal, read back.
    resume: Option<Resume>,
}

/// The lock as this invocation took it.
struct Taken {
    holding: Arc<Holding>,
    took_over_from: Option<Previous>,
}

/// Takes the lock as the runbook's policy says, records the run, and starts its journal.
pub async fn begin(
    store: Arc<dyn RunStore>,
    begin: Begin<'_>,
    mode: &Mode,
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
    let taken = take_lock(&store, &begin, key.clone(), &me, cancel, note).await?;
    let lock = taken.as_ref().map(|taken| Arc::clone(&taken.holding));
    let outcome = go_on(&store, &begin, mode, &key, taken, &me, cancel, note).await;
    match outcome {
        Ok(recorded) => Ok(recorded),
        Err(refused) => Err(release(&lock, refused).await),
    }
}

/// Holding the lock (or under `allow`): resume the unfinished run, or record a new one.
#[allow(clippy::too_many_arguments)]
async fn go_on(
    store: &Arc<dyn RunStore>,
    begin: &Begin<'_>,
    mode: &Mode,
    key: &str,
    taken: Option<Taken>,
    me: &LockHolder,
    cancel: &CancellationToken,
    note: &dyn Fn(&str),
) -> Result<Recorded, Refused> {
    // Holding the lock, no other live run of it exists: an unfinished one died or was
    // suspended.
    let unfinished = match (mode, &taken) {
        (Mode::Resume { run_id, .. }, _) => Some(resumable(&**store, run_id).await?),
        (Mode::Fresh { .. }, Some(_)) => unfinished_run(&**store, key, begin.run_id).await?,
        (Mode::Fresh { .. }, None) => None,
    };
    let lock = taken.as_ref().map(|taken| Arc::clone(&taken.holding));
    if let Some(run) = unfinished {
        if let Mode::Fresh { new: true } = mode {
            let reason = format!("abandoned: run {} started afresh with --new", begin.run_id);
            let now = runbook_runner::rfc3339(begin.clock.now_utc());
            let fence = lock.as_ref().map(|holding| holding.fence());
            store
                .finish_run(
                    &run.run_id,
                    ABANDONED,
                    1,
                    &now,
                    Some(&reason),
                    fence.as_ref(),
                )
                .await
                .map_err(|error| {
                    Refused::store(&format!("cannot mark run {} abandoned", run.run_id), &error)
                })?;
            note(&format!(
                "run {} is marked abandoned (--new); starting afresh",
                run.run_id
            ));
        } else {
            let decision = match mode {
                Mode::Resume { decision, .. } => decision.clone(),
                Mode::Fresh { .. } => None,
            };
            if let Some(previous) = taken.as_ref().and_then(|t| t.took_over_from.as_ref()) {
                wait_out(previous, begin.timing, key, cancel, note).await?;
            }
            return resume_run(store, begin, run, decision, &lock, me).await;
        }
    }
    // The run starts once it holds the lock (a `wait` run may have waited for it).
    let record = new_run(
        begin,
        lock.as_ref().map(|holding| holding.key()),
        Some(key),
        runbook_runner::rfc3339(begin.clock.now_utc()),
    );
    match store.begin_run(&record).await {
        Ok(()) => {}
        Err(StoreError::FireTaken(fire)) => {
            // A holder killed while it committed the fire's run can have that commit land
            // just after this host looked for unfinished runs: under the lock, an unfinished
            // run of this runbook is the one to resume, whenever it became visible.
            if let (Some(run), Mode::Fresh { new: false }) = (
                fire_run_to_resume(&**store, &fire.run_id, key, &taken).await,
                mode,
            ) {
                if let Some(previous) = taken.as_ref().and_then(|t| t.took_over_from.as_ref()) {
                    wait_out(previous, begin.timing, key, cancel, note).await?;
                }
                return resume_run(store, begin, run, None, &lock, me).await;
            }
            return Err(Refused::FireTaken(format!(
                "fire `{}` of `{key}` was already taken by run {} on {} (started {})",
                fire.key, fire.run_id, fire.host, fire.started_at
            )));
        }
        Err(error) => return Err(Refused::store("cannot record the run", &error)),
    }
    let journal = Journal::start(
        Arc::clone(store),
        begin.run_id.to_owned(),
        begin.clock.clone(),
        lock.clone(),
    );
    Ok(Recorded {
        store: Arc::clone(store),
        run_id: begin.run_id.to_owned(),
        lock,
        journal,
        resume: None,
    })
}

/// After taking over a lease that ran out, waits out one request timeout before looking at
/// what the old holder did: a request it sent just before its lease ran out may still land.
/// A holder whose process is gone sends nothing more, so there is nothing to wait for.
async fn wait_out(
    previous: &Previous,
    timing: LeaseTiming,
    key: &str,
    cancel: &CancellationToken,
    note: &dyn Fn(&str),
) -> Result<(), Refused> {
    if previous.gone != Gone::LeaseExpired {
        return Ok(());
    }
    note(&format!(
        "lock `{key}`: the lease of run {} (pid {} on {}) ran out; waiting {} for any request it sent to end before resuming the run",
        previous.holder.run_id,
        previous.holder.pid,
        previous.holder.host,
        humantime::format_duration(timing.request_timeout)
    ));
    tokio::select! {
        () = tokio::time::sleep(timing.request_timeout) => Ok(()),
        () = cancel.cancelled() => Err(Refused::Cancelled),
    }
}

/// Frees the lock this invocation took, and passes the refusal on.
async fn release(lock: &Option<Arc<Holding>>, refused: Refused) -> Refused {
    if let Some(holding) = lock {
        let _ = holding.release().await;
    }
    refused
}

/// The newest unfinished run recorded with this lock key, other than `me`.
/// The run that took the fire, if this host holds the lock and that run is unfinished under
/// it.
async fn fire_run_to_resume(
    store: &dyn RunStore,
    run_id: &str,
    key: &str,
    taken: &Option<Taken>,
) -> Option<RunRecord> {
    taken.as_ref()?;
    let run = store.get_run(run_id).await.ok()??;
    (run.status == runbook_store::RUNNING && run.lock_key.as_deref() == Some(key)).then_some(run)
}

async fn unfinished_run(
    store: &dyn RunStore,
    key: &str,
    me: &str,
) -> Result<Option<RunRecord>, Refused> {
    let filter = RunFilter {
        lock_key: Some(key.to_owned()),
        status: Some(runbook_store::RUNNING.to_owned()),
        ..RunFilter::default()
    };
    let runs = store
        .list_runs(&filter)
        .await
        .map_err(|error| Refused::store("cannot look for unfinished runs", &error))?;
    Ok(runs.into_iter().find(|run| run.run_id != me))
}

/// The run `runbook resume RUN_ID` names: unfinished, and not running anywhere this host
/// can see.
async fn resumable(store: &dyn RunStore, run_id: &str) -> Result<RunRecord, Refused> {
    let run = match store.get_run(run_id).await {
        Ok(Some(run)) => run,
        Ok(None) => return Err(Refused::Failed(format!("no run {run_id} in the run store"))),
        Err(error) => return Err(Refused::store("cannot look up the run", &error)),
    };
    if run.status != runbook_store::RUNNING {
        return Err(Refused::Failed(format!(
            "run {} has already finished ({}); a finished run cannot be resumed",
            run.run_id, run.status
        )));
    }
    if run.host == runbook_store::host_name()
        && run.pid != std::process::id()
        && runbook_store::process_is_alive(run.pid)
    {
        return Err(Refused::Failed(format!(
            "run {} is still running (pid {} on {}); stop it first, or wait",
            run.run_id, run.pid, run.host
        )));
    }
    Ok(run)
}

/// Resumes `run` when it is the same job — the same runbook text and non-secret inputs —
/// and its deadline has not passed; otherwise refuses, saying why.
async fn resume_run(
    store: &Arc<dyn RunStore>,
    begin: &Begin<'_>,
    run: RunRecord,
    decision: Option<Decision>,
    lock: &Option<Arc<Holding>>,
    me: &LockHolder,
) -> Result<Recorded, Refused> {
    let events = store
        .events(&run.run_id)
        .await
        .map_err(|error| Refused::store(&format!("cannot read run {}", run.run_id), &error))?;
    let mut resume = Resume::from_journal(run.started_at.clone(), &events)
        .map_err(|error| Refused::Failed(format!("cannot resume run {}: {error}", run.run_id)))?;
    let record = new_run(
        begin,
        lock.as_ref().map(|holding| holding.key()),
        None,
        run.started_at.clone(),
    );
    let written_by_older = events
        .iter()
        .any(|e| e["version"].as_u64() != Some(u64::from(runbook_runner::FORMAT_VERSION)));
    let why = if written_by_older {
        Some(format!(
            "its journal was written by another version of runbook (journal version {} here), which this one cannot resume from",
            runbook_runner::FORMAT_VERSION
        ))
    } else if record.runbook_digest != run.runbook_digest {
        Some(format!(
            "the runbook changed since it started ({} then, {} now)",
            run.runbook_digest, record.runbook_digest
        ))
    } else if record.inputs != run.inputs {
        Some(format!(
            "its inputs differ: it ran with {}, this command gives {}",
            run.inputs, record.inputs
        ))
    } else {
        deadline_passed(begin, &run)
    };
    if let Some(why) = why {
        let executions = resume.executions().to_vec();
        return Err(Refused::Unfinished {
            run: Box::new(run),
            why,
            executions,
        });
    }
    if let Some(holding) = lock {
        // Hand this invocation's hold on the lock to the resumed run, atomically.
        let key = holding.key();
        let holder = LockHolder {
            run_id: run.run_id.clone(),
            ..me.clone()
        };
        let mine = me.run_id.clone();
        let asked = Instant::now();
        holding.hand_over();
        let handed = store
            .acquire_lock(
                &key,
                &holder,
                begin.timing.lease,
                &move |current: &LockHolder| current.run_id != mine,
            )
            .await;
        match handed {
            Ok(LockOutcome::Acquired { lease, .. }) => {
                holding.replace(lease, run.run_id.clone(), asked);
            }
            _ => {
                return Err(Refused::Failed(format!(
                    "cannot hand the lock `{key}` to run {}",
                    run.run_id
                )))
            }
        }
    }
    store
        .claim_run(&run.run_id, &me.host, me.pid)
        .await
        .map_err(|error| Refused::store("cannot claim the run", &error))?;
    resume.decision = decision;
    let journal = Journal::start(
        Arc::clone(store),
        run.run_id.clone(),
        begin.clock.clone(),
        lock.clone(),
    );
    Ok(Recorded {
        store: Arc::clone(store),
        run_id: run.run_id,
        lock: lock.clone(),
        journal,
        resume: Some(resume),
    })
}

/// Why the run's deadline (its `timeout`, from when it first started) has passed, if it has.
fn deadline_passed(begin: &Begin<'_>, run: &RunRecord) -> Option<String> {
    let timeout = begin.runbook.timeout?.0;
    let started = time::OffsetDateTime::parse(
        &run.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    let deadline = hwc_client::runtime::saturating_after(started, timeout);
    (begin.clock.now_utc() >= deadline).then(|| {
        format!(
            "its deadline passed at {} (timeout {} from {})",
            runbook_runner::rfc3339(deadline),
            humantime::format_duration(timeout),
            run.started_at
        )
    })
}

impl Recorded {
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The unfinished run's journal read back, when this is a resumption.
    pub fn take_resume(&mut self) -> Option<Resume> {
        self.resume.take()
    }

    /// The lock this run holds, if any: cancelled when it is lost.
    pub fn lock(&self) -> Option<&Arc<Holding>> {
        self.lock.as_ref()
    }

    /// Writes the final state and the rest of the journal, records the end, frees the lock.
    /// A suspended run is not ended: the next `runbook run` (or `runbook resume`) goes on.
    /// `state` is left as it was (see [`Journal::final_state`]).
    pub async fn finish(self, state: &mut RunState, exit_code: u8) {
        self.journal.final_state(state, exit_code);
        self.journal.close().await;
        if state.status == RunStatus::Suspended {
            self.release_lock().await;
            return;
        }
        let finished_at = state.finished_at.clone().unwrap_or_default();
        let recorded = self
            .store
            .finish_run(
                &self.run_id,
                state.status.name(),
                i32::from(exit_code),
                &finished_at,
                state.error.as_deref(),
                self.lock.as_ref().map(|holding| holding.fence()).as_ref(),
            )
            .await;
        if let Err(error) = recorded {
            errln!("warning: cannot record the end of the run: {error}");
        }
        self.release_lock().await;
    }

    /// Stops renewing the lock and frees it. (A lock that was lost is someone else's now:
    /// the store releases only the holder's.)
    async fn release_lock(&self) {
        if let Some(holding) = &self.lock {
            if let Err(error) = holding.release().await {
                errln!(
                    "warning: cannot release the lock `{}`: {error}",
                    holding.key()
                );
            }
        }
    }
}

/// Takes the lock as the runbook's policy says, and starts renewing it; `Ok(None)` under
/// `allow`.
async fn take_lock(
    store: &Arc<dyn RunStore>,
    begin: &Begin<'_>,
    key: String,
    me: &LockHolder,
    cancel: &CancellationToken,
    note: &dyn Fn(&str),
) -> Result<Option<Taken>, Refused> {
    let runbook = begin.runbook;
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
        let asked = Instant::now();
        match store
            .acquire_lock(&key, me, begin.timing.lease, &is_alive)
            .await
        {
            Ok(LockOutcome::Acquired {
                lease,
                took_over_from,
            }) => {
                if let Some(previous) = &took_over_from {
                    let gone = match previous.gone {
                        Gone::ProcessGone => "is gone",
                        Gone::LeaseExpired => "let its lease run out",
                    };
                    let dead = &previous.holder;
                    note(&format!(
                        "lock `{key}`: run {} (pid {} on {}) {gone}; taking its lock",
                        dead.run_id, dead.pid, dead.host
                    ));
                }
                let holding = Holding::start(
                    Arc::clone(store),
                    lease,
                    me.run_id.clone(),
                    asked,
                    begin.timing,
                );
                return Ok(Some(Taken {
                    holding: Arc::new(holding),
                    took_over_from,
                }));
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
            Err(error) => return Err(Refused::store("cannot take the lock", &error)),
        }
        tokio::select! {
            () = tokio::time::sleep(LOCK_POLL) => {}
            () = cancel.cancelled() => return Err(Refused::Cancelled),
        }
    }
}

/// The run as the store records it when it begins.
/// `fire_scope` is whose schedule a fresh run's fire belongs to (the lock key, also under
/// `allow`); a resumed run keeps the fire it was recorded with.
fn new_run(
    begin: &Begin<'_>,
    lock_key: Option<String>,
    fire_scope: Option<&str>,
    started_at: String,
) -> NewRun {
    NewRun {
        run_id: begin.run_id.to_owned(),
        runbook_name: begin.runbook.name.clone(),
        runbook_path: begin.path.display().to_string(),
        runbook_digest: crate::plan::runbook_digest(begin.text),
        inputs: Value::Object(begin.shown_inputs.clone()),
        lock_key,
        started_at,
        host: runbook_store::host_name(),
        pid: std::process::id(),
        fire: fire_scope
            .zip(begin.fire.as_ref())
            .map(|(scope, key)| Fire {
                scope: scope.to_owned(),
                key: key.clone(),
            }),
    }
}

/// The executions of `workflow_id` recorded by runs that were still running at or after
/// `since`: a lost start is never matched to one of them.
pub async fn known_executions(
    store: &dyn RunStore,
    workflow_id: &str,
    since: &str,
) -> Result<Vec<String>, String> {
    let filter = RunFilter {
        active_since: Some(since.to_owned()),
        ..RunFilter::default()
    };
    let runs = store.list_runs(&filter).await.map_err(|e| e.to_string())?;
    let mut known = Vec::new();
    for run in runs {
        let events = store.events(&run.run_id).await.map_err(|e| e.to_string())?;
        known.extend(events.iter().filter_map(|event| {
            let started =
                event["event"] == "execution_started" && event["workflow_id"] == workflow_id;
            started
                .then(|| event["execution_id"].as_str().map(str::to_owned))
                .flatten()
        }));
    }
    Ok(known)
}
