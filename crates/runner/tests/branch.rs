#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `branch`: the run goes on at the step the first matching entry names, the steps jumped over
//! are skipped (and stay skipped when the run is resumed), and `goto: end` ends the steps
//! with `finally` still to run.

mod support;

use hwc_sandbox::Scenario;
use runbook_runner::{Event, RunStatus, StepStatus};
use support::{harness, run, runbook};

const CHOOSE: &str = r#"
version: 1
name: choose
inputs:
  way: {type: string, default: b}
steps:
  - id: decide
    branch:
      - {when: inputs.way == "a", goto: a}
      - {when: inputs.way == "b", goto: b}
      - {when: inputs.way == "stop", goto: end}
  - id: fallthrough
    set: {went: none}
  - id: a
    set: {went: a}
  - id: b
    set: {went: b}
finally:
  - id: after
    log: "{{ steps.decide.goto }}"
"#;

fn statuses(state: &runbook_runner::RunState) -> Vec<(String, StepStatus)> {
    state
        .steps
        .iter()
        .map(|(id, step)| (id.clone(), step.status))
        .collect()
}

#[tokio::test]
async fn the_first_matching_entry_is_taken_and_the_steps_before_it_are_skipped() {
    let harness = harness(Scenario::default_scenario()).await;
    let state = run(&harness, &runbook(CHOOSE)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(state.steps["decide"].result.clone().unwrap()["goto"], "b");
    assert_eq!(state.steps["fallthrough"].status, StepStatus::Skipped);
    assert_eq!(state.steps["a"].status, StepStatus::Skipped);
    assert_eq!(state.steps["b"].status, StepStatus::Succeeded);
    assert_eq!(state.vars["went"], "b");
    let events = harness.recorder.events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::StepSkipped { step, reason } if step == "a" && reason == "branch `decide` went past it"
    )));
}

#[tokio::test]
async fn no_matching_entry_goes_on_with_the_next_step_and_end_ends_the_steps() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(&CHOOSE.replace("default: b", "default: neither"));
    let state = run(&harness, &book).await;
    assert_eq!(
        state.steps["decide"].result.clone().unwrap()["goto"],
        serde_json::Value::Null
    );
    assert_eq!(state.vars["went"], "b", "fallthrough, a and b all ran");
    assert_eq!(state.steps["fallthrough"].status, StepStatus::Succeeded);

    let book = runbook(&CHOOSE.replace("default: b", "default: stop"));
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded);
    assert!(state.vars.get("went").is_none(), "{:?}", state.vars);
    for id in ["fallthrough", "a", "b"] {
        assert_eq!(
            state.steps[id].status,
            StepStatus::Skipped,
            "{:?}",
            statuses(&state)
        );
    }
    assert_eq!(
        state.steps["after"].status,
        StepStatus::Succeeded,
        "finally still runs"
    );
}

#[tokio::test]
async fn a_run_resumed_after_a_branch_keeps_the_jumped_steps_skipped() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(CHOOSE);
    // Dies just before `b`'s checkpoint: the branch and the steps it jumped are journaled.
    let crashed = support::run_until_crash(&harness, &book, |e| {
        support::is(e, "checkpoint", "b").then_some(support::Cut::Before)
    })
    .await;
    assert!(crashed.is_none());
    let state = support::resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        state.steps["a"].status,
        StepStatus::Skipped,
        "{:?}",
        statuses(&state)
    );
    assert_eq!(state.steps["fallthrough"].status, StepStatus::Skipped);
    assert_eq!(state.vars["went"], "b");
}
