//! The runner's tests share one rig: the in-process sandbox and the runner on one virtual
//! clock, with an observer that records every event.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use hwc_client::runtime::{Credentials, Secret, VirtualTime};
use hwc_client::{Client, Environment, Transport};
use hwc_sandbox::scenario::{AomNode, AomWorkflow, NodeBehaviour};
use hwc_sandbox::{ConnectionLimits, RunningSandbox, SandboxConfig, Scenario};
use runbook_runner::{
    inputs, BlockCheckpoint, Checkpoint, Event, Intent, Observer, Resume, RunInput, RunState,
    Runner,
};
use serde_json::Value;

/// Where a simulated crash cuts the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The matching entry never reaches the journal.
    Before,
    /// The matching entry is the journal's last.
    After,
}

/// Says, for each journal entry, whether the process dies there.
pub type CrashAt = Box<dyn Fn(&Value) -> Option<Cut> + Send + Sync>;

/// What a test does when the run emits an event.
pub type OnEvent = Box<dyn Fn(&Event) + Send + Sync>;

pub const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Event>>,
    pub transitions: Mutex<usize>,
    pub intents: Mutex<Vec<Intent>>,
    /// When set, recording an intent fails (as a full disk would).
    pub refuse_intents: AtomicBool,
    /// The journal as the CLI's writes it: events, checkpoints and intents, each with `ts`.
    pub journal: Mutex<Vec<Value>>,
    /// Where the process "dies": from then on nothing is journaled and no change is sent
    /// (its intent is never acknowledged), as if the process were gone.
    pub crash_at: Mutex<Option<CrashAt>>,
    pub crashed: AtomicBool,
    pub crash: tokio::sync::Notify,
    /// Keeps another run's entries out of the journal.
    pub muted: AtomicBool,
    pub clock: Mutex<Option<Arc<dyn hwc_client::runtime::Clock>>>,
    /// Called with every event as the run emits it, so a test can act at an exact point of
    /// the run (cancel it, move the clock on) instead of racing it.
    pub on_event: Mutex<Option<OnEvent>>,
}

impl Recorder {
    /// Appends `entry` to the journal unless the process has died; `false` once it has.
    fn journal(&self, mut entry: Value) -> bool {
        if self.crashed.load(Ordering::SeqCst) {
            return false;
        }
        if self.muted.load(Ordering::SeqCst) {
            return true;
        }
        if let Some(clock) = self.clock.lock().unwrap().as_ref() {
            entry["ts"] = runbook_runner::rfc3339(clock.now_utc()).into();
        }
        let cut = self
            .crash_at
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|at| at(&entry));
        if cut != Some(Cut::Before) {
            self.journal.lock().unwrap().push(entry);
        }
        if cut.is_some() {
            self.crashed.store(true, Ordering::SeqCst);
            self.crash.notify_one();
        }
        cut.is_none()
    }
}

impl Observer for Recorder {
    fn event(&self, event: &Event) {
        self.events.lock().unwrap().push(event.clone());
        self.journal(serde_json::to_value(event).unwrap());
        if let Some(on_event) = self.on_event.lock().unwrap().as_ref() {
            on_event(event);
        }
    }

    fn checkpoint(&self, checkpoint: &Checkpoint<'_>) {
        self.journal(serde_json::to_value(checkpoint).unwrap());
    }

    fn block_checkpoint(&self, checkpoint: &BlockCheckpoint) {
        self.journal(serde_json::to_value(checkpoint).unwrap());
    }

    fn before_change(&self, intent: &Intent) -> BoxFuture<'_, Result<(), String>> {
        self.intents.lock().unwrap().push(intent.clone());
        let refused = self.refuse_intents.load(Ordering::SeqCst);
        let alive = self.journal(serde_json::to_value(intent).unwrap());
        Box::pin(async move {
            if !alive {
                // A dead process sends nothing.
                std::future::pending::<()>().await;
            }
            if refused {
                Err("disk full".to_owned())
            } else {
                Ok(())
            }
        })
    }

    fn state(&self, _state: &RunState) {
        *self.transitions.lock().unwrap() += 1;
    }
}

pub struct Harness {
    pub sandbox: RunningSandbox,
    pub runner: Runner,
    /// The runner's clock, sleeper and randomness, for clients a test builds besides its own.
    pub environment: Environment,
    pub time: VirtualTime,
    pub recorder: Arc<Recorder>,
}

pub async fn harness(scenario: Scenario) -> Harness {
    harness_with_grace(scenario, runbook_runner::DEFAULT_GRACE).await
}

pub async fn harness_with_grace(scenario: Scenario, grace: std::time::Duration) -> Harness {
    let start = time::OffsetDateTime::now_utc();
    let (environment, time) = Environment::virtual_time(start, 3);
    harness_on(scenario, grace, environment, time).await
}

/// Real time, for what races the network: on virtual time the clock stands still while an
/// answer is awaited.
pub async fn real_time_harness(scenario: Scenario) -> Harness {
    let (_, time) = Environment::virtual_time(time::OffsetDateTime::now_utc(), 3);
    harness_on(
        scenario,
        runbook_runner::DEFAULT_GRACE,
        Environment::system(),
        time,
    )
    .await
}

