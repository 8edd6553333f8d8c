#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What an unattended run needs, against the in-process sandbox: deadlines that bound
//! requests and the client's retries, cancellation that keeps an execution id (or names the
//! unknown outcome), `finally` steps, and run ids.

mod support;

use std::time::{Duration, Instant};

use hwc_client::runtime::Clock;
use hwc_sandbox::Scenario;
use runbook_runner::{inputs, Event, RunInput, RunStatus, StepStatus};
use support::{harness, harness_with_grace, real_time_harness, run, runbook, scenario_with_fault};

#[tokio::test]
async fn a_run_timeout_cuts_the_clients_retry_loop() {
    // Every status read is throttled with `Retry-After: 60`; the client would back off 10 s
    // per retry, three times, but the run has 5 s.
    let harness = harness(scenario_with_fault(
        "SearchWorkflowExecutionDetail",
        "{throttle_429: 1.0, retry_after_secs: 60}",
    ))
    .await;
    let book = runbook(
        "version: 1\nname: t\ntimeout: 5s\nsteps:\n  - id: look\n    call:\n      operation: SearchWorkflowExecutionDetail\n      params: {workflow_id: wf-success, execution_id: ex-1}\n",
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed, "{:?}", state.error);
    assert!(harness.time.elapsed() < Duration::from_secs(5));
    assert_eq!(
        harness.sandbox.request_counts()["SearchWorkflowExecutionDetail"],
        1,
        "no retry fits before the deadline"
    );
}

#[tokio::test]
async fn a_wait_step_ends_at_its_timeout_whatever_the_latency() {
    let harness = real_time_harness(scenario_with_fault(
        "SearchWorkflowExecutionDetail",
        "{latency: 8s}",
    ))
    .await;
    let book = runbook(
        "version: 1\nname: t\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-long}\n  - id: wait\n    timeout: 3s\n    aom.wait: {workflow_id: wf-long, execution_id: \"{{ steps.start.execution_id }}\"}\n",
    );
    let began = Instant::now();
    let state = run(&harness, &book).await;
    let took = began.elapsed();
    assert_eq!(state.steps["wait"].status, StepStatus::TimedOut);
    assert_eq!(state.status, RunStatus::TimedOut);
    // 3 s plus the half-second a read may overrun; without the cut it takes 8 s.
    assert!(took < Duration::from_secs(6), "took {took:?}");
}

#[tokio::test]
async fn a_lost_answer_that_cannot_be_looked_up_is_reported_as_an_unknown_outcome() {
    // A friendly start step would find its execution by listing (see resume.rs); a `call`
    // cannot be looked up, so its lost answer stays unknown and is never resent.
    let harness = harness(scenario_with_fault(
        "ExecuteWorkflow",
        "{apply_then_drop: 1.0}",
    ))
    .await;
    let book = runbook(
        "version: 1\nname: t\nsteps:\n  - id: deploy\n    retry: {attempts: 3}\n    call: {operation: ExecuteWorkflow, params: {workflow_id: wf-success}}\n",
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["deploy"].attempts, 1, "never resent");
    let [unknown] = state.unknown_outcomes.as_slice() else {
        panic!("{:?}", state.unknown_outcomes)
    };
    assert_eq!(
        (
            unknown.step.as_str(),
            unknown.operation.as_str(),
            unknown.workflow_id.as_deref()
        ),
        ("deploy", "ExecuteWorkflow", Some("wf-success"))
    );
    assert!(unknown.request_id.is_some(), "{unknown:?}");
    let error = state.error.unwrap();
    assert!(error.contains("may have taken effect"), "{error}");
    assert!(!error.contains("add `retry:`"), "{error}");
    // It did take effect: that is why nobody may simply run it again.
    assert_eq!(
        harness.sandbox.executions()["aom"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let events = harness.recorder.events.lock().unwrap();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::OutcomeUnknown { .. })));
}

