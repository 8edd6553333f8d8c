#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 17: a `when` that cannot be evaluated is the runbook's mistake, not the step's
//! failure, so no `on_failure` may loop on it or hide it; and after a `goto` loop the state
//! shows each step as its last pass left it, not as an earlier pass did.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hwc_sandbox::Scenario;
use runbook_runner::{Event, RunStatus, StepStatus};
use support::{harness, run, runbook};

/// `b`'s `when` adds a string to a number: it parses and checks, and fails only when run.
fn when_that_cannot_be_evaluated(on_failure: &str) -> String {
    format!(
        r#"
version: 1
name: t
steps:
  - id: a
    set: {{count: 3}}
  - id: b
    when: "steps.a.count + 'x' > 1"
    log: never
    on_failure: {on_failure}
  - id: c
    log: never
finally:
  - id: report
    log: "{{{{ run.failed_step }}}}"
"#
    )
}

#[tokio::test]
async fn a_when_that_cannot_be_evaluated_fails_the_run_at_once_whatever_on_failure_says() {
    for on_failure in ["{goto: a, max: 1000}", "continue"] {
        let harness = harness(Scenario::default_scenario()).await;
        let book = runbook(&when_that_cannot_be_evaluated(on_failure));
        let state = run(&harness, &book).await;
        assert_eq!(state.status, RunStatus::Failed, "{on_failure}");
        // Neither looped back nor went on.
        assert_eq!(state.steps["a"].attempts, 1, "{on_failure}");
        assert_eq!(state.steps["b"].gotos_taken, 0, "{on_failure}");
        assert_eq!(state.steps["c"].status, StepStatus::Pending, "{on_failure}");
        assert!(state.handled_failure.is_none(), "{on_failure}");
        assert_eq!(state.steps["b"].status, StepStatus::Failed, "{on_failure}");
        assert_eq!(state.current_step.as_deref(), Some("b"));
        let error = state.error.unwrap();
        assert!(
            error.starts_with("step `b`: ")
                && error.contains("`when: steps.a.count + 'x' > 1` could not be evaluated")
                && error.contains("unsupported types"),
            "{on_failure}: {error}"
        );
        // `finally` runs as after any failure, and sees where the run stopped.
        assert_eq!(
            state.steps["report"].result.as_ref().unwrap()["message"],
            "b",
            "{on_failure}"
        );
    }
}

#[tokio::test]
async fn a_finally_step_whose_when_cannot_be_evaluated_is_not_continued_past() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: t
steps:
  - id: a
    set: {count: 3}
finally:
  - id: report
    when: "steps.a.count + 'x' > 1"
    log: never
    on_failure: continue
  - id: after
    log: never
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["report"].status, StepStatus::Failed);
    assert_eq!(state.steps["after"].status, StepStatus::Pending);
    let error = state.finally_error.unwrap();
    assert!(
        error.contains("`report`") && error.contains("could not be evaluated"),
        "{error}"
    );
}

#[tokio::test]
async fn a_step_skipped_in_the_last_pass_of_a_loop_shows_no_error_from_an_earlier_one() {
    let harness = harness(Scenario::default_scenario()).await;
    // Pass 1: `flaky` fails (continued), `gate` sends the run back. Pass 2: both skipped.
    let book = runbook(
        r#"
version: 1
name: t
steps:
  - id: count
    set: {n: "{{ (vars.n if vars.n is defined else 0) + 1 }}"}
  - id: flaky
    when: "vars.n == 1"
    fail: "pass {{ vars.n }} failed"
    on_failure: continue
  - id: gate
    when: "vars.n == 1"
    fail: "go round again"
    on_failure: {goto: count, max: 1}
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(state.vars["n"], 2);
    for id in ["flaky", "gate"] {
        let step = &state.steps[id];
        assert_eq!(step.status, StepStatus::Skipped, "{id}");
        assert_eq!(step.error, None, "{id}: an error from the first pass");
    }
}

/// How a run can stop between two steps: cancelled, or past its deadline.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Cancel,
    Deadline,
}

#[tokio::test]
async fn a_loop_stopped_before_a_step_that_ran_in_an_earlier_pass_shows_how_it_stopped() {
    for (stop, status) in [
        (Stop::Cancel, StepStatus::Cancelled),
        (Stop::Deadline, StepStatus::TimedOut),
    ] {
        let harness = harness(Scenario::default_scenario()).await;
        // `again` fails in pass 1; the run stops as pass 2 is about to run it.
        let book = runbook(
            r#"
version: 1
name: t
timeout: 1h
steps:
  - id: tick
    log: tick
  - id: again
    assert: {that: "false", message: once more}
    on_failure: {goto: tick, max: 10}
finally:
  - id: report
    log: "{{ steps.again.status }}"
"#,
        );
        let cancel = harness.runner.cancel_token();
        let time = harness.time.clone();
        let ticks = AtomicU32::new(0);
        *harness.recorder.on_event.lock().unwrap() = Some(Box::new(move |event| {
            let Event::StepFinished {
                step, index: None, ..
            } = event
            else {
                return;
            };
            if step == "tick" && ticks.fetch_add(1, Ordering::SeqCst) == 1 {
                match stop {
                    Stop::Cancel => cancel.cancel(),
                    Stop::Deadline => time.advance(Duration::from_secs(2 * 3600)),
                }
            }
        }));
        let state = run(&harness, &book).await;
        assert_eq!(state.current_step.as_deref(), Some("again"), "{stop:?}");
        assert_eq!(state.steps["again"].gotos_taken, 1, "{stop:?}");
        assert_eq!(
            state.steps["tick"].status,
            StepStatus::Succeeded,
            "{stop:?}"
        );
        let again = &state.steps["again"];
        assert_eq!(again.status, status, "{stop:?}: {:?}", state.error);
        let error = again.error.as_deref().unwrap_or_default();
        assert!(!error.contains("once more"), "{stop:?}: {error}");
        // Templates read the same status as the state.
        assert_eq!(
            state.steps["report"].result.as_ref().unwrap()["message"],
            status.name(),
            "{stop:?}"
        );
    }
}
