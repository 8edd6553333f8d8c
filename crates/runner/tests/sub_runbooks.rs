#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Sub-runbooks (`runbook: {path, inputs}`): the child's steps run under the step's path,
//! read only the child's inputs and steps, end with the child's `finally`, and give back its
//! `outputs`; a run that dies inside a child goes on there without sending anything twice.

mod support;

use std::time::Duration;

use hwc_client::runtime::Clock;
use hwc_sandbox::Scenario;
use runbook_runner::{Event, RunStatus, StepStatus};
use serde_json::json;
use support::{harness, resume, run, run_given, run_until_crash, runbook_with, Cut};

const PATCH_ALL: &str = r#"
version: 1
name: patch-all
timeout: 1h
inputs:
  hosts: {type: array, default: [web1, web2, web3, web4, web5]}
steps:
  - id: deploy
    log: "the parent's own deploy step"
  - id: patch
    for_each: "{{ inputs.hosts }}"
    concurrency: 2
    runbook:
      path: child/patch-one.yaml
      inputs: {host: "{{ item }}"}
outputs:
  hosts: "{{ steps.patch | map(attribute='host') | list }}"
  first: "{{ steps.patch[0].execution_id }}"
"#;

/// Its step ids are the parent's too: what it reads is its own.
const PATCH_ONE: &str = r#"
version: 1
name: patch-one
timeout: 30m
inputs:
  host: {type: string, required: true}
  workflow: {type: string, default: wf-1m}
steps:
  - id: deploy
    aom.run:
      workflow_id: "{{ inputs.workflow }}"
      poll: {min: 1s, max: 1s}
  - id: note
    log: "{{ inputs.host }}: {{ steps.deploy.status }}"
finally:
  - id: restore
    log: "{{ inputs.host }} back ({{ run.status }})"
outputs:
  host: "{{ inputs.host }}"
  execution_id: "{{ steps.deploy.execution_id }}"
  note: "{{ steps.note.message }}"
"#;

fn patch_all() -> runbook_lang::Runbook {
    runbook_with(&[
        ("patch-all.yaml", PATCH_ALL),
        ("child/patch-one.yaml", PATCH_ONE),
    ])
}

fn logged(harness: &support::Harness, step: &str) -> Vec<String> {
    harness
        .recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|event| match event {
            Event::Log {
                step: logged,
                message,
            } if logged == step => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_child_per_host_under_concurrency_2_has_at_most_2_executions_in_flight() {
    let harness = harness(support::scenario_with_workflow_lasting(
        "wf-1m",
        Duration::from_secs(60),
    ))
    .await;
    let state = run(&harness, &patch_all()).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let executions = harness.sandbox.executions();
    assert_eq!(
        hwc_sandbox::most_running_at_once(&executions, "wf-1m"),
        2,
        "{executions:#}"
    );
    assert_eq!(support::requests(&harness, "ExecuteWorkflow"), 5);
    assert_eq!(
        state.outputs["hosts"],
        json!(["web1", "web2", "web3", "web4", "web5"])
    );
    assert_eq!(
        state.outputs["first"],
        json!(state.executions[0].execution_id),
        "the child's `steps.deploy` is its own, not the parent's `log` step"
    );
    let result = state.steps["patch"].result.clone().unwrap();
    assert_eq!(result[2]["note"], "web3: success");
    // The child's steps are named by their path, its `finally` after them.
    assert_eq!(logged(&harness, "patch[4].note"), ["web5: success"]);
    assert_eq!(
        logged(&harness, "patch[4].finally.restore"),
        ["web5 back (succeeded)"]
    );
    assert_eq!(state.steps["patch"].items, Some(5));
}

#[tokio::test]
async fn a_failed_child_runs_its_finally_and_fails_its_element_naming_the_file_and_step() {
    let harness = harness(Scenario::default_scenario()).await;
    let parent = r#"
version: 1
name: two
timeout: 1h
steps:
  - id: patch
    for_each: [wf-success, wf-broken]
    max_errors: 1
    runbook: {path: patch-one.yaml, inputs: {host: "{{ item }}", workflow: "{{ item }}"}}
  - id: after
    log: "{{ steps.patch | reject('none') | list | length }} patched"
"#;
    let book = runbook_with(&[("two.yaml", parent), ("patch-one.yaml", PATCH_ONE)]);
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        logged(&harness, "patch[1].finally.restore"),
        ["wf-broken back (failed)"]
    );
    // A failed element reads as null, as in any `for_each`.
    assert_eq!(logged(&harness, "after"), ["1 patched"]);
    let element_error = harness
        .recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .find_map(|event| match event {
            Event::StepFinished {
                step,
                index: Some(1),
                error,
                ..
            } if step == "patch" => error.clone(),
            _ => None,
        })
        .unwrap();
    assert!(
        element_error.starts_with("`patch-one.yaml`: step `deploy`"),
        "{element_error}"
    );

    // Without a budget, the run fails with the child's reason.
    let strict = parent.replace("    max_errors: 1\n", "");
    let book = runbook_with(&[("two.yaml", &strict), ("patch-one.yaml", PATCH_ONE)]);
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.steps["patch"].status, StepStatus::Failed);
    let error = state.error.unwrap();
    assert!(error.contains("`patch-one.yaml`: step `deploy`"), "{error}");
}

