//! The runner's tests share one rig: the in-process sandbox and the runner on one virtual
//! clock, with an observer that records every event.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use hwc_client::runtime::{Credentials, Secret, VirtualTime};
use hwc_client::{Client, Environment, Transport};
use hwc_sandbox::{RunningSandbox, SandboxConfig, Scenario};
use runbook_runner::{inputs, Event, Intent, Observer, RunInput, RunState, Runner};

pub const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Event>>,
    pub transitions: Mutex<usize>,
    pub intents: Mutex<Vec<Intent>>,
    /// When set, recording an intent fails (as a full disk would).
    pub refuse_intents: AtomicBool,
}

impl Observer for Recorder {
    fn event(&self, event: &Event) {
        self.events.lock().unwrap().push(event.clone());
    }

    fn before_change(&self, intent: &Intent) -> BoxFuture<'_, Result<(), String>> {
        self.intents.lock().unwrap().push(intent.clone());
        let refused = self.refuse_intents.load(Ordering::SeqCst);
        Box::pin(async move {
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
            clock: environment.clock.clone(),
            seed: 3,
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
    let runner =
        Runner::new(Client::new(transport), environment, recorder.clone()).with_grace(grace);
    Harness {
        sandbox,
        runner,
        time,
        recorder,
    }
}

pub fn runbook(text: &str) -> runbook_lang::Runbook {
    runbook_lang::parse(&runbook_lang::Source::new("test.yaml", text))
        .unwrap_or_else(|d| panic!("{d:#?}"))
}

pub async fn run(harness: &Harness, runbook: &runbook_lang::Runbook) -> RunState {
    let inputs = inputs::resolve(runbook, Vec::new()).unwrap();
    harness
        .runner
        .run(
            runbook,
            RunInput {
                run_id: String::new(),
                inputs,
                secrets: Vec::new(),
                env: Default::default(),
            },
        )
        .await
}

pub fn scenario_with_fault(operation: &str, fault: &str) -> Scenario {
    let text = format!(
        "{}\nfaults:\n  {operation}: {fault}\n",
        hwc_sandbox::DEFAULT_SCENARIO
    );
    Scenario::parse("faults.yaml", &text).unwrap()
}
