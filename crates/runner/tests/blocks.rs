#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Blocks (`do`): a body per `for_each` element or per `repeat` pass, each inner step under
//! its path, and a run that dies inside a body going on there without sending anything
//! twice — proven by the sandbox's own request counts.

mod support;

use hwc_sandbox::Scenario;
use runbook_runner::{Event, RunStatus};
use serde_json::{json, Value};
use support::{harness, resume, run, run_until_crash, runbook, Cut};

/// Per host: start a workflow that pauses, let it reach the gate, continue it, wait for it.
const HOSTS: &str = r#"
version: 1
name: hosts
timeout: 1h
inputs:
  hosts: {type: array, default: [web1, web2]}
steps:
  - id: each
    for_each: "{{ inputs.hosts }}"
    as: host
    do:
      - id: start
        aom.start: {workflow_id: wf-pause}
      - id: reach
        sleep: 5s
      - id: go_on
        aom.node: {workflow_id: wf-pause, execution_id: "{{ steps.start.execution_id }}", node_id: gate, action: continue}
      - id: watch
        aom.wait: {workflow_id: wf-pause, execution_id: "{{ steps.start.execution_id }}"}
      - id: note
        log: "{{ host }} ({{ index }}): {{ steps.watch.status }}"
outputs:
  notes: "{{ steps.each | map(attribute='note') | map(attribute='message') | list }}"
"#;

#[tokio::test]
async fn a_body_runs_per_element_and_the_result_is_one_map_per_element() {
    let harness = harness(Scenario::default_scenario()).await;
    let state = run(&harness, &runbook(HOSTS)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        state.outputs["notes"],
        json!(["web1 (0): success", "web2 (1): success"])
    );
    let result = state.steps["each"].result.clone().unwrap();
    let first = &result[0];
    for id in ["start", "reach", "go_on", "watch", "note"] {
        assert!(first.get(id).is_some(), "{id} missing from {first}");
    }
    assert_ne!(
        result[0]["start"]["execution_id"],
        result[1]["start"]["execution_id"]
    );
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 2);
    let events = harness.recorder.events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ExecutionStarted { step, .. } if step == "each[1].start"
    )));
}

#[tokio::test]
async fn a_run_that_died_inside_a_body_goes_on_there_and_sends_nothing_twice() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(HOSTS);
    // Dies as the second host's `continue` is recorded: the first host is done, the second
    // has started and been continued.
    let crashed = run_until_crash(&harness, &book, |e| {
        (e["event"] == "block_checkpoint" && e["body"] == "each[1]" && e["step"] == "go_on")
            .then_some(Cut::After)
    })
    .await;
    assert!(crashed.is_none());
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 2);
    let continued = support::requests(&harness, "StartPausingWorkflowExecutions");
    assert_eq!(continued, 2);

    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        support::requests(&harness, "ExecuteWorkflow"),
        2,
        "no host started again"
    );
    assert_eq!(
        support::requests(&harness, "StartPausingWorkflowExecutions"),
        2,
        "no gate continued again"
    );
    assert_eq!(
        state.outputs["notes"],
        json!(["web1 (0): success", "web2 (1): success"])
    );
    // The journal, which outlives the process, shows each inner step of the first host and
    // the finished ones of the second begun once: neither process ran them twice.
    let began = |path: &str| support::times_begun(&harness, path);
    for path in [
        "each[0].start",
        "each[0].go_on",
        "each[0].watch",
        "each[1].start",
        "each[1].go_on",
    ] {
        assert_eq!(began(path), 1, "{path}");
    }
    assert_eq!(began("each[1].note"), 1);
}

const COUNT_TO_THREE: &str = r#"
version: 1
name: count
steps:
  - id: again
    repeat: {until: "vars.n >= 3", max: 5, delay: 10s}
    do:
      - id: bump
        set: {n: "{{ (vars.n | default(0)) + 1 }}"}
      - id: say
        log: "pass {{ steps.bump.n }}"