#[tokio::test]
async fn a_run_that_died_inside_a_child_goes_on_there_and_starts_nothing_twice() {
    let harness = harness(support::scenario_with_workflow_lasting(
        "wf-1m",
        Duration::from_secs(60),
    ))
    .await;
    let book = patch_all();
    // Dies as the second host's child has recorded its `deploy`, while other children are
    // mid-request.
    let crashed = run_until_crash(&harness, &book, |e| {
        (e["event"] == "block_checkpoint" && e["body"] == "patch[1]" && e["step"] == "deploy")
            .then_some(Cut::After)
    })
    .await;
    assert!(crashed.is_none());
    let started = support::requests(&harness, "ExecuteWorkflow");
    assert!((2..=3).contains(&started), "{started}");

    let state = resume(&harness, &book, None).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    assert_eq!(
        support::requests(&harness, "ExecuteWorkflow"),
        5,
        "each host's workflow started once, across both processes"
    );
    let began = |path: &str| support::times_begun(&harness, path);
    for path in ["patch[0].deploy", "patch[1].deploy", "patch[1].note"] {
        assert_eq!(began(path), 1, "{path}");
    }
}

#[tokio::test]
async fn a_secret_passed_to_a_child_or_declared_by_it_never_reaches_the_journal() {
    let harness = harness(Scenario::default_scenario()).await;
    let parent = r#"
version: 1
name: secrets
inputs:
  token: {type: string, secret: true}
steps:
  - id: call
    runbook: {path: child.yaml, inputs: {token: "{{ inputs.token }}", pin: "pin-4242-open"}}
"#;
    let child = r#"
version: 1
name: child
inputs:
  token: {type: string, required: true}
  pin: {type: string, required: true, secret: true}
steps:
  - id: say
    log: "using {{ inputs.token }} and {{ inputs.pin }}"
outputs:
  echoed: "{{ inputs.token }}"
"#;
    let book = runbook_with(&[("secrets.yaml", parent), ("child.yaml", child)]);
    let state = run_given(&harness, &book, &[("token", "tok-1234-secret")]).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    let journal = serde_json::to_string(&*harness.recorder.journal.lock().unwrap()).unwrap();
    let events = format!("{:?}", harness.recorder.events.lock().unwrap());
    let recorded = serde_json::to_string(&state).unwrap();
    for text in [&journal, &events, &recorded] {
        assert!(!text.contains("tok-1234-secret"), "{text}");
        assert!(!text.contains("pin-4242-open"), "{text}");
    }
    assert!(
        events.contains(r#"Log { step: "call.say", message: "***" }"#),
        "the child's log is shown, redacted: {events}"
    );
}

/// `child` run as the one step `call` of a parent that gives it no inputs.
fn called(child: &str) -> runbook_lang::Runbook {
    const PARENT: &str =
        "version: 1\nname: p\nsteps:\n  - id: call\n    runbook: {path: child.yaml}\n";
    runbook_with(&[("p.yaml", PARENT), ("child.yaml", child)])
}

#[tokio::test]
async fn a_child_whose_finally_fails_fails_its_step_though_its_steps_succeeded() {
    let harness = harness(Scenario::default_scenario()).await;
    let child = r#"
version: 1
name: child
finally_timeout: 1m
steps:
  - id: work
    log: done
finally:
  - id: slow
    sleep: 5m
"#;
    let book = called(child);
    let state = run(&harness, &book).await;
    assert_eq!(state.status, RunStatus::Failed);
    let error = state.error.unwrap();
    assert!(
        error.contains("`child.yaml`: `finally`: `finally` timed out after 1m"),
        "{error}"
    );

    let failing = child.replace("    sleep: 5m\n", "    fail: cleanup broke\n");
    let book = called(&failing);
    let state = run(&harness, &book).await;
    let error = state.error.unwrap();
    assert!(
        error.contains("`child.yaml`: `finally`: step `slow`: cleanup broke"),
        "{error}"
    );
}

#[tokio::test]
async fn a_childs_timeout_bounds_its_steps_and_reads_as_a_timeout_after_its_finally() {
    let harness = harness(Scenario::default_scenario()).await;
    let child = r#"
version: 1
name: child
timeout: 1m
steps:
  - id: slow
    sleep: 5m
finally:
  - id: tidy
    log: "tidied ({{ run.status }})"
"#;
    let book = called(child);
    let state = run(&harness, &book).await;
    assert_eq!(
        state.steps["call"].status,
        StepStatus::TimedOut,
        "{state:#?}"
    );
    assert_eq!(logged(&harness, "call.finally.tidy"), ["tidied (failed)"]);
    assert!(harness.time.elapsed() < Duration::from_secs(2 * 60));
}

#[tokio::test]
async fn a_childs_step_is_judged_secret_by_its_own_result_not_the_parents_step_of_that_id() {
    let harness = harness(Scenario::default_scenario()).await;
    let parent = r#"
version: 1
name: same-ids
inputs:
  token: {type: string, secret: true}
steps:
  # Its result holds no secret; the child's step of the same id does.
  - id: echo
    log: plain
  - id: call
    runbook: {path: child.yaml, inputs: {token: "{{ inputs.token }}"}}
"#;
    let child = r#"
version: 1
name: child
inputs:
  token: {type: string, required: true}
steps:
  - id: echo
    log: "{{ inputs.token }}"
  - id: again
    log: "copy of {{ steps.echo.message }}"
"#;
    let book = runbook_with(&[("same-ids.yaml", parent), ("child.yaml", child)]);
    let state = run_given(&harness, &book, &[("token", "tok-1234-secret")]).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{:?}", state.error);
    // Computed from a secret, the whole message is one: not merely the secret inside it.
    assert_eq!(logged(&harness, "call.again"), ["***"]);
}
