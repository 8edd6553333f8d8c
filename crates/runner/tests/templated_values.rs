#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Durations and counts (`sleep`, `timeout`, `concurrency`, `poll`, `retry`, `max_errors`,
//! restart and jump `max`es) written as templates: rendered when the step starts,
//! and held to the bounds a literal is held to (a value out of bounds fails the step, naming
//! the field).

mod support;

use std::time::Duration;

use hwc_client::runtime::Clock;
use hwc_sandbox::Scenario;
use runbook_runner::{RunState, StepStatus};
use support::{harness, runbook};

const PACED: &str = r#"
version: 1
name: paced
inputs:
  pause: {type: string, default: 3s}
  width: {type: integer, default: 2}
  limit: {type: string, default: 1m}
steps:
  - id: pause
    sleep: "{{ inputs.pause }}"
  - id: batch
    for_each: [a, b, c, d]
    concurrency: "{{ inputs.width }}"
    sleep: 1s
  - id: bounded
    timeout: "{{ inputs.limit }}"
    on_failure: continue
    sleep: 10s
"#;

async fn run_with(harness: &support::Harness, given: &[(&str, &str)]) -> RunState {
    support::run_given(harness, &runbook(PACED), given).await
}

/// Runs `book` once per `(input, value, step, wanted)`, with that one input given, and checks
/// that `step` failed with an error starting with `wanted`: the step's own, or — for a bound
/// read once the step has already failed, a jump's `max` — the run's.
async fn each_fails_its_step(book: &str, cases: &[(&str, &str, &str, &str)]) {
    for &(input, value, step, wanted) in cases {
        let harness = harness(Scenario::default_scenario()).await;
        let state = support::run_given(&harness, &runbook(book), &[(input, value)]).await;
        let failed = &state.steps[step];
        assert_eq!(
            failed.status,
            StepStatus::Failed,
            "{input}={value}: {failed:?}"
        );
        let errors = [failed.error.clone(), state.error.clone()];
        assert!(
            errors
                .iter()
                .flatten()
                .any(|error| error.starts_with(wanted)),
            "{input}={value}: {errors:?}"
        );
    }
}

#[tokio::test]
async fn templated_durations_and_counts_take_their_rendered_values() {
    let harness = harness(Scenario::default_scenario()).await;
    let state = run_with(&harness, &[("limit", "4s")]).await;
    assert_eq!(
        state.steps["pause"].result.clone().unwrap()["slept_ms"],
        3000
    );
    assert_eq!(state.steps["batch"].status, StepStatus::Succeeded);
    // Four one-second sleeps two at a time, then a 10 s sleep cut at 4 s.
    assert_eq!(state.steps["bounded"].status, StepStatus::TimedOut);
    assert_eq!(harness.time.elapsed(), Duration::from_secs(3 + 2 + 4));
}

#[tokio::test]
async fn a_rendered_value_out_of_bounds_fails_its_step_naming_the_field() {
    let cases = [
        (
            "pause",
            "forever",
            "pause",
            "sleep: `forever` is not a duration",
        ),
        (
            "pause",
            "400d",
            "pause",
            "sleep: `400d` is longer than 365d",
        ),
        (
            "width",
            "0",
            "batch",
            "concurrency: `0` is not a whole number from 1 to 1000",
        ),
        (
            "width",
            "5000",
            "batch",
            "concurrency: `5000` is not a whole number from 1 to 1000",
        ),
        (
            "limit",
            "0s",
            "bounded",
            "timeout: a step's timeout must be longer than 0",
        ),
    ];
    each_fails_its_step(PACED, &cases).await;
}

const POLLED_AND_RETRIED: &str = r#"
version: 1
name: polled
timeout: 1h
inputs:
  every: {type: string, default: 1s}
  tries: {type: integer, default: 3}
  pause: {type: string, default: 2s}
steps:
  - id: watch
    aom.run:
      workflow_id: wf-success
      poll: {min: "{{ inputs.every }}", max: "{{ inputs.every }}"}
  - id: again
    on_failure: continue
    retry:
      attempts: "{{ inputs.tries }}"
      delay: "{{ inputs.pause }}"
      max_delay: "{{ inputs.pause }}"
      jitter: false
      on: [any]
    fail: not yet
