//! The runner and one run. `Runner` holds what every run shares (client, environment,
//! observer, tokens); `Run` is one run's state, and its methods are cut by concern:
//!
//! - `steps.rs` — the order of the steps: `when`, `on_failure` routing, outputs, the end;
//! - `attempts.rs` — one step: its deadline, its elements, each element's retries;
//! - `deadline.rs` — deadlines and cancellation: every wait goes through [`Run::pause`] on the
//!   injected clock and sleeper, and deadlines are checked, not raced against a timer;
//! - `context.rs` — the template context and what a render reads that is secret;
//! - `record.rs` — recording statuses, results, executions, variables and checkpoints;
//! - `templated.rs` — durations and counts written as templates, rendered and bounded.
//!
//! The actions are `actions.rs` and `wait.rs`, a `for_each` is `fan_out.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use hwc_client::{Client, Environment};
use runbook_lang::template::{Engine, Sources};
use runbook_lang::Runbook;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::event::{Event, Observer};
use crate::redact::Redactor;
use crate::resume::{Ledger, Phase, Position, Resume};
use crate::state::{Decision, RunState, RunStatus};
use crate::targets::{NoTargets, Reachable, Targets};
use crate::template_values::TemplateValues;

mod attempts;
mod block;
mod context;
mod deadline;
mod record;
mod steps;
mod sub_runbook;
mod templated;

pub use block::owner;
pub(crate) use context::Locals;
pub(crate) use deadline::Deadline;
pub(crate) use templated::as_written;

/// How long, by default, a request that starts or changes something may still answer after
/// the run is cancelled or its deadline passes.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// How far before a lost start its execution may have begun by the service's clock: clocks
/// differ, and a request waits in queues before it is applied.
pub const DEFAULT_RECONCILE_SKEW: Duration = Duration::from_secs(60);

/// How long to wait before listing a second time when a lost start's execution is not
/// listed: a service may list a new execution a moment after it starts it.
pub const RECONCILE_SETTLE: Duration = Duration::from_secs(2);

/// Runs runbooks with one client, one environment (clock, sleep, randomness) and one
/// observer. A clone shares the tokens: cancelling one cancels the other's runs.
#[derive(Clone)]
pub struct Runner {
    client: Client,
    /// Clients for the targets steps name.
    targets: Arc<dyn Targets>,
    environment: Environment,
    observer: Arc<dyn Observer>,
    cancel: CancellationToken,
    abort: CancellationToken,
    suspending: Arc<AtomicBool>,
    grace: Duration,
    skew: Duration,
}

/// Suspends a run (SIGTERM): it stops as a cancellation would — a change in flight gets its
/// grace — but runs no `finally` and stays resumable.
#[derive(Clone)]
pub struct Suspender {
    suspending: Arc<AtomicBool>,
    cancel: CancellationToken,
}

impl Suspender {
    pub fn suspend(&self) {
        self.suspending.store(true, Ordering::SeqCst);
        self.cancel.cancel();
    }
}

/// What a run is given besides the runbook.
#[derive(Debug, Clone, Default)]
pub struct RunInput {
    /// The run's id, unique across runs (the CLI makes a UUIDv7); when empty, one is drawn
    /// from the environment's random source, which tests seed.
    pub run_id: String,
    /// Typed inputs (see [`crate::inputs::resolve`]).
    pub inputs: Map<String, Value>,
    /// The allow-listed environment variables that are set.
    pub env: Map<String, Value>,
    /// Secrets besides the secret inputs, e.g. the credentials' secret key and token.
    pub secrets: Vec<String>,
}

impl Runner {
    pub fn new(client: Client, environment: Environment, observer: Arc<dyn Observer>) -> Self {
        Self {
            client,
            targets: Arc::new(NoTargets),
            environment,
            observer,
            cancel: CancellationToken::new(),
            abort: CancellationToken::new(),
            suspending: Arc::new(AtomicBool::new(false)),
            grace: DEFAULT_GRACE,
            skew: DEFAULT_RECONCILE_SKEW,
        }
    }

