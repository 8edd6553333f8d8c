#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `for_each` elements run as tasks: a finished element's slot goes to the next one at once,
//! and the results keep the list's order whatever order the elements finish in.

mod support;

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
