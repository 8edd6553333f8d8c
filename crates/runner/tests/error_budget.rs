#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `max_errors` and `fail_fast` on `for_each`: failures within the budget leave the step
//! succeeded; past it the step fails, and `fail_fast` launches no more elements.

mod support;

use hwc_sandbox::Scenario;
use runbook_runner::StepStatus;
use serde_json::{json, Value};
use support::{harness, run, runbook};

/// A rolling deploy over `hosts` (`wf-broken` fails at a node, `wf-success` succeeds), one
/// at a time, with the step options given.
fn rolling(hosts: &[&str], options: &str) -> runbook_lang::Runbook {
    runbook(&format!(
        r#"
version: 1
name: rolling
timeout: 1h
steps:
  - id: roll
    for_each: {hosts:?}
    concurrency: 1
{options}
    on_failure: continue
    aom.run: {{workflow_id: "{{{{ item }}}}"}}
"#
    ))
}

fn starts(harness: &support::Harness) -> u64 {
    harness.sandbox.request_counts()["ExecuteWorkflow"]
}

/// Five hosts, the second and the fourth of which fail.
const FIVE_HOSTS_TWO_BROKEN: &[&str] = &[
    "wf-success",
    "wf-broken",
    "wf-success",
    "wf-broken",
    "wf-success",
];

#[tokio::test]
async fn failures_within_max_errors_leave_the_step_succeeded_with_null_for_each() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = rolling(
        &["wf-success", "wf-broken", "wf-success", "wf-broken"],
        "    max_errors: 2",
    );
    let state = run(&harness, &book).await;
    let roll = &state.steps["roll"];
    assert_eq!(roll.status, StepStatus::Succeeded, "{:?}", roll.error);
    let values = roll.result.clone().unwrap();
    let statuses: Vec<Value> = values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.get("status").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        statuses,
        [json!("success"), Value::Null, json!("success"), Value::Null]
    );
    assert_eq!(starts(&harness), 4);
}

#[tokio::test]
async fn a_percentage_is_of_the_elements_rounded_down() {
    let harness = harness(Scenario::default_scenario()).await;
    // 20% of 5 is 1: two failures are one too many.
    let book = rolling(FIVE_HOSTS_TWO_BROKEN, "    max_errors: \"20%\"");
    let state = run(&harness, &book).await;
    let roll = &state.steps["roll"];
    assert_eq!(roll.status, StepStatus::Failed);
    let error = roll.error.clone().unwrap();
    assert!(
        error.starts_with(
            "2 of 5 elements failed, more than max_errors (20% of 5: 1); the first: execution "
        ),
        "{error}"
    );
    assert_eq!(starts(&harness), 5, "without fail_fast every element runs");
}

#[tokio::test]
async fn fail_fast_launches_no_more_once_the_budget_is_spent() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = rolling(
        FIVE_HOSTS_TWO_BROKEN,
        "    max_errors: 0\n    fail_fast: true",
    );
    let state = run(&harness, &book).await;
    let roll = &state.steps["roll"];
    assert_eq!(roll.status, StepStatus::Failed);
    assert_eq!(starts(&harness), 2, "nothing launched after the failure");
    let error = roll.error.clone().unwrap();
    assert!(
        error.contains("1 of 5 elements failed") && error.contains("3 not launched (fail_fast)"),
        "{error}"
    );
    let values = roll.result.clone().unwrap();
    assert_eq!(values[0]["status"], "success");
    assert!(
        values.as_array().unwrap()[1..].iter().all(Value::is_null),
        "{values}"
    );
}

#[tokio::test]
async fn fail_fast_lets_the_running_siblings_finish() {
    let harness = harness(Scenario::default_scenario()).await;
    // Two at a time: the broken one fails while its sibling still runs; that one finishes
    // (its execution is not stopped), and nothing after them starts.
    let book = runbook(
        r#"
version: 1
name: siblings
timeout: 1h
steps:
  - id: roll
    for_each: [wf-broken, wf-success, wf-success, wf-success]
    concurrency: 2
    fail_fast: true
    on_failure: continue
    aom.run: {workflow_id: "{{ item }}"}
"#,
    );
    let state = run(&harness, &book).await;
    let roll = &state.steps["roll"];
    assert_eq!(roll.status, StepStatus::Failed);
    assert_eq!(starts(&harness), 2);
    let values = roll.result.clone().unwrap();
    assert_eq!(values[1]["status"], "success", "{values}");
    assert!(values[0].is_null() && values[2].is_null() && values[3].is_null());
}

#[tokio::test]
async fn without_a_budget_a_failure_reads_as_before() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = rolling(&["wf-success", "wf-broken"], "");
    let state = run(&harness, &book).await;
    let error = state.steps["roll"].error.clone().unwrap();
    assert!(error.starts_with("execution "), "{error}");
}
