#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The runner against the in-process sandbox, sharing one virtual clock: deadlines, retry
//! safety for steps that start things, bounded `on_failure` loops, the run state, and how
//! soon (and with how many polls) a wait notices an execution's end.

mod support;

use std::time::Duration;

use hwc_sandbox::Scenario;
use runbook_runner::{Event, RunState, RunStatus, StepStatus};
use support::{harness, is, run, runbook, scenario_with_fault, scenario_with_workflow_lasting};

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

/// The statuses a wait stops at come from the spec's waiters: an execution stopped under a
/// wait (`cancel`, a failure terminal of both waiters) ends the wait at the next poll, as a
/// failure naming the status, instead of polling on to the step's timeout. An AOM `fail`
/// also ends the AOM waiter, but only after the wait's `when_node_fails` rules had their turn:
/// here the failed node is restarted and the wait succeeds.
#[tokio::test]
async fn a_wait_ends_at_the_specs_terminal_statuses_and_rules_act_on_aom_fail_first() {
    let harness = harness(Scenario::default_scenario()).await;
    let stopped = runbook(
        r#"
version: 1
name: stopped
steps:
  - id: aom
    aom.start: {workflow_id: wf-long}
  - id: fg
    functiongraph.start: {workflow_id: fg-callback}
  - id: stop_aom
    aom.stop: {workflow_id: wf-long, execution_id: "{{ steps.aom.execution_id }}"}
  - id: stop_fg
    functiongraph.stop: {workflow_id: fg-callback, execution_id: "{{ steps.fg.execution_id }}"}
  - id: wait_aom
    timeout: 1h
    on_failure: continue
    aom.wait: {workflow_id: wf-long, execution_id: "{{ steps.aom.execution_id }}"}
  - id: wait_fg
    timeout: 1h
    on_failure: continue
    functiongraph.wait: {workflow_id: fg-callback, execution_id: "{{ steps.fg.execution_id }}"}
"#,
    );
    let state = run(&harness, &stopped).await;
    for wait in ["wait_aom", "wait_fg"] {
        let step = &state.steps[wait];
        assert_eq!(step.status, StepStatus::Failed, "{wait}: {:?}", step.error);
        let error = step.error.as_deref().unwrap();
        assert!(error.contains("ended as `cancel`"), "{wait}: {error}");
        assert_eq!(step.polls, 1, "{wait}: stopped at the first poll");
    }

    let restarted = runbook(
        r#"
version: 1
name: restarted
steps:
  - id: start
    aom.start: {workflow_id: wf-flaky}
  - id: wait
    timeout: 10m
    aom.wait:
      workflow_id: wf-flaky
      execution_id: "{{ steps.start.execution_id }}"
      when_node_fails: [{then: restart, max: 1}]
"#,
    );
    let state = run(&harness, &restarted).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let actions = &state.steps["wait"].result.as_ref().unwrap()["node_actions"];
    assert_eq!(
        actions,
        &serde_json::json!([{"node": "migrate", "action": "restart"}])
    );
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

#[tokio::test]
async fn a_wait_notices_the_end_within_a_tenth_of_the_time_with_the_polls_the_rule_allows() {
    let (min, max) = (
        runbook_lang::DEFAULT_POLL_MIN,
        runbook_lang::DEFAULT_POLL_MAX,
    );
    for lasting in [10, 60, 300, 3_600].map(Duration::from_secs) {
        let harness = harness(scenario_with_workflow_lasting("wf-lasting", lasting)).await;
        let book = runbook(
            "version: 1\nname: t\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-lasting}\n  - id: wait\n    timeout: 2h\n    aom.wait: {workflow_id: wf-lasting, execution_id: \"{{ steps.start.execution_id }}\"}\n",
        );
        let state = run(&harness, &book).await;
        assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);

        let result = state.steps["wait"].result.as_ref().unwrap();
        let ended = result["end_time"].as_i64().unwrap();
        let began = result["begin_time"].as_i64().unwrap();
        assert_eq!(
            ended - began,
            millis(lasting),
            "the execution ran for {lasting:?}"
        );
        // Both in whole milliseconds, as the sandbox reports times: floored alike, the
        // difference is exact for a whole-millisecond bound.
        let late = last_poll_ms(&harness) - ended;
        let bound = (lasting / 10).clamp(min, max);
        assert!(
            (0..=millis(bound)).contains(&late),
            "{lasting:?}: the end was noticed {late} ms after it happened, more than {bound:?}"
        );

        let polls = state.steps["wait"].polls;
        let fewest = polls_by_rule(lasting, min, max, 10);
        let most = polls_by_rule(lasting, min, max, 9);
        assert!(
            (fewest..=most).contains(&polls),
            "{lasting:?}: {polls} polls, the rule makes {fewest} to {most}"
        );
        println!("{lasting:?}: {polls} polls (the rule: {fewest} to {most}), noticed {late} ms after the end");
    }
}

/// Polls until one lands `lasting` into the wait when each delay is `tenths`/10 of
/// `clamp(waited / 10, min, max)`, never below `min`: 10 without jitter (the fewest polls),
/// 9 with the most jitter (the most polls; a shorter delay never makes a later poll earlier).
fn polls_by_rule(lasting: Duration, min: Duration, max: Duration, tenths: u32) -> u32 {
    let mut waited = Duration::ZERO;
    let mut polls = 1;
    while waited < lasting {
        let delay = (waited / 10).clamp(min, max);
        waited += (delay * tenths / 10).max(min);
        polls += 1;
    }
    polls
}

/// When the wait's last poll was made, by the journal.
fn last_poll_ms(harness: &support::Harness) -> i64 {
    let journal = harness.recorder.journal.lock().unwrap();
    let last = journal
        .iter()
        .rev()
        .find(|e| is(e, "poll", "wait"))
        .unwrap();
    assert_eq!(last["status"], "success", "{last}");
    let at = time::OffsetDateTime::parse(
        last["ts"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap()
}