outputs:
  n: "{{ vars.n }}"
  said: "{{ steps.again | map(attribute='say') | map(attribute='message') | list }}"
"#;

#[tokio::test]
async fn repeat_runs_the_body_until_until_holds_and_fails_past_max() {
    let harness = harness(Scenario::default_scenario()).await;
    let state = run(&harness, &runbook(COUNT_TO_THREE)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(state.outputs["n"], json!(3));
    assert_eq!(state.outputs["said"], json!(["pass 1", "pass 2", "pass 3"]));

    let book = runbook(&COUNT_TO_THREE.replace("max: 5", "max: 2"));
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    let error = state.error.unwrap();
    assert!(
        error.contains("`until: vars.n >= 3` still does not hold after 2 pass(es)"),
        "{error}"
    );
    let passes = state.steps["again"].result.clone().unwrap();
    assert_eq!(passes.as_array().map(Vec::len), Some(2), "{passes}");
}

#[tokio::test]
async fn a_resumed_repeat_keeps_the_passes_it_had_and_their_variables() {
    let harness = harness(Scenario::default_scenario()).await;
    let book = runbook(COUNT_TO_THREE);
    let crashed = run_until_crash(&harness, &book, |e| {
        (e["event"] == "block_checkpoint" && e["body"] == "again[1]" && e["step"] == "say")
            .then_some(Cut::After)
    })
    .await;
    assert!(crashed.is_none());
    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        state.outputs["n"],
        json!(3),
        "two passes were not run again"
    );
    assert_eq!(state.outputs["said"], json!(["pass 1", "pass 2", "pass 3"]));
}

#[tokio::test]
async fn a_failed_step_fails_its_element_and_the_budget_decides_the_block() {
    let harness = harness(Scenario::default_scenario()).await;
    let text = r#"
version: 1
name: budget
timeout: 1h
steps:
  - id: each
    for_each: [wf-success, wf-broken, wf-success]
    max_errors: 1
    do:
      - id: deploy
        aom.run: {workflow_id: "{{ item }}"}
      - id: optional
        fail: "{{ item }} has no extra"
        on_failure: continue
      - id: done
        log: "{{ steps.optional.status }}"
"#;
    let state = run(&harness, &runbook(text)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let result = state.steps["each"].result.clone().unwrap();
    assert_eq!(result[1], Value::Null, "the broken host's element failed");
    assert_eq!(result[0]["done"]["message"], "failed");
    let events = harness.recorder.events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::StepFinished { step, index: Some(1), error: Some(error), .. }
            if step == "each" && error.starts_with("step `deploy`: ")
    )));
}

