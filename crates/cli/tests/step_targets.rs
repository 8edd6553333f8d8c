#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A run over two projects with separate keys, as a process against `runbook sandbox serve`:
//! a step's `target` sends each element's requests to its own project signed with its own
//! keys (read from `PREFIX_AK`/`PREFIX_SK`), and neither key appears in what the run leaves.

mod support;

use serde_json::Value;
use support::Served;

const DEFAULT_SCENARIO: &str = "crates/sandbox/src/default_scenario.yaml";
const FIRST: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const OTHER: &str = "ffffffffffffffffffffffffffffffff";
const FIRST_KEY: (&str, &str) = ("SANDBOXAKEXAMPLE0001", "sandbox-secret-key-0001");
const OTHER_KEY: (&str, &str) = ("SANDBOXAKOTHERPROJECT", "sandbox-secret-key-other");

/// `(project_id, workflow_id, status)` of every AOM execution the sandbox holds.
fn executions(served: &Served) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = served.inspect("executions")["aom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or_default().to_owned();
            (text("project_id"), text("workflow_id"), text("status"))
        })
        .collect();
    found.sort();
    found
}

/// `runbook run runbooks/two-regions.yaml` against `served` as the first project, with
/// `keys` as each region's `PREFIX_AK`/`PREFIX_SK`.
fn two_regions(served: &Served, keys: &[(&str, (&str, &str))]) -> std::process::Command {
    let mut command = served.run_command("runbooks/two-regions.yaml", FIRST_KEY, FIRST);
    for (prefix, (ak, sk)) in keys {
        command
            .env(format!("{prefix}_AK"), ak)
            .env(format!("{prefix}_SK"), sk);
    }
    command
}

/// The one execution a run that could start only the first region's leaves.
fn only_the_first(served: &Served) {
    assert_eq!(
        executions(served),
        vec![(
            FIRST.to_owned(),
            "wf-success".to_owned(),
            "success".to_owned()
        )]
    );
}

/// Every byte the run left in its state directory, as text (lossy).
fn stored(dir: &tempfile::TempDir) -> String {
    let mut all = String::new();
    for entry in walkdir::WalkDir::new(dir.path()) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(entry.path()).unwrap(),
            ));
        }
    }
    all
}

#[test]
fn each_element_acts_in_its_own_project_with_its_own_keys_and_no_key_is_left_behind() {
    let served = Served::start(DEFAULT_SCENARIO);
    let state = tempfile::tempdir().unwrap();
    let output = two_regions(
        &served,
        &[("HWC_BEIJING", FIRST_KEY), ("HWC_SINGAPORE", OTHER_KEY)],
    )
    .env("RUNBOOK_STATE_DIR", state.path())
    .output()
    .unwrap();
    let run = support::parse(output);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        executions(&served),
        vec![
            (
                FIRST.to_owned(),
                "wf-success".to_owned(),
                "success".to_owned()
            ),
            (
                OTHER.to_owned(),
                "wf-other".to_owned(),
                "success".to_owned()
            ),
        ]
    );
    let reached: Vec<String> = run
        .events_of("log")
        .iter()
        .filter_map(|event| event["message"].as_str())
        .filter(|message| message.starts_with("target: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(reached.len(), 2, "{reached:?}");
    // The run's record says where each execution started, and with which keys' names.
    let mut recorded: Vec<(String, Value)> = run.run()["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["workflow_id"].as_str().unwrap().to_owned(),
                e["target"].clone(),
            )
        })
        .collect();
    recorded.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        recorded,
        vec![
            (
                "wf-other".to_owned(),
                serde_json::json!({"region": "ap-southeast-1", "project_id": OTHER, "credentials": "HWC_SINGAPORE"})
            ),
            (
                "wf-success".to_owned(),
                serde_json::json!({"region": "cn-north-4", "project_id": FIRST, "credentials": "HWC_BEIJING"})
            ),
        ]
    );
    assert!(
        reached
            .iter()
            .any(|m| m.contains("region ap-southeast-1, project ffffffffffffffffffffffffffffffff, credentials HWC_SINGAPORE_*")),
        "{reached:?}"
    );
    let run_id = run.run()["run_id"].as_str().unwrap().to_owned();
    let report = support::runbook()
        .args(["report", &run_id, "--format", "md"])
        .env("RUNBOOK_STATE_DIR", state.path())
        .output()
        .unwrap();
    let report = String::from_utf8(report.stdout).unwrap();
    assert!(
        report.contains(&format!("in project {OTHER}, region ap-southeast-1")),
        "{report}"
    );
    for secret in [FIRST_KEY.1, OTHER_KEY.1] {
        for (what, text) in [
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("store", &stored(&state)),
            ("report", &report),
        ] {
            assert!(!text.contains(secret), "{what} holds {secret}");
        }
    }
}

#[test]
fn missing_keys_fail_only_the_element_that_needs_them_and_say_which_variables() {
    let served = Served::start(DEFAULT_SCENARIO);
    let output = two_regions(&served, &[("HWC_BEIJING", FIRST_KEY)])
        .output()
        .unwrap();
    let run = support::parse(output);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.step_status("deploy"), "failed");
    let errors: Vec<&Value> = run.events_of("step_finished");
    let error = errors
        .iter()
        .find_map(|event| {
            event["error"]
                .as_str()
                .filter(|e| e.contains("HWC_SINGAPORE"))
        })
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        error.contains(
            "target: credentials HWC_SINGAPORE: set HWC_SINGAPORE_AK and HWC_SINGAPORE_SK"
        ),
        "{error}"
    );
    // The other region went ahead; nothing started in the project without keys.
    only_the_first(&served);
}

#[test]
fn a_project_refuses_another_projects_keys() {
    let served = Served::start(DEFAULT_SCENARIO);
    let output = two_regions(
        &served,
        &[("HWC_BEIJING", FIRST_KEY), ("HWC_SINGAPORE", FIRST_KEY)],
    )
    .output()
    .unwrap();
    let run = support::parse(output);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("HTTP 403 AOM.31009004"),
        "{}",
        run.stderr
    );
    only_the_first(&served);
}

#[test]
fn a_target_is_reached_once_however_many_elements_name_it() {
    let regions = serde_json::json!([
        {"region": "cn-north-4", "project_id": FIRST, "credentials": "A", "workflow_id": "wf-success"},
        {"region": "ap-southeast-1", "project_id": OTHER, "credentials": "B", "workflow_id": "wf-other"},
        {"region": "cn-north-4", "project_id": FIRST, "credentials": "A", "workflow_id": "wf-flaky"},
        {"region": "ap-southeast-1", "project_id": OTHER, "credentials": "B", "workflow_id": "wf-other"},
    ]);
    let run = support::run_in_sandbox(
        "runbooks/two-regions.yaml",
        &["-i", &format!("regions={regions}")],
    );
    assert_eq!(
        run.code, 1,
        "wf-flaky fails without a restart rule: {}",
        run.stderr
    );
    let reached: Vec<&str> = run
        .events_of("log")
        .iter()
        .filter_map(|event| event["message"].as_str())
        .filter(|message| message.starts_with("target: "))
        .collect();
    assert_eq!(reached.len(), 2, "{reached:?}");
    let started: Vec<&str> = run
        .events_of("execution_started")
        .iter()
        .filter_map(|event| event["workflow_id"].as_str())
        .collect();
    assert_eq!(started.len(), 4, "{}", run.stderr);
}
