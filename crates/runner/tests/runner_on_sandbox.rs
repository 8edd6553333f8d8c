#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The runner against the in-process sandbox, sharing one virtual clock: deadlines, retry
//! safety for steps that start things, bounded `on_failure` loops, and the run state.

mod support;

use std::time::Duration;

use hwc_sandbox::Scenario;
use runbook_runner::{Event, RunState, RunStatus, StepStatus};
use support::{harness, run, runbook, scenario_with_fault};

#[tokio::test]
async fn a_start_is_resent_after_a_500_only_once_listing_shows_it_did_not_start() {
    // A 500 may have started the workflow: the runner lists its executions (twice, a settle
    // apart) and sends once more only when none began; blind resends need `retry.on`.
    let harness = harness(scenario_with_fault("ExecuteWorkflow", "{error_500: 1.0}")).await;
    let cautious = runbook(
        "version: 1\nname: t\nsteps:\n  - id: start\n    retry: {attempts: 3}\n    aom.start: {workflow_id: wf-success}\n",
    );
    let state = run(&harness, &cautious).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["start"].attempts, 1);
    assert_eq!(harness.sandbox.request_counts()["ExecuteWorkflow"], 2);
    assert_eq!(
        harness.sandbox.request_counts()["ListWorkflowExecutions"],
        4
    );
    let error = state.error.unwrap();
    assert!(
        error.contains("HTTP 500") && error.contains("AOM."),
        "{error}"
    );
    assert!(error.contains("request id"), "{error}");

    let insistent = runbook(
        "version: 1\nname: t\nsteps:\n  - id: start\n    retry: {attempts: 3, on: [500]}\n    aom.start: {workflow_id: wf-success}\n",
    );
    let state = run(&harness, &insistent).await;
    assert_eq!(state.steps["start"].attempts, 3);
    assert_eq!(
        harness.sandbox.request_counts()["ExecuteWorkflow"],
        2 + 3 * 2
    );
    let retries = harness
        .recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Retry { .. }))
        .count();
    assert_eq!(retries, 2);
}

#[tokio::test]
async fn stop_steps_cancel_what_the_run_started_and_report_an_ended_execution() {
    let harness = harness(Scenario::default_scenario()).await;
    let stops = runbook(
        r#"
version: 1
name: stops
steps:
  - id: aom
    aom.start: {workflow_id: wf-long}
  - id: fg
    functiongraph.start: {workflow_id: fg-callback}
  - id: stop_aom
    aom.stop: {workflow_id: wf-long, execution_id: "{{ steps.aom.execution_id }}"}
  - id: stop_fg
    functiongraph.stop: {workflow_id: fg-callback, execution_id: "{{ steps.fg.execution_id }}"}
  - id: stop_again
    on_failure: continue
    aom.stop: {workflow_id: wf-long, execution_id: "{{ steps.aom.execution_id }}"}
"#,
    );
    let state = run(&harness, &stops).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let aom_id = state.steps["aom"].result.as_ref().unwrap()["execution_id"].clone();
    let fg_id = state.steps["fg"].result.as_ref().unwrap()["execution_id"].clone();
    assert_eq!(
        state.steps["stop_aom"].result,
        Some(
            serde_json::json!({"workflow_id": "wf-long", "execution_id": aom_id, "result": "success"})
        )
    );
    assert_eq!(
        state.steps["stop_fg"].result,
        Some(serde_json::json!({"workflow_id": "fg-callback", "execution_id": fg_id}))
    );
    let again = &state.steps["stop_again"];
    assert_eq!(again.status, StepStatus::Failed);
    let error = again.error.as_deref().unwrap();
    assert!(
        error.contains("HTTP 400")
            && error.contains("AOM.31001403")
            && error.contains("already ended"),
        "{error}"
    );

    let executions = harness.sandbox.executions();
    assert_eq!(executions["aom"][0]["execution_id"], aom_id);
    assert_eq!(executions["aom"][0]["status"], "cancel");
    assert_eq!(executions["functiongraph"][0]["execution_id"], fg_id);
    assert_eq!(executions["functiongraph"][0]["status"], "cancel");
}

#[tokio::test]
async fn a_stop_is_not_resent_after_a_500_unless_the_runbook_says_so() {
    let harness = harness(scenario_with_fault("StopWorkFlow", "{error_500: 1.0}")).await;
    let cautious = runbook(
        "version: 1\nname: t\nsteps:\n  - id: stop\n    retry: {attempts: 3}\n    functiongraph.stop: {workflow_id: fg-standard, execution_id: some-run}\n",
    );
    let state = run(&harness, &cautious).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["stop"].attempts, 1);
    assert_eq!(harness.sandbox.request_counts()["StopWorkFlow"], 1);
}

#[tokio::test]
async fn the_run_timeout_stops_a_long_wait_on_virtual_time() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        "version: 1\nname: t\ntimeout: 3m\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-long}\n  - id: wait\n    aom.wait:\n      workflow_id: wf-long\n      execution_id: \"{{ steps.start.execution_id }}\"\n",
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::TimedOut);
    assert_eq!(state.steps["wait"].status, StepStatus::TimedOut);
    // The clock reached the deadline and no further: the last sleep was cut to fit.
    let slept: Duration = harness.time.sleeps().iter().sum();
    assert_eq!(slept, Duration::from_secs(180));
}

#[tokio::test]
async fn a_backward_goto_loops_at_most_max_times() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: loop
steps:
  - id: count
    set: {n: "{{ (vars.n if vars.n is defined else 0) + 1 }}"}
  - id: check
    assert: {that: "vars.n >= 10", message: "only {{ vars.n }}"}
    on_failure: {goto: count, max: 3}
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.vars["n"], 4);
    assert_eq!(state.steps["check"].gotos_taken, 4);
    assert!(state.error.unwrap().contains("3 time(s)"));
}

#[tokio::test]
async fn the_state_records_every_transition_and_round_trips_through_json() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        "version: 1\nname: t\ninputs:\n  token: {type: string, secret: true, default: s3cret}\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-success}\n  - id: wait\n    timeout: 1m\n    aom.wait: {workflow_id: wf-success, execution_id: \"{{ steps.start.execution_id }}\"}\n",
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded);
    assert!(*harness.recorder.transitions.lock().unwrap() >= 6);
    assert_eq!(state.inputs["token"], "***");
    assert_eq!(state.executions.len(), 1);
    assert_eq!(state.executions[0].workflow_id, "wf-success");
    let text = serde_json::to_string(&state).unwrap();
    assert!(!text.contains("s3cret"));
    let back: RunState = serde_json::from_str(&text).unwrap();
    assert_eq!(back.executions, state.executions);
    assert_eq!(back.steps["wait"].polls, state.steps["wait"].polls);
}
