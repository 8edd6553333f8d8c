//! The run loop: steps in order, `when`, `for_each` with a concurrency limit, retries,
//! deadlines, `on_failure` routing, cancellation, and the state after each transition.
//!
//! Every wait goes through [`Run::pause`], which reads the injected clock and sleeper, so
//! virtual time makes a 10-minute wait instant and deterministic; deadlines are checked
//! against that clock rather than by racing a timer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use hwc_client::{Client, Environment};
use minijinja::Value as JinjaValue;
use runbook_lang::limits::MAX_STEP_ATTEMPTS;
use runbook_lang::template::{Engine, Sources};
use runbook_lang::{Runbook, Step};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::event::{Event, Observer};
use crate::failure::{Failure, Scope, StepError};
use crate::redact::Redactor;
use crate::resume::{Checkpoint, Ledger, Phase, Position, Resume};
use crate::state::{
    Decision, HandledFailure, Intent, RunState, RunStatus, StartedExecution, StepStatus,
    UnknownOutcome,
};
use crate::template_values::{TemplateValues, Visible};

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

    /// Runs `runbook` to the end and returns its final state.
    pub async fn run(&self, runbook: &Runbook, input: RunInput) -> RunState {
        // A participant of virtual time: the clock moves only while the run waits.
        let run = self.go(runbook, input, None);
        self.environment.participate(run).await
    }

    /// Goes on with a run read back from its journal: finished steps keep their results, the
    /// interrupted step runs again and settles every change it had sent (see `resume.rs`).
    /// `input.run_id` must be the run's id; secret inputs are given again.
    pub async fn resume(&self, runbook: &Runbook, input: RunInput, resume: Resume) -> RunState {
        let run = self.go(runbook, input, Some(resume));
        self.environment.participate(run).await
    }

    async fn go(&self, runbook: &Runbook, input: RunInput, resume: Option<Resume>) -> RunState {
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
        let shown_inputs = crate::inputs::shown(runbook, &input.inputs);
        let mut state = RunState::new(
            run_id.clone(),
            runbook,
            rfc3339(self.environment.clock.now_utc()),
            match redactor.value(Value::Object(shown_inputs)) {
                Value::Object(shown) => shown,
                _ => Map::new(),
            },
        );
        let resuming = resume.is_some();
        let resumed_step = resume
            .as_ref()
            .and_then(|resume| resume.next_step(runbook))
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
            runbook: Arc::new(runbook.clone()),
            engine,
            started,
            deadline: runbook.timeout.map(|t| started.saturating_add(t.0)),
            state: Mutex::new(state),
            template_values,
            changed_vars: Mutex::new(Vec::new()),
            references: Mutex::new(HashMap::new()),
            redactor,
            in_finally: AtomicBool::new(false),
            ledger,
            decision: Mutex::new(decision),
            resumed_step: Mutex::new(resumed_step.clone()),
            starts_in_flight: Default::default(),
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
            Ok(run) => run
                .state
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            Err(run) => run.read_state(RunState::clone),
        }
    }
}

/// A deadline on the injected clock's `elapsed()`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Option<Duration>,
    pub(crate) scope: Scope,
    /// When the deadline's clock started, to say "after 5m".
    pub(crate) since: Duration,
}

