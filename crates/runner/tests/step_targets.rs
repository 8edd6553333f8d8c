#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A step's `target` through the runner: every request of the step, reconciliation after a
//! crash included, goes to the target's project with the target's keys.

mod support;

use std::sync::Arc;

use hwc_client::runtime::{Credentials, Secret};
use hwc_client::{Client, Environment, Transport, TransportConfig};
use hwc_sandbox::Scenario;
use runbook_runner::targets::{Reached, TargetSpec, Targets};
use runbook_runner::RunStatus;
use support::{harness, runbook};

const OTHER: &str = "ffffffffffffffffffffffffffffffff";

/// The sandbox's projects, each with its own key: what `runbook run --sandbox` gives a run.
struct SandboxProjects {
    base: TransportConfig,
    environment: Environment,
    scenario: Scenario,
}

impl Targets for SandboxProjects {
    fn reach(&self, target: &TargetSpec) -> Result<Reached, String> {
        let wanted = target.project_id.clone().ok_or("no project")?;
        let project = self
            .scenario
            .projects
            .iter()
            .find(|p| p.id == wanted)
            .ok_or("no such project")?;
        let key = &project.credentials[0];
        let mut config = self.base.clone();
        config.project_id = Some(wanted.clone());
        config.credentials = Credentials::AkSk {
            ak: key.ak.clone(),
            sk: Secret::new(key.sk.clone()),
            security_token: None,
        };
        let transport = Transport::builder(config)
            .environment(self.environment.clone())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Reached {
            client: Client::new(transport),
            secrets: vec![key.sk.clone()],
            description: format!("project {wanted}"),
        })
    }
}

const OTHER_PROJECT: &str = r#"
version: 1
name: elsewhere
timeout: 1h
steps:
  - id: deploy
    target: {project_id: ffffffffffffffffffffffffffffffff}
    aom.run: {workflow_id: wf-other}
"#;

async fn targeted_harness() -> support::Harness {
    let mut harness = harness(Scenario::default_scenario()).await;
    let targets = SandboxProjects {
        base: harness.sandbox.transport_config(
            Credentials::AkSk {
                ak: String::new(),
                sk: Secret::new(String::new()),
                security_token: None,
            },
            "",
        ),
        environment: harness.environment.clone(),
        scenario: Scenario::default_scenario(),
    };
    harness.runner = harness.runner.clone().with_targets(Arc::new(targets));
    harness
}

/// `(project_id, workflow_id)` of each AOM execution.
fn executions(harness: &support::Harness) -> Vec<(String, String)> {
    harness.sandbox.executions()["aom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["project_id"].as_str().unwrap().to_owned(),
                e["workflow_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_lost_start_in_another_project_is_found_there_and_never_sent_twice() {
    let harness = targeted_harness().await;
    let book = runbook(OTHER_PROJECT);
    // The start is applied, and the process dies before its answer is recorded.
    let crashed = support::run_until_crash(&harness, &book, |e| {
        support::is(e, "execution_started", "deploy").then_some(support::Cut::Before)
    })
    .await;
    assert!(crashed.is_none());
    let intents = harness.recorder.intents.lock().unwrap().clone();
    assert_eq!(intents.len(), 1);
    assert_eq!(
        intents[0]
            .target
            .as_ref()
            .and_then(|t| t.project_id.as_deref()),
        Some(OTHER)
    );
    let state = support::resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(harness.sandbox.request_counts()["ExecuteWorkflow"], 1);
    assert_eq!(
        executions(&harness),
        vec![(OTHER.to_owned(), "wf-other".to_owned())]
    );
    // The listing that found it asked the other project.
    assert!(harness.sandbox.request_counts()["ListWorkflowExecutions"] >= 1);
    assert_eq!(
        state.executions[0]
            .target
            .as_ref()
            .and_then(|t| t.project_id.as_deref()),
        Some(OTHER)
    );
}

#[tokio::test]
async fn without_targets_a_step_that_names_one_fails_and_says_why() {
    let harness = harness(Scenario::default_scenario()).await;
    let state = support::run(&harness, &runbook(OTHER_PROJECT)).await;
    assert_eq!(state.status, RunStatus::Failed);
    let error = state.steps["deploy"].error.clone().unwrap();
    assert_eq!(
        error,
        "target: this runner was given no way to reach other targets"
    );
    assert!(!harness
        .sandbox
        .request_counts()
        .contains_key("ExecuteWorkflow"));
}

/// Reaches any target with the run's own client, counting how many it built.
struct Counting(std::sync::Mutex<usize>, Client);

impl Targets for Counting {
    fn reach(&self, _: &TargetSpec) -> Result<Reached, String> {
        *self.0.lock().unwrap() += 1;
        Ok(Reached {
            client: self.1.clone(),
            secrets: Vec::new(),
            description: "the run's own".to_owned(),
        })
    }
}

#[tokio::test]
async fn a_run_reaches_at_most_max_targets_distinct_targets() {
    let mut harness = harness(Scenario::default_scenario()).await;
    let base = harness.sandbox.transport_config(
        Credentials::AkSk {
            ak: "SANDBOXAKEXAMPLE0001".into(),
            sk: Secret::new("sandbox-secret-key-0001"),
            security_token: None,
        },
        "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    );
    let client = Client::new(
        Transport::builder(base)
            .environment(harness.environment.clone())
            .build()
            .unwrap(),
    );
    let counting = Arc::new(Counting(std::sync::Mutex::new(0), client));
    harness.runner = harness.runner.clone().with_targets(counting.clone());
    let limit = runbook_lang::limits::MAX_TARGETS;
    let book = runbook(&format!(
        r#"
version: 1
name: many
steps:
  - id: each
    for_each: "{{{{ range({}) | list }}}}"
    max_errors: 1
    target: {{project_id: "p{{{{ item % {} }}}}x{{{{ item }}}}"}}
    aom.start: {{workflow_id: wf-success}}
"#,
        limit + 1,
        limit + 1
    ));
    let state = support::run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(*counting.0.lock().unwrap(), limit);
    let result = state.steps["each"].result.clone().unwrap();
    assert!(result[limit].is_null(), "{}", result[limit]);
    assert!(result[limit - 1]["execution_id"].is_string());
    let finished = harness.recorder.events.lock().unwrap().iter().any(|event| {
        matches!(event, runbook_runner::Event::StepFinished { index: Some(i), error: Some(e), .. }
            if *i == limit && e.starts_with("target: this run already reached 100 targets"))
    });
    assert!(finished);
}
