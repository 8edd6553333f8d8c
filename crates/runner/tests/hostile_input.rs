#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What a runbook can make the runner do at run time, whatever validation let through: lists
//! and values past their limits fail their step, time arithmetic saturates instead of
//! overflowing, and cancellation stops loops in which no time passes.
//!
//! Some runbooks here are changed after parsing, as a runbook built without validation would
//! be: the runner must hold on its own.

mod support;

use std::time::{Duration, Instant};

use hwc_client::runtime::Clock;
use hwc_sandbox::Scenario;
use runbook_lang::limits::{
    MAX_FOR_EACH_ITEMS, MAX_RETRY_ATTEMPTS, MAX_SET_VALUE_BYTES, MAX_STEP_ATTEMPTS, MIN_POLL_DELAY,
};
use runbook_lang::{DurationText, Templated};
use runbook_runner::{Event, RunStatus, StepStatus};
use support::{harness, run, runbook, Harness};

/// Cancels the run from another task once `enough` holds for the events so far, and says
/// when it did. The test runtime has one thread, so the task runs only when the run yields.
fn cancel_when(
    harness: &Harness,
    enough: impl Fn(&[Event]) -> bool + Send + 'static,
) -> tokio::task::JoinHandle<Instant> {
    let cancel = harness.runner.cancel_token();
    let recorder = harness.recorder.clone();
    tokio::spawn(async move {
        while !enough(&recorder.events.lock().unwrap()) {
            tokio::task::yield_now().await;
        }
        cancel.cancel();
        Instant::now()
    })
}

fn logs(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Log { .. }))
        .count()
}

#[tokio::test]
async fn cancelling_stops_a_goto_loop_of_instant_steps_at_once() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: spin
steps:
  - id: tick
    log: tick
  - id: again
    assert: {that: "false", message: once more}
    on_failure: {goto: tick, max: 10000}
"#,
    );
    let cancelled = cancel_when(&harness, |events| logs(events) >= 100);
    let state = run(&harness, &book).await;
    let ended = Instant::now();
    let cancelled = cancelled.await.unwrap();
    assert_eq!(state.status, RunStatus::Cancelled, "{:?}", state.error);
    let gotos = state.steps["again"].gotos_taken;
    assert!((99..200).contains(&gotos), "{gotos} jumps");
    assert!(ended - cancelled < Duration::from_secs(1));
}

#[tokio::test]
async fn cancelling_stops_a_fan_out_over_ten_thousand_instant_elements() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(
        "version: 1\nname: t\nsteps:\n  - id: each\n    for_each: \"{{ range(10000) }}\"\n    log: \"{{ item }}\"\n",
    );
    let cancelled = cancel_when(&harness, |events| logs(events) >= 100);
    let state = run(&harness, &book).await;
    let ended = Instant::now();
    let cancelled = cancelled.await.unwrap();
    assert_eq!(state.status, RunStatus::Cancelled, "{:?}", state.error);
    assert_eq!(state.steps["each"].status, StepStatus::Cancelled);
    let events = harness.recorder.events.lock().unwrap();
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::StepStarted { index: Some(_), .. }))
        .count();
    assert!(started < 200, "{started} elements started");
    assert!(ended - cancelled < Duration::from_secs(1));
}

#[tokio::test]
async fn cancelling_stops_retries_without_delay() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(&format!(
        "version: 1\nname: t\nsteps:\n  - id: flaky\n    retry: {{attempts: {MAX_RETRY_ATTEMPTS}, delay: 0s, max_delay: 0s, on: [any]}}\n    fail: not yet\n"
    ));
    let cancelled = cancel_when(&harness, |events| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Retry { .. }))
            .count()
            >= 100
    });
    let state = run(&harness, &book).await;
    let ended = Instant::now();
    assert_eq!(state.status, RunStatus::Cancelled, "{:?}", state.error);
    let attempts = state.steps["flaky"].attempts;
    assert!((100..200).contains(&attempts), "{attempts} attempts");
    assert!(ended - cancelled.await.unwrap() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_for_each_over_more_elements_than_the_limit_fails_its_step() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(&format!(
        "version: 1\nname: t\nsteps:\n  - id: each\n    for_each: \"{{{{ range({}) }}}}\"\n    log: \"{{{{ item }}}}\"\n",
        MAX_FOR_EACH_ITEMS + 1
    ));
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["each"].status, StepStatus::Failed);
    let error = state.error.unwrap();
    assert!(error.contains("step `each`"), "{error}");
    assert!(error.contains(&MAX_FOR_EACH_ITEMS.to_string()), "{error}");
    let events = harness.recorder.events.lock().unwrap();
    assert_eq!(logs(&events), 0, "no element ran");
}