#[tokio::test]
async fn a_429_on_a_start_says_it_had_no_effect_and_that_retry_is_safe() {
    let harness = harness(scenario_with_fault(
        "ExecuteWorkflow",
        "{throttle_429: 1.0, retry_after_secs: 1}",
    ))
    .await;
    let book = runbook(
        "version: 1\nname: t\nsteps:\n  - id: deploy\n    aom.start: {workflow_id: wf-success}\n",
    );
    let state = run(&harness, &book).await;
    let error = state.error.unwrap();
    assert!(error.contains("did not apply"), "{error}");
    assert!(error.contains("`retry:` is safe"), "{error}");
    assert!(state.unknown_outcomes.is_empty());
}

/// Cancels the run once the sandbox has received the first start.
fn cancel_once_started(harness: &support::Harness) {
    let cancel = harness.runner.cancel_token();
    let url = format!("{}/__sandbox/requests", harness.sandbox.url());
    tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let counts: serde_json::Value = match reqwest::get(&url).await {
                Ok(answer) => answer.json().await.unwrap_or_default(),
                Err(_) => continue,
            };
            if counts["ExecuteWorkflow"].as_u64().unwrap_or(0) > 0 {
                cancel.cancel();
                return;
            }
        }
    });
}

#[tokio::test]
async fn cancelling_during_a_start_keeps_its_execution_id_when_it_answers_in_the_grace() {
    let harness = harness_with_grace(
        scenario_with_fault("ExecuteWorkflow", "{latency: 1500ms}"),
        Duration::from_secs(10),
    )
    .await;
    let book = runbook(
        "version: 1\nname: t\nsteps:\n  - id: deploy\n    aom.start: {workflow_id: wf-success}\n  - id: after\n    log: never\n",
    );
    cancel_once_started(&harness);
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Cancelled);
    assert_eq!(state.executions.len(), 1, "{state:#?}");
    assert_eq!(state.steps["after"].status, StepStatus::Pending);
    assert!(state.unknown_outcomes.is_empty());
    let events = harness.recorder.events.lock().unwrap();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::AwaitingAnswer { .. })));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ExecutionStarted { .. })));
}

#[tokio::test]
async fn cancelling_during_a_start_that_outlasts_the_grace_names_the_unknown_outcome() {
    let harness = harness_with_grace(
        scenario_with_fault("ExecuteWorkflow", "{latency: 1500ms}"),
        Duration::from_millis(100),
    )
    .await;
    let book = runbook(
        "version: 1\nname: t\nsteps:\n  - id: deploy\n    aom.start: {workflow_id: wf-success}\n",
    );
    cancel_once_started(&harness);
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Cancelled);
    assert!(state.executions.is_empty());
    let [unknown] = state.unknown_outcomes.as_slice() else {
        panic!("{:?}", state.unknown_outcomes)
    };
    assert!(unknown.reason.contains("grace"), "{}", unknown.reason);
    // The service still applies the request the client gave up on.
    let mut started = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        started = harness.sandbox.executions()["aom"]
            .as_array()
            .unwrap()
            .len();
        if started > 0 {
            break;
        }
    }
    assert_eq!(started, 1);
}

#[tokio::test]
async fn finally_runs_after_a_failure_and_sees_how_the_run_ended() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: t
steps:
  - id: deploy
    aom.start: {workflow_id: wf-success}
  - id: broken
    assert: {that: "false", message: boom}
  - id: later
    log: never
finally:
  - id: report
    log: "{{ run.status }} at {{ run.failed_step }}: {{ run.error }}; later is {{ steps.later.status }}"
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["report"].status, StepStatus::Succeeded);
    assert_eq!(
        state.steps["report"].result.as_ref().unwrap()["message"],
        "failed at broken: step `broken`: assertion failed: boom; later is not_run"
    );
    assert!(state.finally_error.is_none());
}