    /// How far before a lost start its execution may have begun
    /// ([`DEFAULT_RECONCILE_SKEW`] unless set).
    pub fn with_reconcile_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// How clients for the targets steps name are built; without it such a step fails.
    pub fn with_targets(mut self, targets: Arc<dyn Targets>) -> Self {
        self.targets = targets;
        self
    }

    /// Suspending stops the run so that it can be resumed (see [`Suspender`]).
    pub fn suspender(&self) -> Suspender {
        Suspender {
            suspending: Arc::clone(&self.suspending),
            cancel: self.cancel.clone(),
        }
    }

    /// How long a request that starts or changes something may still answer after a
    /// cancellation or its deadline ([`DEFAULT_GRACE`] unless set).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Cancelling this token stops the run at its next wait or request; a request that
    /// changes something gets the grace to answer, then the `finally` steps run.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Cancelling this token stops everything at once, `finally` steps and graces included
    /// (a second signal).
    pub fn abort_token(&self) -> CancellationToken {
        self.abort.clone()
    }

    /// Runs `runbook` to the end and returns its final state. The run shares the runbook
    /// rather than copying it: a long one is megabytes.
    pub async fn run(&self, runbook: Arc<Runbook>, input: RunInput) -> RunState {
        // A participant of virtual time: the clock moves only while the run waits.
        let run = self.go(runbook, input, None);
        self.environment.participate(run).await
    }

    /// Goes on with a run read back from its journal: finished steps keep their results, the
    /// interrupted step runs again and settles every change it had sent (see `resume.rs`).
    /// `input.run_id` must be the run's id; secret inputs are given again.
    pub async fn resume(&self, runbook: Arc<Runbook>, input: RunInput, resume: Resume) -> RunState {
        let run = self.go(runbook, input, Some(resume));
        self.environment.participate(run).await
    }

    async fn go(&self, runbook: Arc<Runbook>, input: RunInput, resume: Option<Resume>) -> RunState {
        let clock = self.environment.clock.clone();
        let random = self.environment.random.clone();
        let run_id = if input.run_id.is_empty() {
            uuid(&*random)
        } else {
            input.run_id
        };
        let engine = Engine::new(Sources {
            now: Arc::new(move || rfc3339(clock.now_utc())),
            uuid: Arc::new(move || uuid(&*random)),
        });
        let now = self.environment.clock.elapsed();
        // A resumed run's deadline counts from when it first started.
        let age = resume.as_ref().map_or(Duration::ZERO, |resume| {
            age_of(&resume.started_at, self.environment.clock.now_utc())
        });
        let started = now.saturating_sub(age);
        let redactor = Redactor::new(input.secrets);
        for (name, value) in &input.inputs {
            if runbook.inputs.get(name).is_some_and(|spec| spec.secret) {
                redactor.add_value(value);
            }
        }
        let shown_inputs = crate::inputs::shown(&runbook, &input.inputs);
        let mut state = RunState::new(
            run_id.clone(),
            &runbook,
            rfc3339(self.environment.clock.now_utc()),
            match redactor.value(Value::Object(shown_inputs)) {
                Value::Object(shown) => shown,
                _ => Map::new(),
            },
        );
        let resuming = resume.is_some();
        let resumed_step = resume
            .as_ref()
            .and_then(|resume| resume.next_step(&runbook))
            .map(str::to_owned);
        let restored = resume.map(|resume| resume.restore(&mut state));
        let (results, vars, masked, position, decision, ledger) = match restored {
            Some(restored) => (
                restored.results,
                restored.vars,
                restored.masked,
                restored.position,
                restored.decision,
                restored.ledger,
            ),
            None => (
                Map::new(),
                Map::new(),
                Vec::new(),
                Position::START,
                None,
                Ledger::default(),
            ),
        };
        let template_values =
            TemplateValues::new(&input.inputs, &input.env, &state, results, vars, &redactor);
        let run = Arc::new_cyclic(|this| Run {
            this: this.clone(),
            runner: self.clone(),
            runbook: Arc::clone(&runbook),
            engine,
            started,
            deadline: runbook.timeout.map(|t| started.saturating_add(t.0)),
            state: Mutex::new(state),
            template_values,
            changed_vars: Mutex::default(),
            references: Mutex::new(HashMap::new()),
            redactor,
            in_finally: AtomicBool::new(false),
            ledger,
            decision: Mutex::new(decision),
            resumed_step: Mutex::new(resumed_step.clone()),
            starts_in_flight: Default::default(),
            reachable: Reachable::default(),
        });
        for id in &masked {
            run.recompute(id);
        }
        if resuming {
            let executions = run.read_state(|state| state.executions.len());
            run.emit(Event::RunResumed {
                run_id,
                step: resumed_step,
                executions,
            });
        } else {
            run.emit(Event::RunStarted {
                run_id,
                runbook: runbook.name.clone(),
                steps: runbook.steps.len(),
            });
        }
        run.let_in_flight_requests_land().await;
        if position.phase == Phase::Steps {
            run.run_steps(position.index).await;
            run.compute_outputs_if_succeeded();
            run.end_of_steps();
        }
        let first_finally = match position.phase {
            Phase::Finally => position.index,
            Phase::Steps => 0,
        };
        if run.read_state(|state| state.status) != RunStatus::Suspended {
            run.run_finally(first_finally).await;
        }
        run.finish();
        // Every task of the run has ended (a fan-out waits for its own), so the state is
        // the run's alone unless something still holds it.
        match Arc::try_unwrap(run) {
            Ok(run) => {
                let Run {
                    state,
                    template_values,
                    references,
                    ..
                } = run;
                free_elsewhere((template_values, references));
                state.into_inner().unwrap_or_else(PoisonError::into_inner)
            }
            Err(run) => run.read_state(RunState::clone),
        }
    }
}

