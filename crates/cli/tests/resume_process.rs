#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Resuming runs with the `runbook` binary as processes: SIGTERM suspends and the same
//! command resumes; a changed runbook is not resumed but named (exit 4), then resumed by
//! `runbook resume` or replaced by `runbook run --new`.
#![cfg(unix)]

mod support;

use std::process::{Child, Output, Stdio};

use serde_json::Value;
use support::{runbook, signal_when, write_temp, Served};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const CREDENTIALS: (&str, &str) = ("RESUMETESTAK00000001", "resume-test-secret-key");

struct Job {
    _dir: tempfile::TempDir,
    served: Served,
    file: String,
    state: String,
}

/// A sandbox whose `deploy` workflow runs for 3 s, and a runbook that starts and watches it
/// and logs from `finally`.
fn job() -> Job {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_temp(
        &dir,
        "scenario.yaml",
        &format!(
            "projects:\n  - id: {PROJECT}\n    credentials:\n      - {{ak: {}, sk: {}}}\n    aom_workflows:\n      - id: deploy\n        nodes: [{{id: only, behaviour: succeed, duration: 3s}}]\n",
            CREDENTIALS.0, CREDENTIALS.1
        ),
    );
    let file = write_temp(
        &dir,
        "deploy.yaml",
        "version: 1\nname: nightly\ntimeout: 5m\nsteps:\n  - id: start\n    aom.start: {workflow_id: deploy}\n  - id: wait\n    aom.wait:\n      workflow_id: deploy\n      execution_id: \"{{ steps.start.execution_id }}\"\n      poll: {min: 200ms, max: 500ms}\nfinally:\n  - id: bye\n    log: done\n",
    );
    let state = dir.path().join("state").display().to_string();
    Job {
        served: Served::start(&scenario),
        file,
        state,
        _dir: dir,
    }
}

impl Job {
    fn spawn(&self, extra: &[&str]) -> Child {
        self.served
            .run_command(&self.file, CREDENTIALS, PROJECT)
            .args(["--state-dir", &self.state])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, extra: &[&str]) -> Output {
        self.spawn(extra).wait_with_output().unwrap()
    }

    /// Starts the job and suspends it with SIGTERM once its execution has started.
    fn suspended(&self) -> (Value, Vec<Value>) {
        let (code, summary, lines) = signal_when(
            self.spawn(&[]),
            "TERM",
            |e| e["event"] == "execution_started",
            || {},
        );
        assert_eq!(code, 75, "{lines:#?}");
        (summary, lines)
    }

    fn executions(&self) -> usize {
        self.served.inspect("executions")["aom"]
            .as_array()
            .unwrap()
            .len()
    }

    fn runs(&self) -> Vec<Value> {
        let listed = runbook()
            .args([
                "runs",
                "--state-dir",
                &self.state,
                "list",
                "--output",
                "json",
            ])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&listed.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn events(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn sigterm_suspends_the_run_and_the_same_command_resumes_it() {
    let job = job();
    let (summary, lines) = job.suspended();
    assert_eq!(summary["run"]["status"], "suspended", "{summary:#}");
    assert!(
        !lines.iter().any(|e| e["event"] == "finally_started"),
        "a suspended run does not run `finally`"
    );
    let run_id = summary["run"]["run_id"].as_str().unwrap().to_owned();
    let runs = job.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "running", "kept unfinished: {runs:#?}");

    let resumed = job.run(&[]);
    let log = events(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{log:#?}");
    let summary: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(summary["run"]["run_id"], run_id.as_str());
    let resumed_at = log.iter().find(|e| e["event"] == "run_resumed").unwrap();
    assert_eq!(resumed_at["run_id"], run_id.as_str());
    assert_eq!(resumed_at["step"], "wait");
    assert!(log.iter().any(|e| e["event"] == "finally_started"));
    assert_eq!(job.executions(), 1, "the deploy started once");
    assert_eq!(job.runs()[0]["status"], "succeeded");
}

#[test]
fn a_changed_runbook_is_not_resumed_but_named_and_runbook_resume_goes_on_once_it_is_back() {
    let job = job();
    let (summary, _) = job.suspended();
    let run_id = summary["run"]["run_id"].as_str().unwrap().to_owned();
    let execution = summary["run"]["executions"][0]["execution_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let original = std::fs::read_to_string(&job.file).unwrap();
    std::fs::write(&job.file, format!("{original}# edited\n")).unwrap();

    let refused = job.run(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains(&run_id), "{stderr}");
    assert!(stderr.contains(&execution), "{stderr}");
    assert!(stderr.contains("the runbook changed"), "{stderr}");
    assert!(
        stderr.contains("runbook resume") && stderr.contains("--new"),
        "{stderr}"
    );
    assert_eq!(job.executions(), 1, "nothing started");

    std::fs::write(&job.file, original).unwrap();
    let resumed = runbook()
        .args([
            "resume",
            &run_id,
            "--endpoint",
            &job.served.url,
            "--region",
            "cn-north-4",
        ])
        .args([
            "--state-dir",
            &job.state,
            "--log-format",
            "json",
            "--output",
            "json",
        ])
        .env("HUAWEICLOUD_SDK_AK", CREDENTIALS.0)
        .env("HUAWEICLOUD_SDK_SK", CREDENTIALS.1)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{:#?}", events(&resumed));
    assert_eq!(job.executions(), 1);
}

#[test]
fn run_new_marks_the_unfinished_run_abandoned_and_starts_afresh() {
    let job = job();
    let (summary, _) = job.suspended();
    let run_id = summary["run"]["run_id"].as_str().unwrap().to_owned();

    let fresh = job.run(&["--new"]);
    assert_eq!(fresh.status.code(), Some(0), "{:#?}", events(&fresh));
    let runs = job.runs();
    let old = runs
        .iter()
        .find(|r| r["run_id"] == run_id.as_str())
        .unwrap();
    assert_eq!(old["status"], "abandoned", "{runs:#?}");
    assert_eq!(runs.len(), 2);
    assert_eq!(job.executions(), 2, "a fresh start, as asked");
}
