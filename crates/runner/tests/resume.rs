#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Resuming a run from its journal after the process died, against the in-process sandbox:
//! one test per row of the README's resume table, each proving through the sandbox's own
//! records that nothing was started or changed twice.

mod support;

use hwc_sandbox::Scenario;
use runbook_runner::{Decision, Event, RunStatus, StepStatus};
use serde_json::Value;
use support::{harness, is, resume, run_until_crash, runbook, scenario_with_fault, Cut};

const DEPLOY: &str = "version: 1\nname: t\nsteps:\n  - id: deploy\n    aom.start: {workflow_id: wf-success}\n  - id: watch\n    timeout: 5m\n    aom.wait: {workflow_id: wf-success, execution_id: \"{{ steps.deploy.execution_id }}\"}\n";

fn executions(harness: &support::Harness, service: &str) -> Vec<Value> {
    harness.sandbox.executions()[service]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn reconciled(harness: &support::Harness) -> Vec<String> {
    harness
        .recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::OutcomeReconciled { decision, .. } => Some(decision.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn finished_steps_are_not_run_again_and_a_recorded_start_is_followed() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(DEPLOY);
    // Dies after the start's answer is journaled, before the step's checkpoint.
    let crashed = run_until_crash(&harness, &book, |e| {
        (e["event"] == "checkpoint" && e["step"] == "deploy").then_some(Cut::Before)
    })
    .await;
    assert!(crashed.is_none());
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(executions(&harness, "aom").len(), 1);
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 1);
    assert_eq!(
        support::requests(&harness, "ListWorkflowExecutions"),
        0,
        "nothing to look up"
    );
    assert_eq!(state.executions.len(), 1);
    let events = harness.recorder.events.lock().unwrap();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::RunResumed { step: Some(s), .. } if s == "deploy")));
}

#[tokio::test]
async fn a_start_applied_whose_answer_was_lost_is_adopted_from_the_list() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(DEPLOY);
    run_until_crash(&harness, &book, |e| {
        is(e, "execution_started", "deploy").then_some(Cut::Before)
    })
    .await;
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        support::requests(&harness, "ExecuteWorkflow"),
        1,
        "never sent again"
    );
    let listed = executions(&harness, "aom");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        state.steps["deploy"].result.as_ref().unwrap()["execution_id"],
        listed[0]["execution_id"]
    );
    assert_eq!(reconciled(&harness), ["applied"]);
}

#[tokio::test]
async fn a_start_whose_intent_was_recorded_but_never_sent_is_started_after_a_second_look() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(DEPLOY);
    run_until_crash(&harness, &book, |e| {
        (e["event"] == "intent" && e["step"] == "deploy").then_some(Cut::After)
    })
    .await;
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 0);
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 1);
    assert_eq!(
        support::requests(&harness, "ListWorkflowExecutions"),
        2,
        "listed, settled, listed again"
    );
    assert_eq!(executions(&harness, "aom").len(), 1);
    assert_eq!(reconciled(&harness), ["not_applied"]);
}

#[tokio::test]
async fn several_candidates_stop_the_run_for_a_decision_and_adopt_resumes_it() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(DEPLOY);
    run_until_crash(&harness, &book, |e| {
        is(e, "execution_started", "deploy").then_some(Cut::Before)
    })
    .await;
    // Someone else starts the same workflow meanwhile: two candidates in the window.
    let other = runbook(
        "version: 1\nname: other\nsteps:\n  - id: s\n    aom.start: {workflow_id: wf-success}\n",
    );
    harness
        .recorder
        .muted
        .store(true, std::sync::atomic::Ordering::SeqCst);
    support::run(&harness, &other).await;
    harness
        .recorder
        .muted
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Suspended);
    let needs = state.needs_decision.clone().unwrap();
    assert_eq!(needs.candidates.len(), 2, "{needs:?}");
    assert_eq!(needs.workflow_id.as_deref(), Some("wf-success"));
    assert!(needs.window.is_some());
    assert_eq!(
        support::requests(&harness, "ExecuteWorkflow"),
        2,
        "nothing started by the resume"
    );

    let mine = needs.candidates[0].clone();
    let state = resume(&harness, &book, Some(Decision::Adopt(mine.clone()))).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        state.steps["deploy"].result.as_ref().unwrap()["execution_id"],
        mine.as_str()
    );
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 2);
}

#[tokio::test]
async fn a_start_decision_sends_again_without_looking() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(DEPLOY);
    run_until_crash(&harness, &book, |e| {
        (e["event"] == "intent" && e["step"] == "deploy").then_some(Cut::After)
    })
    .await;
    let state = resume(&harness, &book, Some(Decision::Start)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(support::requests(&harness, "ListWorkflowExecutions"), 0);
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 1);
}

