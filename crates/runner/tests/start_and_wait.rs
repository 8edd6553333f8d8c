#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `aom.run` and `functiongraph.run`: a start and a wait in one step, so under `for_each` the
//! step's `concurrency` bounds the executions in flight, as the sandbox sees them.

mod support;

use std::time::Duration;

use hwc_client::runtime::Clock;
use hwc_sandbox::Scenario;
use runbook_runner::{RunStatus, StepStatus};
use support::{harness, run, runbook};

#[tokio::test]
async fn aom_run_under_concurrency_2_never_has_more_than_2_executions_in_flight() {
    let harness = harness(support::scenario_with_workflow_lasting(
        "wf-1m",
        Duration::from_secs(60),
    ))
    .await;
    let book = runbook(
        r#"
version: 1
name: two-at-a-time
timeout: 1h
steps:
  - id: deploy
    for_each: [a, b, c, d, e]
    concurrency: 2
    aom.run:
      workflow_id: wf-1m
      poll: {min: 1s, max: 1s}
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let executions = harness.sandbox.executions();
    let results = state.steps["deploy"].result.clone().unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert!(
        results.iter().all(|r| r["status"] == "success"),
        "{results:?}"
    );
    assert_eq!(
        hwc_sandbox::most_running_at_once(&executions, "wf-1m"),
        2,
        "{executions:#}"
    );
    // Three rounds of a one-minute execution, each seen ended within a poll.
    assert!(harness.time.elapsed() >= Duration::from_secs(180));
    assert!(harness.time.elapsed() <= Duration::from_secs(186));
}

#[tokio::test]
async fn a_start_step_and_a_wait_step_under_the_same_concurrency_have_them_all_in_flight() {
    // What `aom.run` is for: `concurrency` on a start step bounds start requests, not
    // executions, so every execution runs at once.
    let harness = harness(support::scenario_with_workflow_lasting(
        "wf-1m",
        Duration::from_secs(60),
    ))
    .await;
    let book = runbook(
        r#"
version: 1
name: all-at-once
timeout: 1h
steps:
  - id: start
    for_each: [a, b, c, d, e]
    concurrency: 2
    aom.start: {workflow_id: wf-1m}
  - id: wait
    for_each: "{{ steps.start }}"
    concurrency: 2
    aom.wait: {workflow_id: wf-1m, execution_id: "{{ item.execution_id }}", poll: {min: 1s, max: 1s}}
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        hwc_sandbox::most_running_at_once(&harness.sandbox.executions(), "wf-1m"),
        5
    );
}

#[tokio::test]
async fn aom_run_applies_the_node_rules_and_returns_the_last_detail() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: flaky
timeout: 1h
steps:
  - id: deploy
    aom.run:
      workflow_id: wf-flaky
      when_node_fails: [{nodes: [migrate], then: restart, max: 1}]
  - id: broken
    on_failure: continue
    aom.run: {workflow_id: wf-broken}
"#,
    );
    let state = run(&harness, &book).await;
    let deploy = state.steps["deploy"].result.clone().unwrap();
    assert_eq!(deploy["status"], "success", "{deploy}");
    assert_eq!(deploy["workflow_id"], "wf-flaky");
    assert_eq!(
        deploy["node_actions"],
        serde_json::json!([{"node": "migrate", "action": "restart"}])
    );
    let started = &state.executions;
    assert_eq!(started.len(), 2, "{started:?}");
    assert_eq!(
        deploy["execution_id"].as_str(),
        Some(started[0].execution_id.as_str())
    );
    let broken = &state.steps["broken"];
    assert_eq!(broken.status, StepStatus::Failed);
    let error = broken.error.clone().unwrap();
    assert!(
        error.contains("failed at node `optional-cleanup`")
            && error.contains(&started[1].execution_id),
        "{error}"
    );
    assert_eq!(broken.result.as_ref().unwrap()["status"], "fail");
}

#[tokio::test]
async fn functiongraph_run_starts_and_waits_for_the_end() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: fg
timeout: 1h
steps:
  - id: flow
    functiongraph.run: {workflow_id: fg-standard, input: {n: 1}, poll: {min: 1s, max: 1s}}
  - id: cancelled_is_not_success
    on_failure: continue
    timeout: 1s
    functiongraph.run: {workflow_id: fg-standard}
"#,
    );
    let state = run(&harness, &book).await;
    let flow = state.steps["flow"].result.clone().unwrap();
    assert_eq!(flow["status"], "success", "{flow}");
    assert_eq!(
        flow["execution_id"].as_str(),
        Some(state.executions[0].execution_id.as_str())
    );
    // Two states of 2 s each, seen ended within a 1 s poll.
    let elapsed = state.steps["flow"].clone();
    assert_eq!(elapsed.polls, 5, "{elapsed:?}");
    assert_eq!(
        state.steps["cancelled_is_not_success"].status,
        StepStatus::TimedOut
    );
    assert_eq!(
        harness.sandbox.request_counts()["StartWorkflowExecution"],
        2
    );
}

#[tokio::test]
async fn a_resumed_aom_run_waits_for_the_execution_it_started_and_starts_none() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        "version: 1\nname: t\ntimeout: 1h\nsteps:\n  - id: deploy\n    aom.run: {workflow_id: wf-success}\n",
    );
    // Dies at the first poll, after the start was recorded.
    let crashed = support::run_until_crash(&harness, &book, |e| {
        support::is(e, "poll", "deploy").then_some(support::Cut::Before)
    })
    .await;
    assert!(crashed.is_none());
    let state = support::resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(harness.sandbox.request_counts()["ExecuteWorkflow"], 1);
    let listed = harness.sandbox.executions()["aom"]
        .as_array()
        .cloned()
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        state.steps["deploy"].result.as_ref().unwrap()["execution_id"],
        listed[0]["execution_id"]
    );
}

#[tokio::test]
async fn a_retried_aom_run_starts_a_new_execution_only_when_retry_on_names_the_failure() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: retried
timeout: 1h
steps:
  - id: default_retry
    on_failure: continue
    retry: {attempts: 3, delay: 1s}
    aom.run: {workflow_id: wf-broken}
  - id: any
    on_failure: continue
    retry: {attempts: 2, delay: 1s, on: [any]}
    aom.run: {workflow_id: wf-broken}
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(
        state.steps["default_retry"].attempts, 1,
        "an ended execution is no retryable error"
    );
    assert_eq!(state.steps["any"].attempts, 2);
    assert_eq!(state.steps["any"].status, StepStatus::Failed);
    let started: Vec<&str> = state.executions.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(
        started,
        ["default_retry", "any", "any"],
        "each retry starts anew"
    );
    assert_eq!(harness.sandbox.request_counts()["ExecuteWorkflow"], 3);
}
