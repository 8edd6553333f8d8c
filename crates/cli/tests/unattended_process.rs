#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Runs nobody watches, with the `runbook` binary as a process: a signal mid-wait still runs
//! `finally` (the callback is answered), a signal during a start keeps its execution id, a
//! lost answer is reported as an unknown outcome, and every run is traceable by its id.

mod support;

use std::process::{Child, Stdio};

use serde_json::Value;
use support::{run_in_sandbox, runbook, write_temp, Served};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// `runbook run FILE` against a served sandbox as its default project.
fn run_against(served: &Served, file: &str, args: &[&str]) -> Child {
    served
        .run_command(
            file,
            ("SANDBOXAKEXAMPLE0001", "sandbox-secret-key-0001"),
            PROJECT,
        )
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads JSON log lines until one satisfies `seen`, then sends SIGINT.
fn interrupt_when(
    child: Child,
    seen: impl Fn(&Value) -> bool,
    before_signal: impl Fn(),
) -> (i32, Value, Vec<Value>) {
    support::signal_when(child, "INT", seen, before_signal)
}

#[cfg(unix)]
#[test]
fn sigint_mid_wait_still_answers_the_callback_from_finally() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_temp(&dir, "default.yaml", hwc_sandbox::DEFAULT_SCENARIO);
    let served = Served::start(&scenario);
    let child = run_against(
        &served,
        "runbooks/canonical.yaml",
        &["-i", "workflow=wf-long"],
    );
    // The second poll comes 2 s in, when the callback flow already waits at its state.
    let (code, summary, lines) = interrupt_when(
        child,
        |e| e["event"] == "poll" && e["step"] == "watch" && e["poll"] == 2,
        || {},
    );
    assert_eq!(code, 130, "{lines:#?}");
    let run = &summary["run"];
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["steps"]["watch"]["status"], "cancelled");
    assert_eq!(run["steps"]["report"]["status"], "succeeded", "{run:#}");
    assert!(lines.iter().any(|e| e["event"] == "finally_started"));
    // The flow that waited at its callback state heard the verdict: it failed, as told.
    let callback_flow = run["executions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["workflow_id"] == "fg-callback")
        .unwrap()["execution_id"]
        .clone();
    let executions = served.inspect("executions");
    let flow = executions["functiongraph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["execution_id"] == callback_flow)
        .unwrap();
    assert_eq!(flow["status"], "fail", "{flow:#}");
    assert_eq!(served.inspect("requests")["CreateCallbackWorkflow"], 1);
}

#[cfg(unix)]
#[test]
fn sigint_during_a_start_keeps_its_execution_id() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_temp(
        &dir,
        "slow-start.yaml",
        &format!(
            "{}\nfaults:\n  ExecuteWorkflow: {{latency: 1500ms}}\n",
            hwc_sandbox::DEFAULT_SCENARIO
        ),
    );
    let served = Served::start(&scenario);
    let child = run_against(
        &served,
        "runbooks/aom-execute.yaml",
        &["-i", "workflow=wf-long"],
    );
    let start_received = || {
        for _ in 0..300 {
            if served.inspect("requests")["ExecuteWorkflow"].as_u64() == Some(1) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the start never reached the sandbox");
    };
    let (code, summary, lines) =
        interrupt_when(child, |e| e["event"] == "step_started", start_received);
    assert_eq!(code, 130, "{lines:#?}");
    let executions = summary["run"]["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 1, "{summary:#}");
    let id = &executions[0]["execution_id"];
    assert!(lines
        .iter()
        .any(|e| e["event"] == "awaiting_answer" && e["operation"] == "ExecuteWorkflow"));
    assert!(lines
        .iter()
        .any(|e| e["event"] == "execution_started" && &e["execution_id"] == id));
    assert!(summary["run"]["unknown_outcomes"].is_null());
}

#[test]
fn a_lost_answer_to_a_start_is_settled_by_listing_and_one_to_a_call_is_reported_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_temp(
        &dir,
        "lost.yaml",
        &format!(
            "{}\nfaults:\n  ExecuteWorkflow: {{apply_then_drop: 1.0}}\n",
            hwc_sandbox::DEFAULT_SCENARIO
        ),
    );
    let run = run_in_sandbox(
        "runbooks/aom-execute.yaml",
        &["--scenario", &scenario, "-i", "workflow=wf-success"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.run()["executions"].as_array().unwrap().len(), 1);
    let settled = run.events_of("outcome_reconciled");
    assert_eq!(settled.len(), 1, "{}", run.stderr);
    assert_eq!(settled[0]["decision"], "applied");

    let raw = write_temp(
        &dir,
        "raw.yaml",
        "version: 1\nname: raw\nsteps:\n  - id: deploy\n    call: {operation: ExecuteWorkflow, params: {workflow_id: wf-success}}\n",
    );
    let run = run_in_sandbox(&raw, &["--scenario", &scenario]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let unknown = &run.run()["unknown_outcomes"][0];
    assert_eq!(unknown["operation"], "ExecuteWorkflow");
    assert_eq!(unknown["workflow_id"], "wf-success");
    assert!(unknown["request_id"].is_string(), "{unknown}");
    assert!(!run.events_of("outcome_unknown").is_empty());
    let error = run.run()["error"].as_str().unwrap();
    assert!(error.contains("may have taken effect"), "{error}");

    let text = runbook()
        .args(["run", &raw, "--sandbox", "--scenario", &scenario])
        .output()
        .unwrap();
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(stdout.contains("OUTCOME UNKNOWN"), "{stdout}");
    assert!(stdout.contains("wf-success"), "{stdout}");
}

#[test]
fn every_run_has_its_own_id_on_every_json_line() {
    let first = run_in_sandbox("runbooks/aom-execute.yaml", &[]);
    let second = run_in_sandbox("runbooks/aom-execute.yaml", &[]);
    assert_eq!((first.code, second.code), (0, 0), "{}", first.stderr);
    let ids = [&first, &second].map(|run| run.run()["run_id"].as_str().unwrap().to_owned());
    assert_ne!(
        ids[0], ids[1],
        "the same seed must not give the same run id"
    );
    for (run, id) in [&first, &second].iter().zip(&ids) {
        assert!(run.events.len() > 3);
        for event in &run.events {
            assert_eq!(event["run_id"], id.as_str(), "{event}");
        }
    }
}