/// Frees `values` on a thread of their own. A run's template values hold every step's result
/// node by node: freeing them took 2 ms at the end of a 1,000-step chain, time the caller
/// spends recording the state instead (`bash bench/compare.sh`). When no thread can start,
/// they are freed here.
fn free_elsewhere<T: Send + 'static>(values: T) {
    let _ = std::thread::Builder::new()
        .name("runbook-free".to_owned())
        .spawn(move || drop(values));
}

pub(crate) struct Run {
    /// The run itself, for the tasks of a fan-out.
    this: Weak<Run>,
    runner: Runner,
    runbook: Arc<Runbook>,
    engine: Engine,
    started: Duration,
    deadline: Option<Duration>,
    state: Mutex<RunState>,
    /// Real values for templates; the state holds them redacted.
    template_values: TemplateValues,
    /// Variables set since the last checkpoint (their names).
    changed_vars: Mutex<std::collections::BTreeSet<String>>,
    /// The names each template text reads, as paths (`inputs.token` → `["inputs", "token"]`).
    references: Mutex<HashMap<String, Arc<Vec<Vec<String>>>>>,
    redactor: Redactor,
    /// Set once the `finally` steps begin: from then on only the abort token cancels.
    pub(crate) in_finally: AtomicBool,
    /// A resumed run's record of the step it was interrupted in.
    pub(crate) ledger: Ledger,
    /// What a person decided about the change the run stopped at; used once.
    decision: Mutex<Option<Decision>>,
    /// The step a resumed run goes on at, until it begins: its deadline counts from when it
    /// first began.
    resumed_step: Mutex<Option<String>>,
    /// Starts sent and not yet recorded: a lost start's look waits for its siblings'.
    pub(crate) starts_in_flight: crate::in_flight::StartsInFlight,
    /// The targets steps named, each reached once.
    pub(crate) reachable: Reachable,
}