/// Names in scope for one evaluation besides the run-wide ones.
pub(crate) type Locals = Vec<(&'static str, Value)>;

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
    changed_vars: Mutex<Vec<String>>,
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

    /// Held while the run awaits something outside its tasks (an observer's answer, which a
    /// journal gives from another thread): virtual time holds still meanwhile.
    pub(crate) fn outside(&self) -> hwc_client::runtime::InFlight {
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

    /// Recomputes a restored `set` step whose journaled values hold a masked secret: the
    /// journal never holds secrets, so what was derived from one is derived again from the
    /// secret inputs this process was given. Other steps' results keep the mask.
    fn recompute(&self, id: &str) {
        let Some(step) = self.runbook.all_steps().find(|step| step.id == id) else {
            return;
        };
        let (Some(runbook_lang::Action::Set(values)), None) = (step.action(), &step.for_each)
        else {
            return;
        };
        let mut vars = Map::new();
        for (name, value) in values {
            // These templates rendered before the crash; one that fails now (another secret
            // was given) leaves the masked values, and a step reading them fails visibly.
            let Ok(rendered) = self.render(value, &Vec::new(), &format!("set `{name}`")) else {
                return;
            };
            vars.insert(name.clone(), rendered);
        }
        self.template_values
            .record_result(id, &Value::Object(vars.clone()));
        self.set_vars(vars);
    }

    /// A resumed run first waits until [`RECONCILE_SETTLE`] after the last change its dead
    /// process sent: a request still in flight when the process died may be applied a
    /// moment later, and looking before then would see the world without it.
    async fn let_in_flight_requests_land(&self) {
        let Some(sent_at) = self.ledger.last_sent_at() else {
            return;
        };
        let rest = RECONCILE_SETTLE.saturating_sub(age_of(&sent_at, self.now_utc()));
        // Cut short by the deadline or a signal, the first step's own check stops the run.
        let _ = self.pause(rest, self.run_deadline()).await;
    }

    fn run_deadline(&self) -> Deadline {
        Deadline {
            at: self.deadline,
            scope: Scope::Run,
            since: self.started,
        }
    }

    /// The node actions a resumed wait had sent before the crash.
    pub(crate) fn node_actions_sent(&self, step: &str, index: Option<usize>) -> Vec<Intent> {
        self.ledger.sent(
            step,
            index,
            hwc_client::catalogue::START_PAUSING_WORKFLOW_EXECUTIONS.id,
        )
    }

    /// The template context: run-wide names plus `locals`, with real values.
    pub(crate) fn context(&self, locals: &Locals) -> JinjaValue {
        let in_finally = self.in_finally.load(Ordering::SeqCst);
        self.read_state(|state| {
            let handled = state.handled_failure.as_ref();
            // In `finally`, the failure that ended the run comes before one that was handled.
            let (failed_step, error) = match (&state.error, in_finally) {
                (Some(error), true) => (state.current_step.as_deref(), Some(error)),
                _ => (handled.map(|f| f.step.as_str()), handled.map(|f| &f.error)),
            };
            let run = json!({
                "id": state.run_id,
                "name": state.runbook,
                "started_at": state.started_at,
                "status": state.status.name(),
                "failed_step": failed_step,
                "error": error,
            });
            let visible = match (&state.current_step, in_finally) {
                (Some(current), false) => Visible::Through(current),
                _ => Visible::All,
            };
            self.template_values.context(visible, &run, locals)
        })
    }

    /// Renders `value`. A result computed from a secret — a template that reads a value
    /// holding one — becomes a secret itself, so no transformation can carry it out.
    pub(crate) fn render(
        &self,
        value: &Value,
        locals: &Locals,
        what: &str,
    ) -> Result<Value, StepError> {
        if runbook_lang::template::is_literal(value) {
            return Ok(value.clone());
        }
        let context = self.context(locals);
        let rendered = self
            .engine
            .render(value, &context)
            .map_err(|error| StepError::from(Failure::new(format!("{what}: {error}"))))?;
        if !self.redactor.is_empty() && self.reads_secret(value, &context) {
            self.redactor.add_value(&rendered);
        }
        Ok(rendered)
    }

    pub(crate) fn text(
        &self,
        text: &str,
        locals: &Locals,
        what: &str,
    ) -> Result<String, StepError> {
        let context = self.context(locals);
        let rendered = self
            .engine
            .render_text(text, &context)
            .map_err(|error| StepError::from(Failure::new(format!("{what}: {error}"))))?;
        if !self.redactor.is_empty() && self.reads_secret(&Value::String(text.to_owned()), &context)
        {
            self.redactor.add(&rendered);
        }
        Ok(rendered)
    }

    /// Whether any template in `value` reads a value of `context` that holds a secret.
    fn reads_secret(&self, value: &Value, context: &JinjaValue) -> bool {
        match value {
            Value::String(text) => self
                .read_paths(text)
                .iter()
                .any(|path| self.template_values.reads_secret(context, path)),
            Value::Array(items) => items.iter().any(|item| self.reads_secret(item, context)),
            Value::Object(map) => map.values().any(|item| self.reads_secret(item, context)),
            _ => false,
        }
    }

    fn read_paths(&self, text: &str) -> Arc<Vec<Vec<String>>> {
        let mut cache = self
            .references
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(paths) = cache.get(text) {
            return Arc::clone(paths);
        }
        // The engine's list of names misses some reads (a slice such as `inputs.s[2:5]`), so
        // the names written inside the template's delimiters count too: reading more than
        // needed only redacts more. A template that does not compile is reported when
        // rendered.
        let mut names = self.engine.references(text).unwrap_or_default();
        names.extend(runbook_lang::template::names_written(text));
        let paths: Vec<Vec<String>> = names
            .into_iter()
            .map(|name| name.split('.').map(str::to_owned).collect())
            .collect();
        let paths = Arc::new(paths);
        cache.insert(text.to_owned(), Arc::clone(&paths));
        paths
    }

    pub(crate) fn condition(
        &self,
        expr: &str,
        locals: &Locals,
        what: &str,
    ) -> Result<bool, StepError> {
        self.engine
            .condition(expr, &self.context(locals))
            .map_err(|error| Failure::new(format!("{what} `{expr}`: {error}")).into())
    }

    /// Waits `duration`, cut short by the deadline (an error once it has passed) or by
    /// cancellation.
    pub(crate) async fn pause(
        &self,
        duration: Duration,
        deadline: Deadline,
    ) -> Result<(), StepError> {
        self.yield_and_check(deadline).await?;
        let remaining = deadline.at.map(|at| at.saturating_sub(self.now()));
        let duration = remaining.map_or(duration, |left| duration.min(left));
        self.unless_cancelled(async {
            self.runner.environment.sleep(duration).await;
            Ok(())
        })
        .await
    }

    /// Lets other tasks run, then fails when cancelled or past the deadline. Steps that take
    /// no time (a `log` in a `goto` loop, a retry with no delay, a sleep on virtual time)
    /// never wait on anything, so without the yield a signal's task could not run on a
    /// single-threaded runtime and a busy worker would never see it on time.
    pub(crate) async fn yield_and_check(&self, deadline: Deadline) -> Result<(), StepError> {
        self.runner.environment.yield_now().await;
        self.check(deadline)
    }

    /// Fails when cancelled or past the deadline.
    pub(crate) fn check(&self, deadline: Deadline) -> Result<(), StepError> {
        if self.cancel_token().is_cancelled() {
            return Err(StepError::Cancelled);
        }
        if let Some(at) = deadline.at {
            let now = self.now();
            if now >= at {
                return Err(StepError::TimedOut {
                    scope: deadline.scope,
                    after: now.saturating_sub(deadline.since),
                    detail: None,
                });
            }
        }
        Ok(())
    }

    /// Runs `work` unless the run is cancelled first or meanwhile.
    pub(crate) async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, StepError>>,
    ) -> Result<T, StepError> {
        let cancel = self.cancel_token();
        if cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        tokio::select! {
            result = work => result,
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }

    /// Records a started execution and logs it the moment its id arrives.
    pub(crate) fn record_execution(&self, execution: StartedExecution) {
        // A resumed run that adopts an execution its journal already holds records it once.
        let shown_id = self.redactor.text(&execution.execution_id);
        if self.read_state(|state| state.executions.iter().any(|e| e.execution_id == shown_id)) {
            return;
        }
        let execution = StartedExecution {
            workflow_id: self.redactor.text(&execution.workflow_id),
            execution_id: self.redactor.text(&execution.execution_id),
            ..execution
        };
        self.emit(Event::ExecutionStarted {
            step: execution.step.clone(),
            index: execution.index,
            service: execution.service.clone(),
            workflow_id: execution.workflow_id.clone(),
            execution_id: execution.execution_id.clone(),
        });
        self.with_state(|state| state.executions.push(execution));
    }

    pub(crate) fn record_unknown(&self, outcome: UnknownOutcome) {
        let outcome = outcome.redacted(&self.redactor);
        self.emit(Event::OutcomeUnknown {
            outcome: outcome.clone(),
        });
        self.with_state(|state| state.unknown_outcomes.push(outcome));
    }

    pub(crate) fn count_poll(&self, step: &str) -> u32 {
        self.with_state(|state| {
            state.steps.get_mut(step).map_or(0, |s| {
                s.polls = s.polls.saturating_add(1);
                s.polls
            })
        })
    }

    pub(crate) fn set_vars(&self, vars: Map<String, Value>) {
        self.changed_vars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(vars.keys().cloned());
        self.template_values.set_vars(&vars);
        let shown: Map<String, Value> = vars
            .into_iter()
            .map(|(name, value)| (name, self.redactor.value(value)))
            .collect();
        self.with_state(|state| state.vars.extend(shown));
    }

    async fn run_steps(&self, first: usize) {
        let steps = &self.runbook.steps;
        let run_deadline = self.run_deadline();
        let mut index = first;
        while index < steps.len() {
            let step = &steps[index];
            self.with_state(|state| state.current_step = Some(step.id.clone()));
            let outcome = match self.yield_and_check(run_deadline).await {
                Err(error) => {
                    self.stopped_before(step, &error);
                    Err(error)
                }
                Ok(()) => match self.should_run(step) {
                    Ok(true) => self.run_step(step, run_deadline).await,
                    Ok(false) => {
                        self.skip(step);
                        Ok(())
                    }
                    Err(error) => {
                        self.mark(&step.id, StepStatus::Failed, None, Some(error.to_string()));
                        Err(error)
                    }
                },
            };
            let next = match outcome {
                Ok(()) => Some(index + 1),
                Err(error) => self.route_failure(index, step, error),
            };
            let Some(next) = next else {
                // A run that stops here goes to `finally` (the end-of-steps checkpoint
                // records the step), unless it was suspended: then the step runs again.
                return;
            };
            self.checkpoint(
                Some(&step.id),
                Position {
                    phase: Phase::Steps,
                    index: next,
                },
            );
            index = next;
        }
        self.with_state(|state| {
            state.status = RunStatus::Succeeded;
            state.current_step = None;
        });
    }

    /// The run, shared: `None` only once it is over.
    pub(crate) fn shared(&self) -> Option<Arc<Run>> {
        self.this.upgrade()
    }

    pub(crate) fn runbook(&self) -> &Runbook {
        &self.runbook
    }

    /// Records the end of `step` (or, with none, the run-level state alone) for a resumed
    /// run: the step's state, the variables set since the last checkpoint, and what comes
    /// next.
    pub(crate) fn checkpoint(&self, step: Option<&str>, next: Position) {
        let changed = std::mem::take(
            &mut *self
                .changed_vars
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        // Built and observed under the state's lock, borrowing the step's result and the
        // variables rather than copying them.
        self.read_state(|state| {
            let checkpoint = Checkpoint {
                step: step.map(str::to_owned),
                state: step.and_then(|id| state.steps.get(id)).map(Cow::Borrowed),
                vars: changed
                    .iter()
                    .filter_map(|name| Some((name.clone(), Cow::Borrowed(state.vars.get(name)?))))
                    .collect(),
                next,
                status: state.status,
                current_step: state.current_step.clone(),
                error: state.error.clone(),
                handled_failure: state.handled_failure.clone(),
                finally_error: state.finally_error.clone(),
                outputs: Cow::Borrowed(&state.outputs),
            };
            self.runner.observer.checkpoint(&checkpoint);
        });
    }

    /// The main steps are over (the run succeeded, or stopped at a step): recorded unless
    /// the run was suspended, in which case it goes on from its last checkpoint.
    fn end_of_steps(&self) {
        let (status, stopped_at) =
            self.read_state(|state| (state.status, state.current_step.clone()));
        if status == RunStatus::Suspended {
            return;
        }
        let step = match status {
            RunStatus::Succeeded => None,
            _ => stopped_at,
        };
        self.checkpoint(
            step.as_deref(),
            Position {
                phase: Phase::Finally,
                index: 0,
            },
        );
    }

    /// Marks a step whose `when` is false.
    pub(crate) fn skip(&self, step: &Step) {
        self.mark(&step.id, StepStatus::Skipped, None, None);
        self.emit(Event::StepSkipped {
            step: step.id.clone(),
            reason: format!(
                "`when: {}` is false",
                step.when.as_ref().map_or("", |w| &w.0)
            ),
        });
    }

    /// Whether `step` runs. A `when` that cannot be evaluated is a [`StepError::Runbook`]:
    /// the step's `on_failure` is for what the step does, not for whether it runs.
    pub(crate) fn should_run(&self, step: &Step) -> Result<bool, StepError> {
        let Some(condition) = &step.when else {
            return Ok(true);
        };
        let expr = &condition.0;
        self.engine
            .condition(expr, &self.context(&Vec::new()))
            .map_err(|error| {
                StepError::Runbook(format!("`when: {expr}` could not be evaluated: {error}"))
            })
    }

    /// Where the run goes after `step` failed: the next index, or `None` to stop.
    fn route_failure(&self, index: usize, step: &Step, error: StepError) -> Option<usize> {
        match &error {
            StepError::Cancelled
            | StepError::Suspended(_)
            | StepError::Runbook(_)
            | StepError::TimedOut {
                scope: Scope::Run, ..
            } => {
                self.stop(step, error);
                return None;
            }
            _ => {}
        }
        let handled = HandledFailure {
            step: step.id.clone(),
            error: self.redactor.text(&error.to_string()),
        };
        if step.on_failure.continues() {
            self.with_state(|state| state.handled_failure = Some(handled));
            return Some(index + 1);
        }
        if let Some(goto) = step.on_failure.goto() {
            let taken = self.with_state(|state| {
                state.steps.get_mut(&step.id).map_or(0, |s| {
                    s.gotos_taken = s.gotos_taken.saturating_add(1);
                    s.gotos_taken
                })
            });
            let target = self.runbook.steps.iter().position(|s| s.id == goto.goto);
            match (target, goto.max) {
                (Some(_), Some(max)) if taken > max => {
                    let error = StepError::Failed(Failure::new(format!(
                        "{error}; `on_failure` already went to `{}` {max} time(s)",
                        goto.goto
                    )));
                    self.stop(step, error);
                    return None;
                }
                (Some(target), _) => {
                    self.with_state(|state| state.handled_failure = Some(handled));
                    return Some(target);
                }
                (None, _) => {}
            }
        }
        self.stop(step, error);
        None
    }

    /// The run stops at `step` before it begins (cancelled, or past its deadline). A step an
    /// earlier pass of a `goto` loop ran is marked with how the run stopped, or the state
    /// would show that pass's outcome as its last; one that never ran stays pending, so
    /// `steps.<id>` reads `not_run`.
    fn stopped_before(&self, step: &Step, error: &StepError) {
        let ran = self.read_state(|state| {
            state
                .steps
                .get(&step.id)
                .is_some_and(|s| s.status != StepStatus::Pending)
        });
        if ran {
            self.mark(&step.id, step_status(error), None, Some(error.to_string()));
        }
    }

    /// Ends the run at `step` with `error`.
    pub(crate) fn stop(&self, step: &Step, error: StepError) {
        let suspending = self.runner.suspending.load(Ordering::SeqCst);
        let status = match error {
            StepError::Suspended(_) => RunStatus::Suspended,
            StepError::Cancelled if suspending => RunStatus::Suspended,
            StepError::Cancelled => RunStatus::Cancelled,
            StepError::TimedOut { .. } => RunStatus::TimedOut,
            StepError::Failed(_) | StepError::Runbook(_) => RunStatus::Failed,
        };
        let message = self.redactor.text(&format!("step `{}`: {error}", step.id));
        self.with_state(|state| {
            state.status = status;
            state.current_step = Some(step.id.clone());
            state.error = Some(message);
        });
    }

    pub(crate) fn mark(
        &self,
        id: &str,
        status: StepStatus,
        result: Option<Value>,
        error: Option<String>,
    ) {
        let now = self.timestamp();
        self.template_values.record_status(id, status);
        if let Some(result) = &result {
            self.template_values.record_result(id, result);
        }
        let result = result.map(|result| self.redactor.value(result));
        let error = error.map(|error| self.redactor.text(&error));
        self.with_state(|state| {
            if let Some(step) = state.steps.get_mut(id) {
                step.status = status;
                if status == StepStatus::Running {
                    step.started_at = Some(now);
                    step.finished_at = None;
                    step.error = None;
                } else {
                    step.finished_at = Some(now);
                }
                if result.is_some() {
                    step.result = result;
                }
                // The error is the last pass's: a step a loop skips after it failed has none.
                step.error = error;
            }
        });
    }

    /// When `step` began: now, or for the step a resumed run goes on at, when it first
    /// began before the crash.
    fn began(&self, step: &str) -> Duration {
        let now = self.now();
        let mut resumed = self
            .resumed_step
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if resumed.as_deref() != Some(step) {
            return now;
        }
        *resumed = None;
        match self.ledger.began_at(step) {
            Some(at) => now.saturating_sub(age_of(&at, self.now_utc())),
            None => now,
        }
    }

    /// Runs one step (all its `for_each` elements, with retries) and records the outcome.
    pub(crate) async fn run_step(
        &self,
        step: &Step,
        run_deadline: Deadline,
    ) -> Result<(), StepError> {
        let began = self.began(&step.id);
        let step_deadline = step.timeout.map(|timeout| began.saturating_add(timeout.0));
        let deadline = match step_deadline {
            Some(at) if run_deadline.at.is_none_or(|run_at| at < run_at) => Deadline {
                at: Some(at),
                scope: Scope::Step,
                since: began,
            },
            _ => run_deadline,
        };
        self.mark(&step.id, StepStatus::Running, None, None);
        let outcome = match &step.for_each {
            None => self.attempts(step, None, Vec::new(), deadline).await,
            Some(list) => self.fan_out(step, list, deadline).await,
        };
        let elapsed_ms = self.elapsed_ms(began);
        match outcome {
            Ok(result) => {
                self.mark(&step.id, StepStatus::Succeeded, Some(result), None);
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    index: None,
                    status: StepStatus::Succeeded,
                    elapsed_ms,
                    error: None,
                });
                Ok(())
            }
            Err(error) => {
                let status = step_status(&error);
                let result = match &error {
                    StepError::Failed(failure) => failure.result.clone(),
                    _ => None,
                };
                self.mark(&step.id, status, result, Some(error.to_string()));
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    index: None,
                    status,
                    elapsed_ms,
                    error: Some(error.to_string()),
                });
                Err(error)
            }
        }
    }

    /// One element of a step: the action, retried as `retry` says.
    pub(crate) async fn attempts(
        &self,
        step: &Step,
        index: Option<usize>,
        locals: Locals,
        deadline: Deadline,
    ) -> Result<Value, StepError> {
        // Each element of a fan-out starts here: a cancelled one starts no more of them.
        self.yield_and_check(deadline).await?;
        let began = self.now();
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            label: step.label().to_owned(),
            action: step.action().map_or("", |a| a.key()).to_owned(),
            index,
        });
        let Some(action) = step.action() else {
            return Err(Failure::new("the step has no single action").into());
        };
        let attempts = step.retry.as_ref().map_or(1, |r| r.attempts.max(1));
        // A resumed step goes on with the attempts it had left.
        let mut attempt = self.ledger.retries(&step.id, index);
        let outcome = loop {
            attempt = attempt.saturating_add(1);
            let allowed = self.with_state(|state| {
                state.steps.get_mut(&step.id).is_none_or(|s| {
                    let allowed = s.attempts < MAX_STEP_ATTEMPTS;
                    if allowed {
                        s.attempts += 1;
                    }
                    allowed
                })
            });
            if !allowed {
                break Err(Failure::new(format!(
                    "the step made {MAX_STEP_ATTEMPTS} attempts over its elements and \
                     retries, the most one step may make in a run; lower `retry.attempts` \
                     or split the `for_each` list over several steps"
                ))
                .into());
            }
            let result =
                crate::actions::execute(self, step, action, index, &locals, deadline).await;
            let Some(retry) = &step.retry else {
                break result;
            };
            let reason = match &result {
                Ok(value) => match &retry.until {
                    None => break result,
                    Some(until) => {
                        let mut scoped = locals.clone();
                        scoped.push(("result", value.clone()));
                        match self.condition(&until.0, &scoped, "retry.until") {
                            Ok(true) => break result,
                            Ok(false) => format!("`until: {}` does not hold yet", until.0),
                            Err(error) => break Err(error),
                        }
                    }
                },
                Err(StepError::Failed(failure))
                    if retries_on(retry, failure, action.is_mutating()) =>
                {
                    failure.message.clone()
                }
                Err(_) => break result,
            };
            if attempt >= attempts {
                break match result {
                    Ok(_) => {
                        Err(Failure::new(format!("{reason} after {attempts} attempt(s)")).into())
                    }
                    Err(error) => Err(error),
                };
            }
            let delay = if retry.jitter {
                hwc_client::runtime::full_jitter(
                    retry.delay.0,
                    retry.max_delay.0,
                    attempt,
                    self.random(),
                )
            } else {
                hwc_client::runtime::exponential(retry.delay.0, retry.max_delay.0, attempt)
            };
            self.emit(Event::Retry {
                step: step.id.clone(),
                index,
                attempt,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason,
            });
            self.pause(delay, deadline).await?;
        };
        if index.is_some() {
            self.emit(Event::StepFinished {
                step: step.id.clone(),
                index,
                status: if outcome.is_ok() {
                    StepStatus::Succeeded
                } else {
                    StepStatus::Failed
                },
                elapsed_ms: self.elapsed_ms(began),
                error: outcome.as_ref().err().map(ToString::to_string),
            });
        }
        outcome
    }

    /// Outputs come before `finally`, so `finally` sees whether computing them failed.
    fn compute_outputs_if_succeeded(&self) {
        let succeeded = self.read_state(|state| state.status == RunStatus::Succeeded);
        if succeeded {
            if let Err(error) = self.compute_outputs() {
                let message = self.redactor.text(&format!("outputs: {error}"));
                self.with_state(|state| {
                    state.status = RunStatus::Failed;
                    state.error = Some(message);
                });
            }
        }
    }

    fn finish(&self) {
        let now = self.timestamp();
        let (status, step, error) = self.with_state(|state| {
            state.finished_at = Some(now);
            let step = match state.status {
                RunStatus::Succeeded => None,
                _ => state.current_step.clone(),
            };
            (state.status, step, state.error.clone())
        });
        self.emit(Event::RunFinished {
            status,
            elapsed_ms: self.elapsed_ms(self.started),
            step,
            error,
        });
    }

    fn compute_outputs(&self) -> Result<(), StepError> {
        let mut outputs = Map::new();
        for (name, value) in &self.runbook.outputs {
            let value = self.render(value, &Vec::new(), &format!("output `{name}`"))?;
            outputs.insert(name.clone(), value);
        }
        let shown = match self.redactor.value(Value::Object(outputs)) {
            Value::Object(shown) => shown,
            _ => Map::new(),
        };
        self.with_state(|state| state.outputs = shown);
        Ok(())
    }
}

/// How a step that ended with `error` is shown.
fn step_status(error: &StepError) -> StepStatus {
    match error {
        StepError::Cancelled | StepError::Suspended(_) => StepStatus::Cancelled,
        StepError::TimedOut { .. } => StepStatus::TimedOut,
        StepError::Failed(_) | StepError::Runbook(_) => StepStatus::Failed,
    }
}

/// Whether `retry.on` covers this failure. `retryable` on a step that starts or changes
/// something covers only failures that provably had no effect.
fn retries_on(retry: &runbook_lang::Retry, failure: &Failure, mutating: bool) -> bool {
    retry.on.iter().any(|on| match on {
        runbook_lang::RetryOn::Status(status) => failure.status == Some(*status),
        runbook_lang::RetryOn::Name(name) => match name.as_str() {
            "any" => true,
            "retryable" if mutating => failure.retryable && !failure.may_have_taken_effect,
            "retryable" => failure.retryable,
            code => failure.error_code.as_deref() == Some(code),
        },
    })
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