#[tokio::test]
async fn batches_are_strict_the_next_begins_when_every_host_of_this_one_has_ended() {
    let lasting = [
        ("slow", std::time::Duration::from_secs(60)),
        ("fast", std::time::Duration::from_secs(1)),
    ];
    let harness = harness(support::scenario_with_workflows_lasting(&lasting)).await;
    let text = r#"
version: 1
name: batches
timeout: 1h
inputs:
  hosts: {type: array, default: [slow, fast, fast, fast]}
steps:
  - id: batches
    for_each: "{{ inputs.hosts | batch(2) | list }}"
    as: batch
    do:
      - id: deploy
        for_each: "{{ batch }}"
        concurrency: 2
        aom.run: {workflow_id: "{{ item }}", poll: {min: 1s, max: 1s}}
"#;
    let state = run(&harness, &runbook(text)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let events = harness.recorder.events.lock().unwrap();
    let at = |wanted: &dyn Fn(&Event) -> bool| events.iter().position(wanted).unwrap();
    let slow_ended = at(
        &|e| matches!(e, Event::StepFinished { step, index: Some(0), .. } if step == "batches[0].deploy"),
    );
    let fast_ended = at(
        &|e| matches!(e, Event::StepFinished { step, index: Some(1), .. } if step == "batches[0].deploy"),
    );
    let next_started =
        at(&|e| matches!(e, Event::ExecutionStarted { step, .. } if step == "batches[1].deploy"));
    assert!(fast_ended < slow_ended, "the fast host ends first");
    assert!(
        slow_ended < next_started,
        "the second batch waits for the slow host, not only for a free slot"
    );
}

#[tokio::test]
async fn a_nested_block_reads_the_outer_body_and_its_element_and_secrets_stay_out_of_the_journal() {
    let harness = harness(Scenario::default_scenario()).await;
    let text = r#"
version: 1
name: nested
inputs:
  token: {type: string, secret: true}
steps:
  - id: outer
    for_each: [a, b]
    as: letter
    do:
      - id: hush
        log: "{{ letter }} with {{ inputs.token }}"
      - id: first
        log: "{{ letter }}"
      - id: inner
        repeat: {until: "steps.echo.message != ''", max: 2}
        do:
          - id: echo
            log: "{{ steps.first.message }}-{{ letter }}-{{ index }}"
"#;
    let secret = "hunter2-token";
    let state = support::run_given(&harness, &runbook(text), &[("token", secret)]).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let result = state.steps["outer"].result.clone().unwrap();
    assert_eq!(result[1]["inner"][0]["echo"]["message"], "b-b-1");
    let hushed = &result[0]["hush"]["message"];
    assert_eq!(hushed, "***", "a value computed from a secret is a secret");
    let journal = serde_json::to_string(&*harness.recorder.journal.lock().unwrap()).unwrap();
    assert!(journal.contains("block_checkpoint"));
    assert!(!journal.contains(secret), "a secret reached the journal");
}

#[tokio::test]
async fn a_failed_block_reads_as_its_status_and_a_branch_can_end_its_body() {
    let harness = harness(Scenario::default_scenario()).await;
    let text = r#"
version: 1
name: statuses
steps:
  - id: loop
    on_failure: continue
    do:
      - id: try
        log: try
      - id: check
        fail: not yet
        on_failure: {goto: try, max: 2}
  - id: choose
    do:
      - id: pick
        branch:
          - {when: "true", goto: end}
      - id: passed_over
        log: never
  - id: show
    log: "{{ steps.loop.status }} {{ steps.choose.passed_over.status }}"
"#;
    let state = run(&harness, &runbook(text)).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        state.steps["show"].result.clone().unwrap()["message"],
        "failed skipped"
    );
    let error = state.steps["loop"].error.clone().unwrap();
    assert!(
        error.contains("step `check`: not yet; `on_failure` already went to `try` 2 time(s)"),
        "{error}"
    );
}

#[tokio::test]
async fn elements_running_at_once_resume_each_where_it_was_and_send_nothing_twice() {
    let book = runbook(&HOSTS.replace("    as: host\n", "    as: host\n    concurrency: 2\n"));
    // `Before` a step's block checkpoint: its request was answered, but the journal does not
    // say the step ended, so the resumed run must settle it without sending it again.
    let crashes = [
        ("each[0]", "go_on", Cut::After),
        ("each[0]", "go_on", Cut::Before),
        ("each[1]", "start", Cut::Before),
        ("each[1]", "reach", Cut::After),
    ];
    for (body, step, cut) in crashes {
        let harness = harness(Scenario::default_scenario()).await;
        let crashed = run_until_crash(&harness, &book, move |e| {
            (e["event"] == "block_checkpoint" && e["body"] == body && e["step"] == step)
                .then_some(cut)
        })
        .await;
        assert!(crashed.is_none(), "{body}.{step}");
        let state = resume(&harness, &book, None).await;
        assert_eq!(
            state.status,
            RunStatus::Succeeded,
            "{body}.{step}: {:?}",
            state.error
        );
        assert_eq!(
            support::requests(&harness, "ExecuteWorkflow"),
            2,
            "{body}.{step}"
        );
        assert_eq!(
            support::requests(&harness, "StartPausingWorkflowExecutions"),
            2,
            "{body}.{step}"
        );
        assert_eq!(
            state.outputs["notes"],
            json!(["web1 (0): success", "web2 (1): success"])
        );
    }
}