impl Run {
    /// Reads the state; observers are not told (nothing changed).
    pub(crate) fn read_state<R>(&self, read: impl FnOnce(&RunState) -> R) -> R {
        read(&self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes the state and tells the observer: one call per transition.
    pub(crate) fn with_state<R>(&self, change: impl FnOnce(&mut RunState) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let result = change(&mut state);
        self.runner.observer.state(&state);
        result
    }

    /// Tells the observer, with every secret replaced.
    pub(crate) fn emit(&self, event: Event) {
        self.runner.observer.event(&event.redacted(&self.redactor));
    }

    pub(crate) fn observer(&self) -> &dyn Observer {
        &*self.runner.observer
    }

    /// Awaits `work` done outside the run's tasks (an observer's answer, which a journal gives
    /// from another thread): virtual time holds still meanwhile.
    pub(crate) async fn outside<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        let _held = self.runner.environment.in_flight();
        work.await
    }

    /// Holds virtual time until dropped: a finished element's outcome on its way to the step
    /// that awaits it.
    pub(crate) fn hold_time(&self) -> hwc_client::runtime::InFlight {
        self.runner.environment.in_flight()
    }

    /// `future` as a task of the run that virtual time waits for (a `for_each` element).
    pub(crate) fn participate<F: std::future::Future>(
        &self,
        future: F,
    ) -> hwc_client::runtime::Participant<F> {
        self.runner.environment.participate(future)
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub(crate) fn client(&self) -> &Client {
        &self.runner.client
    }

    pub(crate) fn targets(&self) -> &dyn Targets {
        &*self.runner.targets
    }

    pub(crate) fn now(&self) -> Duration {
        self.runner.environment.clock.elapsed()
    }

    pub(crate) fn now_utc(&self) -> time::OffsetDateTime {
        self.runner.environment.clock.now_utc()
    }

    pub(crate) fn timestamp(&self) -> String {
        rfc3339(self.runner.environment.clock.now_utc())
    }

    pub(crate) fn elapsed_ms(&self, since: Duration) -> u64 {
        u64::try_from(self.now().saturating_sub(since).as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn random(&self) -> &dyn hwc_client::runtime::Random {
        &*self.runner.environment.random
    }

    /// What cancels the run now: the cancel token, or in `finally` only the abort token.
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        if self.in_finally.load(Ordering::SeqCst) {
            &self.runner.abort
        } else {
            &self.runner.cancel
        }
    }

    pub(crate) fn abort_token(&self) -> &CancellationToken {
        &self.runner.abort
    }

    pub(crate) fn grace(&self) -> Duration {
        self.runner.grace
    }

    pub(crate) fn reconcile_skew(&self) -> Duration {
        self.runner.skew
    }

    /// The decision a person made about the change this run stopped at, taken once when it
    /// is of the `kind` asked for.
    pub(crate) fn take_decision(&self, kind: fn(&Decision) -> bool) -> Option<Decision> {
        let mut decision = self.decision.lock().unwrap_or_else(PoisonError::into_inner);
        if decision.as_ref().is_some_and(kind) {
            decision.take()
        } else {
            None
        }
    }

    /// The run, shared: `None` only once it is over.
    pub(crate) fn shared(&self) -> Option<Arc<Run>> {
        self.this.upgrade()
    }

    pub(crate) fn runbook(&self) -> &Runbook {
        &self.runbook
    }
}

/// How long ago `started_at` (RFC 3339) was; zero when it cannot be read or is ahead.
fn age_of(started_at: &str, now: time::OffsetDateTime) -> Duration {
    time::OffsetDateTime::parse(started_at, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|then| Duration::try_from(now - then).ok())
        .unwrap_or(Duration::ZERO)
}

/// A timestamp as events, state and `now()` show it.
pub fn rfc3339(time: time::OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

/// A random (version 4) UUID from the injected random source.
fn uuid(random: &dyn hwc_client::runtime::Random) -> String {
    let bytes: [u8; 16] = std::array::from_fn(|_| (random.unit() * 256.0) as u8);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tells which thread dropped it.
    struct NotesItsDrop(std::sync::mpsc::Sender<Option<String>>);

    impl Drop for NotesItsDrop {
        fn drop(&mut self) {
            let thread = std::thread::current().name().map(str::to_owned);
            let _ = self.0.send(thread);
        }
    }

    #[test]
    fn what_is_freed_elsewhere_is_dropped_on_a_thread_of_its_own() {
        let (dropped, on) = std::sync::mpsc::channel();
        free_elsewhere(NotesItsDrop(dropped));
        let thread = on.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(thread.as_deref(), Some("runbook-free"));
    }
}