async fn harness_on(
    scenario: Scenario,
    grace: std::time::Duration,
    environment: Environment,
    time: VirtualTime,
) -> Harness {
    let sandbox = RunningSandbox::start(
        SandboxConfig {
            scenario,
            environment: environment.clone(),
            seed: 3,
            limits: ConnectionLimits::default(),
            keep_requests: 0,
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let credentials = Credentials::AkSk {
        ak: "SANDBOXAKEXAMPLE0001".into(),
        sk: Secret::new("sandbox-secret-key-0001"),
        security_token: None,
    };
    let transport = Transport::builder(sandbox.transport_config(credentials, PROJECT))
        .environment(environment.clone())
        .build()
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    *recorder.clock.lock().unwrap() = Some(environment.clock.clone());
    let runner = Runner::new(
        Client::new(transport),
        environment.clone(),
        recorder.clone(),
    )
    .with_grace(grace);
    Harness {
        sandbox,
        runner,
        environment,
        time,
        recorder,
    }
}

pub fn runbook(text: &str) -> runbook_lang::Runbook {
    runbook_lang::parse(&runbook_lang::Source::new("test.yaml", text))
        .unwrap_or_else(|d| panic!("{d:#?}"))
}

/// The first of `files` (name, text), with the sub-runbooks it runs read from the others.
pub fn runbook_with(files: &[(&str, &str)]) -> runbook_lang::Runbook {
    let loader = runbook_lang::InMemory::new(files.iter().copied());
    let root = loader.root(files[0].0).unwrap();
    runbook_lang::parse_with_loader(&root, &loader)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .0
}

pub async fn run(harness: &Harness, runbook: &runbook_lang::Runbook) -> RunState {
    run_given(harness, runbook, &[]).await
}

/// Runs `runbook` with inputs given as `-i NAME=VALUE` would give them.
pub async fn run_given(
    harness: &Harness,
    runbook: &runbook_lang::Runbook,
    given: &[(&str, &str)],
) -> RunState {
    let given = given
        .iter()
        .map(|(name, value)| ((*name).to_owned(), inputs::Given::Text((*value).to_owned())))
        .collect();
    let inputs = inputs::resolve(runbook, given).unwrap();
    harness
        .runner
        .run(
            Arc::new(runbook.clone()),
            RunInput {
                run_id: String::new(),
                inputs,
                secrets: Vec::new(),
                env: Default::default(),
            },
        )
        .await
}

fn run_input(runbook: &runbook_lang::Runbook) -> RunInput {
    RunInput {
        run_id: "run-1".to_owned(),
        inputs: inputs::resolve(runbook, Vec::new()).unwrap(),
        secrets: Vec::new(),
        env: Default::default(),
    }
}

/// Runs `runbook` until the process "dies" where `crash_at` says (then `None`), or to the end.
pub async fn run_until_crash(
    harness: &Harness,
    runbook: &runbook_lang::Runbook,
    crash_at: impl Fn(&Value) -> Option<Cut> + Send + Sync + 'static,
) -> Option<RunState> {
    let recorder = &harness.recorder;
    *recorder.crash_at.lock().unwrap() = Some(Box::new(crash_at));
    recorder.crashed.store(false, Ordering::SeqCst);
    let outcome = tokio::select! {
        biased;
        () = recorder.crash.notified() => None,
        state = harness.runner.run(Arc::new(runbook.clone()), run_input(runbook)) => Some(state),
    };
    *recorder.crash_at.lock().unwrap() = None;
    recorder.crashed.store(false, Ordering::SeqCst);
    outcome
}

/// Resumes the run from what the journal holds, as a new process would.
pub async fn resume(
    harness: &Harness,
    runbook: &runbook_lang::Runbook,
    decision: Option<runbook_runner::Decision>,
) -> RunState {
    let recorder = &harness.recorder;
    recorder.crashed.store(false, Ordering::SeqCst);
    let entries = recorder.journal.lock().unwrap().clone();
    let started_at = entries
        .first()
        .and_then(|e| e["ts"].as_str())
        .unwrap()
        .to_owned();
    let mut resume = Resume::from_journal(started_at, &entries).unwrap();
    resume.decision = decision;
    harness
        .runner
        .resume(Arc::new(runbook.clone()), run_input(runbook), resume)
        .await
}

/// How many `operation` requests the sandbox has answered.
pub fn requests(harness: &Harness, operation: &str) -> u64 {
    harness
        .sandbox
        .request_counts()
        .get(operation)
        .copied()
        .unwrap_or(0)
}

/// Whether `entry` is the event `kind` of `step`.
pub fn is(entry: &Value, kind: &str, step: &str) -> bool {
    entry["event"] == kind && entry["step"] == step
}

/// How many times the journal, which outlives each process, shows `step` begun.
pub fn times_begun(harness: &Harness, step: &str) -> usize {
    harness
        .recorder
        .journal
        .lock()
        .unwrap()
        .iter()
        .filter(|e| is(e, "step_started", step))
        .count()
}

pub fn scenario_with_fault(operation: &str, fault: &str) -> Scenario {
    let text = format!(
        "{}\nfaults:\n  {operation}: {fault}\n",
        hwc_sandbox::DEFAULT_SCENARIO
    );
    Scenario::parse("faults.yaml", &text).unwrap()
}

/// The default scenario plus AOM workflow `id` of one node that succeeds after `duration`: an
/// execution of it ends exactly `duration` after it starts.
pub fn scenario_with_workflow_lasting(id: &str, duration: std::time::Duration) -> Scenario {
    scenario_with_workflows_lasting(&[(id, duration)])
}

/// As [`scenario_with_workflow_lasting`], for each `(id, duration)`.
pub fn scenario_with_workflows_lasting(lasting: &[(&str, std::time::Duration)]) -> Scenario {
    let mut scenario = Scenario::default_scenario();
    let project = scenario
        .projects
        .iter_mut()
        .find(|p| p.id == PROJECT)
        .unwrap();
    for &(id, duration) in lasting {
        project.aom_workflows.push(AomWorkflow {
            id: id.to_owned(),
            description: String::new(),
            nodes: vec![AomNode {
                id: "only".to_owned(),
                behaviour: NodeBehaviour::Succeed,
                duration,
                output: Value::Null,
                fail_attempts: None,
            }],
        });
    }
    scenario
}
