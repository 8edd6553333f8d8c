#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `for_each` elements run as tasks: a finished element's slot goes to the next one at once,
//! and the results keep the list's order whatever order the elements finish in.

mod support;

use std::time::Duration;

use hwc_client::runtime::Clock;
use hwc_sandbox::Scenario;
use runbook_runner::{Event, StepStatus};
use serde_json::json;
use support::{real_time_harness, run, runbook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_element_frees_its_slot_while_an_earlier_one_still_runs() {
    // Element 0 retries for ~300 ms of real time; the others pass at once. With two slots,
    // elements 1, 2 and 3 must all go through the second slot meanwhile.
    let harness = real_time_harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: slots
steps:
  - id: each
    for_each: [a, b, c, d]
    concurrency: 2
    retry: {attempts: 4, delay: 100ms, max_delay: 100ms, jitter: false, until: "index != 0"}
    set: {seen: "{{ item }}"}
    on_failure: continue
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.steps["each"].status, StepStatus::Failed);
    let events = harness.recorder.events.lock().unwrap();
    let position = |wanted: &dyn Fn(&Event) -> bool| events.iter().position(wanted).unwrap();
    let last_started = position(&|e| matches!(e, Event::StepStarted { index: Some(3), .. }));
    let first_finished = position(&|e| matches!(e, Event::StepFinished { index: Some(0), .. }));
    assert!(
        last_started < first_finished,
        "element 3 began only after element 0 ended: {events:#?}"
    );
    let result = state.steps["each"].result.clone().unwrap();
    let values = result.as_array().unwrap();
    assert_eq!(values.len(), 4);
    assert_eq!(values[0], json!(null), "{result}");
    assert!(values[1..].iter().all(|v| !v.is_null()), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_keep_the_lists_order_whatever_order_elements_finish_in() {
    let harness = real_time_harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: order
steps:
  - id: each
    for_each: "{{ range(200) | list }}"
    concurrency: 50
    set: {twice: "{{ item * 2 }}"}
outputs:
  twice: "{{ steps.each | map(attribute='twice') | list }}"
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(
        state.steps["each"].status,
        StepStatus::Succeeded,
        "{:?}",
        state.error
    );
    let expected: Vec<i64> = (0..200).map(|i| i * 2).collect();
    assert_eq!(state.outputs["twice"], json!(expected));
}

/// How long each element of `step` took, by index, from its `StepFinished` event.
fn elements_elapsed(harness: &support::Harness, step: &str) -> Vec<u64> {
    let events = harness.recorder.events.lock().unwrap();
    let mut elapsed: Vec<(usize, u64)> = events
        .iter()
        .filter_map(|event| match event {
            Event::StepFinished {
                step: id,
                index: Some(index),
                elapsed_ms,
                ..
            } if id == step => Some((*index, *elapsed_ms)),
            _ => None,
        })
        .collect();
    elapsed.sort_unstable();
    elapsed.into_iter().map(|(_, ms)| ms).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sleeps_overlap_on_virtual_time() {
    // Issue 21: five 200 ms sleeps under `concurrency: 5` take 200 ms, well inside 700 ms;
    // virtual time that added them up timed the step out at 700 ms.
    let harness = support::harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: naps
steps:
  - id: nap
    for_each: [1, 2, 3, 4, 5]
    concurrency: 5
    timeout: 700ms
    sleep: 200ms
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(
        state.steps["nap"].status,
        StepStatus::Succeeded,
        "{:?}",
        state.error
    );
    assert_eq!(elements_elapsed(&harness, "nap"), vec![200; 5]);
    assert_eq!(harness.time.elapsed(), Duration::from_millis(200));
    assert_eq!(harness.time.sleeps(), vec![Duration::from_millis(200); 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_slot_starts_its_next_element_at_the_time_the_last_one_ended() {
    // Two slots. Element 0 sleeps 100 ms, waits 100 ms, sleeps 100 ms again (its `until`
    // never holds); 1, 2 and 3 sleep 100 ms each, one after another in the other slot. So
    // the step ends at 300 ms with every element taking its own time. Were the clock to move
    // before the loop refilled a freed slot, 2 and 3 would start late and end at 400 ms.
    let harness = support::harness(Scenario::default_scenario()).await;
    let book = runbook(
        r#"
version: 1
name: slots
steps:
  - id: nap
    for_each: [a, b, c, d]
    concurrency: 2
    retry: {attempts: 2, delay: 100ms, max_delay: 100ms, jitter: false, until: "index != 0"}
    sleep: 100ms
    on_failure: continue
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(state.steps["nap"].status, StepStatus::Failed);
    assert_eq!(elements_elapsed(&harness, "nap"), vec![300, 100, 100, 100]);
    assert_eq!(harness.time.elapsed(), Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_waits_each_end_when_their_own_execution_does() {
    let lasting = [("wf-1m", 60), ("wf-3m", 180), ("wf-2m", 120)];
    let harness = support::harness(support::scenario_with_workflows_lasting(
        &lasting.map(|(id, secs)| (id, Duration::from_secs(secs))),
    ))
    .await;
    let book = runbook(
        r#"
version: 1
name: waits
steps:
  - id: start
    for_each: [wf-1m, wf-3m, wf-2m]
    concurrency: 3
    aom.start: {workflow_id: "{{ item }}"}
  - id: wait
    for_each: "{{ steps.start }}"
    concurrency: 3
    timeout: 4m
    aom.wait:
      workflow_id: "{{ item.workflow_id }}"
      execution_id: "{{ item.execution_id }}"
      poll: {min: 1s, max: 5s}
"#,
    );
    let state = run(&harness, &book).await;
    assert_eq!(
        state.steps["wait"].status,
        StepStatus::Succeeded,
        "{:?}",
        state.error
    );
    // Each wait sees its execution end within one poll delay (at most 5 s) of its end.
    let elapsed = elements_elapsed(&harness, "wait");
    for ((_, secs), ms) in lasting.iter().zip(&elapsed) {
        assert!(
            (secs * 1000..=secs * 1000 + 5_000).contains(ms),
            "{elapsed:?}"
        );
    }
    assert!(
        harness.time.elapsed() <= Duration::from_secs(185),
        "{elapsed:?}"
    );
}