#[tokio::test]
async fn a_failing_finally_step_fails_a_succeeded_run_but_not_a_timed_out_one() {
    let harness = harness(Scenario::default_scenario()).await;
    let succeeded = runbook(
        "version: 1\nname: t\nsteps:\n  - id: a\n    log: fine\nfinally:\n  - id: cleanup\n    fail: cleanup broke\n  - id: after\n    log: never\n",
    );
    let state = run(&harness, &succeeded).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert!(state.error.unwrap().contains("cleanup broke"));
    assert_eq!(state.steps["after"].status, StepStatus::Pending);

    let timed_out = runbook(
        "version: 1\nname: t\ntimeout: 1m\nsteps:\n  - id: nap\n    sleep: 5m\nfinally:\n  - id: cleanup\n    on_failure: continue\n    fail: cleanup broke\n  - id: after\n    fail: this too\n",
    );
    let state = run(&harness, &timed_out).await;
    assert_eq!(state.status, RunStatus::TimedOut);
    assert_eq!(state.steps["after"].status, StepStatus::Failed);
    assert!(state.finally_error.unwrap().contains("this too"));
    assert!(state.error.unwrap().contains("timed out"));
}

#[tokio::test]
async fn finally_runs_after_cancellation_and_has_its_own_deadline() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        "version: 1\nname: t\nfinally_timeout: 30s\nsteps:\n  - id: a\n    log: never\nfinally:\n  - id: report\n    log: \"{{ run.status }}\"\n  - id: slow\n    sleep: 1m\n",
    );
    harness.runner.cancel_token().cancel();
    let began = harness.time.elapsed();
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Cancelled);
    assert_eq!(state.steps["a"].status, StepStatus::Pending);
    assert_eq!(
        state.steps["report"].result.as_ref().unwrap()["message"],
        "cancelled"
    );
    assert_eq!(state.steps["slow"].status, StepStatus::TimedOut);
    assert_eq!(harness.time.elapsed() - began, Duration::from_secs(30));
    assert!(state.finally_error.unwrap().contains("timed out"));
}

#[tokio::test]
async fn the_caller_names_the_run() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook("version: 1\nname: t\nsteps:\n  - id: a\n    log: hi\n");
    let inputs = inputs::resolve(&book, Vec::new()).unwrap();
    let state = harness
        .runner
        .run(
            std::sync::Arc::new(book),
            RunInput {
                run_id: "run-from-the-caller".into(),
                inputs,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(state.run_id, "run-from-the-caller");
    assert!(matches!(
        &harness.recorder.events.lock().unwrap()[0],
        Event::RunStarted { run_id, .. } if run_id == "run-from-the-caller"
    ));
}

#[tokio::test]
async fn a_change_is_not_sent_when_its_intent_cannot_be_recorded() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        "version: 1\nname: t\ninputs:\n  token: {type: string, secret: true, default: hunter2-intent}\nsteps:\n  - id: look\n    call: {operation: SearchWorkflowExecutionDetail, params: {workflow_id: wf-success, execution_id: ex-1}}\n    on_failure: continue\n  - id: echo\n    functiongraph.run_sync: {workflow_id: fg-echo, input: {token: \"{{ inputs.token }}\"}}\n",
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let intents = harness.recorder.intents.lock().unwrap().clone();
    let [intent] = intents.as_slice() else {
        panic!("one intent, for the change only: {intents:?}")
    };
    assert_eq!(intent.operation, "StartSyncWorkflowExecution");
    assert_eq!(intent.params["workflow_id"], "fg-echo");
    assert_eq!(intent.params["body"]["input"]["token"], "***", "{intent:?}");

    harness
        .recorder
        .refuse_intents
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = harness.sandbox.request_counts();
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    let error = state.error.unwrap();
    assert!(
        error.contains("was not sent") && error.contains("disk full"),
        "{error}"
    );
    assert_eq!(
        harness
            .sandbox
            .request_counts()
            .get("StartSyncWorkflowExecution"),
        before.get("StartSyncWorkflowExecution"),
        "nothing was sent"
    );
}