"#;

#[tokio::test]
async fn templated_poll_delays_and_retries_take_their_rendered_values() {
    let harness = harness(Scenario::default_scenario()).await;
    let state = support::run_given(&harness, &runbook(POLLED_AND_RETRIED), &[]).await;
    // wf-success runs 4 s, polled every second: at 0, 1, 2, 3 and 4 s.
    assert_eq!(state.steps["watch"].polls, 5, "{:?}", state.steps["watch"]);
    assert_eq!(state.steps["again"].attempts, 3);
    assert_eq!(harness.time.elapsed(), Duration::from_secs(4 + 2 * 2));
}

#[tokio::test]
async fn rendered_poll_delays_and_retries_out_of_bounds_fail_their_step() {
    let cases = [
        (
            "every",
            "1ms",
            "watch",
            "poll: min 1ms and max 1ms: each at least 10ms",
        ),
        (
            "tries",
            "0",
            "again",
            "retry.attempts: `0` is not a whole number from 1 to 1000",
        ),
        (
            "pause",
            "soon",
            "again",
            "retry.delay: `soon` is not a duration",
        ),
    ];
    each_fails_its_step(POLLED_AND_RETRIED, &cases).await;
}

const BUDGETED_AND_BOUNDED: &str = r#"
version: 1
name: bounded
timeout: 1h
inputs:
  budget: {type: string, default: "50%"}
  restarts: {type: integer, default: 1}
  jumps: {type: integer, default: 2}
steps:
  - id: hosts
    for_each: [a, b, c, d]
    max_errors: "{{ inputs.budget }}"
    on_failure: continue
    assert: {that: "item not in ['b', 'c']", message: "{{ item }} is down"}
  - id: flaky
    on_failure: continue
    aom.run:
      workflow_id: wf-flaky
      when_node_fails:
        - {then: restart, max: "{{ inputs.restarts }}"}
  - id: again
    fail: once more
    on_failure: {goto: again, max: "{{ inputs.jumps }}"}
"#;

#[tokio::test]
async fn templated_budgets_restarts_and_jumps_take_their_rendered_values() {
    let run = |given: &'static [(&'static str, &'static str)]| async move {
        let harness = harness(Scenario::default_scenario()).await;
        support::run_given(&harness, &runbook(BUDGETED_AND_BOUNDED), given).await
    };
    // Two of four hosts fail: within 50%, and within a count of 2.
    let state = run(&[]).await;
    assert_eq!(state.steps["hosts"].status, StepStatus::Succeeded);
    assert_eq!(state.steps["flaky"].status, StepStatus::Succeeded);
    assert_eq!(
        state.steps["again"].attempts, 3,
        "{:?}",
        state.steps["again"]
    );
    let state = run(&[("budget", "2"), ("jumps", "4")]).await;
    assert_eq!(state.steps["hosts"].status, StepStatus::Succeeded);
    assert_eq!(state.steps["again"].attempts, 5);
    // Over the budget: 25% of four is one.
    let state = run(&[("budget", "25%")]).await;
    assert_eq!(state.steps["hosts"].status, StepStatus::Failed);
    let error = state.steps["hosts"].error.clone().unwrap();
    assert!(
        error.starts_with("2 of 4 elements failed, more than max_errors (25% of 4: 1)"),
        "{error}"
    );
}

#[tokio::test]
async fn rendered_budgets_restarts_and_jumps_out_of_bounds_fail_their_step() {
    let cases = [
        (
            "budget",
            "half",
            "hosts",
            "max_errors: `half` is not an error budget",
        ),
        (
            "budget",
            "150%",
            "hosts",
            "max_errors: `150%` is not an error budget",
        ),
        (
            "restarts",
            "0",
            "flaky",
            "node rule max: `0` is not a whole number from 1 to",
        ),
        (
            "jumps",
            "100000",
            "again",
            "step `again`: once more; on_failure.max: `100000` is not a whole number from 1 to",
        ),
    ];
    each_fails_its_step(BUDGETED_AND_BOUNDED, &cases).await;
}
