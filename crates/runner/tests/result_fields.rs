#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The validator checks `steps.<id>.<field>` against `runbook_lang::results`; this holds the
//! runner to it: every field of every action's real result, against the sandbox, is one the
//! validator lets a runbook read.

mod support;

use hwc_sandbox::Scenario;
use runbook_lang::results::{self, ResultShape};
use runbook_lang::ACTION_KEYS;
use runbook_runner::RunStatus;
use support::{harness, run, runbook_with};

const EVERY_ACTION: &str = r#"
version: 1
name: every-action
timeout: 1h
steps:
  - id: aom_start
    aom.start: {workflow_id: wf-success}
  - id: aom_wait
    aom.wait: {workflow_id: wf-success, execution_id: "{{ steps.aom_start.execution_id }}"}
  - id: paused
    aom.start: {workflow_id: wf-pause}
  - id: let_it_pause
    sleep: 5s
  - id: aom_node
    aom.node:
      workflow_id: wf-pause
      execution_id: "{{ steps.paused.execution_id }}"
      node_id: gate
      action: continue
  - id: long
    aom.start: {workflow_id: wf-long}
  - id: aom_stop
    aom.stop: {workflow_id: wf-long, execution_id: "{{ steps.long.execution_id }}"}
  - id: fg_start
    functiongraph.start: {workflow_id: fg-callback}
  - id: let_it_wait
    sleep: 5s
  - id: fg_callback
    functiongraph.callback:
      workflow_id: fg-callback
      run_id: "{{ steps.fg_start.execution_id }}"
      state_id: await-approval
      result: success
  - id: fg_wait
    functiongraph.wait: {workflow_id: fg-callback, execution_id: "{{ steps.fg_start.execution_id }}"}
  - id: standard
    functiongraph.start: {workflow_id: fg-standard}
  - id: fg_stop
    functiongraph.stop: {workflow_id: fg-standard, execution_id: "{{ steps.standard.execution_id }}"}
  - id: fg_sync
    functiongraph.run_sync: {workflow_id: fg-echo, input: {a: 1}}
  - id: aom_run
    aom.run: {workflow_id: wf-success}
  - id: fg_run
    functiongraph.run: {workflow_id: fg-standard, input: {b: 2}}
  - id: call_show
    call:
      operation: ShowWorkflowExecution
      params: {workflow_id: fg-standard, execution_id: "{{ steps.standard.execution_id }}"}
  - id: set_vars
    set: {color: blue, size: 3}
  - id: choose
    branch:
      - {when: "vars.size == 4", goto: say}
      - goto: check
  - id: check
    assert: {that: "vars.size == 3", message: "three"}
  - id: pause
    sleep: 1s
  - id: say
    log: "done"
  - id: hosts
    for_each: [a, b]
    log: "{{ item }}"
  - id: group
    do:
      - id: inside
        log: "in a block"
      - id: skipped_inside
        when: "false"
        log: never
  - id: child
    runbook: {path: child.yaml, inputs: {name: web}}
  - id: refuse
    on_failure: continue
    fail: "no result: a failed step records none"
"#;

const CHILD: &str = r#"
version: 1
name: child
inputs:
  name: {type: string, required: true}
steps:
  - id: greet
    log: "hello {{ inputs.name }}"
outputs:
  greeting: "{{ steps.greet.message }}"
"#;

#[tokio::test]
async fn every_field_of_every_result_is_one_the_validator_allows() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook_with(&[("every-action.yaml", EVERY_ACTION), ("child.yaml", CHILD)]);
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let run: std::collections::BTreeSet<&str> = book
        .steps
        .iter()
        .filter_map(|step| step.action().map(|action| action.key()))
        .collect();
    let all: std::collections::BTreeSet<&str> = ACTION_KEYS.iter().copied().collect();
    assert_eq!(run, all, "EVERY_ACTION must run every action");
    for step in book.steps.iter().filter(|step| step.fail.is_none()) {
        let result = state.steps[&step.id]
            .result
            .as_ref()
            .unwrap_or_else(|| panic!("`{}` has no result", step.id));
        let shape = results::of_step(step);
        match (&shape, result) {
            (ResultShape::List, serde_json::Value::Array(_)) => {}
            (ResultShape::Open, _) => panic!("`{}`: every action here has a known shape", step.id),
            (_, serde_json::Value::Object(fields)) => {
                assert!(!fields.is_empty(), "`{}`: {result}", step.id);
                for field in fields.keys() {
                    assert!(
                        shape.has(field),
                        "`{}` ({}) returned `{field}`, which the validator refuses: {shape:?}",
                        step.id,
                        step.action().unwrap().key()
                    );
                }
            }
            _ => panic!("`{}`: {shape:?} but {result}", step.id),
        }
    }
}