#[tokio::test]
async fn a_sync_run_whose_answer_was_lost_is_found_and_its_result_rebuilt() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook("version: 1\nname: t\nsteps:\n  - id: smoke\n    functiongraph.run_sync: {workflow_id: fg-echo, input: {a: 1}}\n  - id: check\n    assert: {that: \"steps.smoke.status == 'success' and steps.smoke.output.echo.a == 1\", message: rebuilt}\n");
    run_until_crash(&harness, &book, |e| {
        is(e, "execution_started", "smoke").then_some(Cut::Before)
    })
    .await;
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(support::requests(&harness, "StartSyncWorkflowExecution"), 1);
    assert_eq!(executions(&harness, "functiongraph").len(), 1);
}

const CALLBACK: &str = "version: 1\nname: t\nsteps:\n  - id: flow\n    functiongraph.start: {workflow_id: fg-callback, input: {}}\n  - id: settle\n    sleep: 5s\n  - id: answer\n    functiongraph.callback: {workflow_id: fg-callback, run_id: \"{{ steps.flow.execution_id }}\", state_id: await-approval, result: success}\n";

#[tokio::test]
async fn a_delivered_callback_is_not_sent_again() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(CALLBACK);
    run_until_crash(&harness, &book, |e| {
        is(e, "step_finished", "answer").then_some(Cut::Before)
    })
    .await;
    assert_eq!(support::requests(&harness, "CreateCallbackWorkflow"), 1);
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(support::requests(&harness, "CreateCallbackWorkflow"), 1);
    assert_eq!(reconciled(&harness), ["applied"]);
}

#[tokio::test]
async fn a_callback_never_sent_is_sent_on_resume() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(CALLBACK);
    run_until_crash(&harness, &book, |e| {
        (e["event"] == "intent" && e["step"] == "answer").then_some(Cut::After)
    })
    .await;
    assert_eq!(support::requests(&harness, "CreateCallbackWorkflow"), 0);
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(support::requests(&harness, "CreateCallbackWorkflow"), 1);
    assert_eq!(reconciled(&harness), ["not_applied"]);
}

const CONTINUE: &str = "version: 1\nname: t\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-pause}\n  - id: reach\n    sleep: 5s\n  - id: go_on\n    aom.node: {workflow_id: wf-pause, execution_id: \"{{ steps.start.execution_id }}\", node_id: gate, action: continue}\n";

#[tokio::test]
async fn a_node_action_applied_is_not_sent_again_and_one_never_sent_is() {
    for (cut_at, sent_before, decision) in [
        ("step_finished", 1, "applied"),
        ("intent", 0, "not_applied"),
    ] {
        let harness = harness(Scenario::default_scenario()).await;
        let book = runbook(CONTINUE);
        run_until_crash(&harness, &book, move |e| {
            is(e, cut_at, "go_on").then_some(if cut_at == "intent" {
                Cut::After
            } else {
                Cut::Before
            })
        })
        .await;
        assert_eq!(
            support::requests(&harness, "StartPausingWorkflowExecutions"),
            sent_before
        );
        let state = resume(&harness, &book, None).await;
        assert_eq!(
            state.status,
            RunStatus::Succeeded,
            "{cut_at}: {:?}",
            state.error
        );
        assert_eq!(
            support::requests(&harness, "StartPausingWorkflowExecutions"),
            1,
            "{cut_at}"
        );
        assert_eq!(reconciled(&harness), [decision], "{cut_at}");
    }
}

#[tokio::test]
async fn a_stop_applied_is_not_sent_again() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook("version: 1\nname: t\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-long}\n  - id: halt\n    aom.stop: {workflow_id: wf-long, execution_id: \"{{ steps.start.execution_id }}\"}\n");
    run_until_crash(&harness, &book, |e| {
        is(e, "step_finished", "halt").then_some(Cut::Before)
    })
    .await;
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(support::requests(&harness, "StopExecution"), 1);
    assert_eq!(reconciled(&harness), ["applied"]);
}

#[tokio::test]
async fn a_call_that_changes_something_cannot_be_looked_up_so_a_person_decides() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook("version: 1\nname: t\nsteps:\n  - id: raw\n    call: {operation: ExecuteWorkflow, params: {workflow_id: wf-success}}\n");
    run_until_crash(&harness, &book, |e| {
        is(e, "step_finished", "raw").then_some(Cut::Before)
    })
    .await;
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Suspended);
    let needs = state.needs_decision.unwrap();
    assert_eq!(needs.operation, "ExecuteWorkflow");
    assert!(needs.candidates.is_empty());
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 1);

    let state = resume(&harness, &book, Some(Decision::Start)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        support::requests(&harness, "ExecuteWorkflow"),
        2,
        "sent again, as decided"
    );
}