#[tokio::test]
async fn a_set_value_larger_than_the_limit_fails_its_step() {
    // Each template renders 100 KB; ten of them fit in a value, eleven do not.
    let harness = harness(Scenario::default_scenario()).await;
    let value = |parts: usize| vec!["\"{{ 'x' * 100000 }}\""; parts].join(", ");
    let book = runbook(&format!(
        "version: 1\nname: t\nsteps:\n  - id: fits\n    set: {{ten: [{}]}}\n  - id: big\n    set: {{eleven: [{}]}}\n",
        value(10),
        value(11)
    ));
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["fits"].status, StepStatus::Succeeded);
    assert_eq!(state.steps["big"].status, StepStatus::Failed);
    let error = state.error.unwrap();
    assert!(error.contains("step `big`: set `eleven`"), "{error}");
    assert!(error.contains(&MAX_SET_VALUE_BYTES.to_string()), "{error}");
    assert!(!state.vars.contains_key("eleven"));
}

#[tokio::test]
async fn deadlines_past_the_end_of_time_saturate_instead_of_overflowing() {
    let harness = harness(Scenario::default_scenario()).await;
    let mut book = runbook(
        "version: 1\nname: t\ntimeout: 1h\nsteps:\n  - id: nap\n    timeout: 1h\n    sleep: 1h\n",
    );
    book.timeout = Some(DurationText(Duration::MAX));
    book.steps[0].timeout = Some(Templated::Literal(DurationText(Duration::MAX)));
    book.steps[0].sleep = Some(Templated::Literal(DurationText(Duration::MAX)));
    // The clock has run a while, so `now + timeout` would overflow.
    harness.time.advance(Duration::from_secs(3600));
    let state = run(&harness, &book).await;
    assert_eq!(harness.time.elapsed(), Duration::MAX);
    // The sleep ends where the clock does, which is also where both deadlines ended up.
    assert_eq!(state.status, RunStatus::TimedOut, "{:?}", state.error);
    assert!(state.finished_at.is_some());
}

#[tokio::test]
async fn retries_with_the_longest_delays_on_a_clock_near_its_end_do_not_overflow() {
    let harness = harness(Scenario::default_scenario()).await;
    let mut book = runbook(
        "version: 1\nname: t\ntimeout: 1h\nsteps:\n  - id: flaky\n    retry: {attempts: 3, on: [any]}\n    fail: not yet\n",
    );
    book.timeout = Some(DurationText(Duration::MAX));
    let retry = book.steps[0].retry.as_mut().unwrap();
    retry.attempts = Templated::Literal(u32::MAX);
    retry.delay = Templated::Literal(DurationText(Duration::MAX / 2));
    retry.max_delay = Templated::Literal(DurationText(Duration::MAX));
    harness.time.advance(Duration::MAX / 2);
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::TimedOut, "{:?}", state.error);
    assert!(state.steps["flaky"].attempts >= 1);
    assert_eq!(harness.time.elapsed(), Duration::MAX);
}

#[tokio::test]
async fn a_poll_delay_below_the_minimum_is_raised_to_it() {
    let harness = harness(Scenario::default_scenario()).await;
    let mut book = runbook(
        "version: 1\nname: t\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-long}\n  - id: wait\n    timeout: 1s\n    aom.wait:\n      workflow_id: wf-long\n      execution_id: \"{{ steps.start.execution_id }}\"\n      poll: {min: 1s, max: 1s}\n",
    );
    let wait = book.steps[1].aom_wait.as_mut().unwrap();
    wait.poll.min = Templated::Literal(DurationText(Duration::ZERO));
    wait.poll.max = Templated::Literal(DurationText(Duration::ZERO));
    // Polls with no delay would never move the virtual clock to the deadline.
    let state = tokio::time::timeout(Duration::from_secs(30), run(&harness, &book))
        .await
        .expect("the wait polled on without time passing");
    assert_eq!(state.steps["wait"].status, StepStatus::TimedOut);
    let sleeps = harness.time.sleeps();
    assert!(
        sleeps.iter().all(|slept| *slept >= MIN_POLL_DELAY),
        "{sleeps:?}"
    );
    // One second of polls every 10 ms, and the last look at the deadline.
    let polls = state.steps["wait"].polls;
    assert!((100..=102).contains(&polls), "{polls} polls");
}

#[tokio::test]
async fn a_step_stops_at_the_most_attempts_one_step_may_make() {
    let harness = harness(Scenario::default_scenario()).await;
    let items = MAX_FOR_EACH_ITEMS;
    let attempts = MAX_RETRY_ATTEMPTS;
    let book = runbook(&format!(
        "version: 1\nname: t\nsteps:\n  - id: fan\n    for_each: \"{{{{ range({items}) | list }}}}\"\n    concurrency: 1000\n    retry: {{attempts: {attempts}, delay: 10ms, max_delay: 10ms, until: \"false\"}}\n    log: x\n"
    ));
    let state = run(&harness, &book).await;
    let fan = &state.steps["fan"];
    assert_eq!(fan.status, StepStatus::Failed);
    assert_eq!(fan.attempts, MAX_STEP_ATTEMPTS);
    assert!(
        state
            .error
            .as_deref()
            .unwrap()
            .contains("the most one step may make"),
        "{:?}",
        state.error
    );
}