#[tokio::test]
async fn a_resumed_wait_keeps_its_restart_count() {
    let harness = harness(Scenario::default_scenario()).await;
    // wf-flaky's middle node fails once; one restart is allowed in all.
    let book = runbook("version: 1\nname: t\nsteps:\n  - id: deploy\n    aom.start: {workflow_id: wf-flaky}\n  - id: watch\n    timeout: 10m\n    aom.wait:\n      workflow_id: wf-flaky\n      execution_id: \"{{ steps.deploy.execution_id }}\"\n      when_node_fails: [{then: restart, max: 1}]\n");
    run_until_crash(&harness, &book, |e| {
        (e["event"] == "node_action" && e["step"] == "watch").then_some(Cut::Before)
    })
    .await;
    assert_eq!(
        support::requests(&harness, "StartPausingWorkflowExecutions"),
        1
    );
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        support::requests(&harness, "StartPausingWorkflowExecutions"),
        1,
        "not restarted twice"
    );
    let result = state.steps["watch"].result.as_ref().unwrap();
    assert_eq!(
        result["node_actions"].as_array().unwrap().len(),
        1,
        "{result}"
    );
}

#[tokio::test]
async fn finally_runs_once_after_a_crash_in_the_steps_and_resumes_inside_finally() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook("version: 1\nname: t\nsteps:\n  - id: a\n    log: one\n  - id: b\n    log: two\nfinally:\n  - id: f1\n    log: three\n  - id: f2\n    functiongraph.run_sync: {workflow_id: fg-echo, input: {}}\n");
    run_until_crash(&harness, &book, |e| {
        (e["event"] == "checkpoint" && e["step"] == "f1").then_some(Cut::After)
    })
    .await;
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(state.steps["a"].status, StepStatus::Succeeded);
    assert_eq!(state.steps["f1"].status, StepStatus::Succeeded);
    let events = harness.recorder.events.lock().unwrap();
    let logged = |message: &str| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Log { message: m, .. } if m == message))
            .count()
    };
    assert_eq!((logged("one"), logged("three")), (1, 1), "not run again");
    assert_eq!(support::requests(&harness, "StartSyncWorkflowExecution"), 1);
}

#[tokio::test]
async fn a_lost_answer_in_a_live_run_is_settled_at_once() {
    let harness = harness(scenario_with_fault(
        "ExecuteWorkflow",
        "{apply_then_drop: 1.0}",
    ))
    .await;
    let book = runbook(DEPLOY);
    let state = support::run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert!(state.unknown_outcomes.is_empty());
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 1);
    assert_eq!(executions(&harness, "aom").len(), 1);
    assert_eq!(reconciled(&harness), ["applied"]);
}

/// The connection of a sync run breaks while the run goes on: the runner finds it by listing,
/// still running, and waits for how it ends rather than take `running` for its answer.
#[tokio::test]
async fn a_sync_run_that_lost_its_connection_while_running_is_found_and_waited_for() {
    let harness = harness(scenario_with_fault(
        "StartSyncWorkflowExecution",
        "{apply_then_drop: 1.0}",
    ))
    .await;
    let book = runbook("version: 1\nname: t\nsteps:\n  - id: smoke\n    functiongraph.run_sync: {workflow_id: fg-timeout, input: {}}\n    on_failure: continue\n");
    let state = support::run(&harness, &book).await;
    let smoke = &state.steps["smoke"];
    let result = smoke.result.as_ref().unwrap();
    assert_eq!(result["status"], "timeout", "{result}");
    assert_eq!(
        smoke.status,
        StepStatus::Failed,
        "a timed-out sync run fails its step"
    );
    assert_eq!(support::requests(&harness, "StartSyncWorkflowExecution"), 1);
    assert!(
        support::requests(&harness, "ShowWorkflowExecution") >= 2,
        "looked again until it ended"
    );
    assert_eq!(executions(&harness, "functiongraph").len(), 1);
    assert_eq!(reconciled(&harness), ["applied"]);
}

#[tokio::test]
async fn values_derived_from_a_secret_are_computed_again_from_the_secret_given_anew() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook("version: 1\nname: t\ninputs:\n  token: {type: string, secret: true, default: s3cr3t-token-value}\nsteps:\n  - id: auth\n    set: {header: \"Bearer {{ inputs.token }}\"}\n  - id: pause\n    sleep: 1s\n  - id: check\n    assert: {that: \"vars.header == 'Bearer ' ~ inputs.token\", message: the header was not recomputed}\n");
    run_until_crash(&harness, &book, |e| {
        (e["event"] == "checkpoint" && e["step"] == "pause").then_some(Cut::Before)
    })
    .await;
    let journal = serde_json::to_string(&*harness.recorder.journal.lock().unwrap()).unwrap();
    assert!(
        !journal.contains("s3cr3t-token-value"),
        "the journal holds no secret"
    );
    assert!(journal.contains(r#""header":"***""#), "{journal}");
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(state.vars["header"], "***", "still masked in the state");
}
