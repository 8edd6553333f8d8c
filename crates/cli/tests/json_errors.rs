#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Under `--log-format json`, a run that does not start says why in one JSON line on stderr
//! (`"event": "run_not_started"`), like every other line of a run, so a log pipeline never
//! meets a stray text line: an invalid runbook (with each diagnostic's file, line and column,
//! the same as the text report's), invalid inputs, configuration (no credentials), and a run
//! store that cannot be opened (exit 2) or reached (exit 75, try later).

mod support;

use serde_json::Value;
use support::{runbook, workspace};

fn not_started(args: &[&str]) -> Value {
    let out = runbook()
        .args(args)
        .env_remove("HUAWEICLOUD_SDK_AK")
        .env_remove("HUAWEICLOUD_SDK_SK")
        .env_remove("HUAWEICLOUD_SDK_AUTH_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line, nothing else: {stderr}");
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["event"], "run_not_started", "{line}");
    assert_eq!(line["exit_code"], 2, "{line}");
    assert!(line["ts"].is_string(), "{line}");
    line
}

fn file(relative: &str) -> String {
    workspace().join(relative).display().to_string()
}

/// `runbook run FILE EXTRA…` with a state directory inside a file, where no store can be
/// created: the one JSON line of a run that did not start.
fn run_with_an_unopenable_store(file: &str, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let state_dir = not_a_dir.join("state").display().to_string();
    let mut args = vec![
        "run",
        file,
        "--state-dir",
        &state_dir,
        "--log-format",
        "json",
    ];
    args.extend_from_slice(extra);
    not_started(&args)
}

#[test]
fn an_invalid_runbook_gives_every_diagnostic_located() {
    let broken = file("crates/lang/tests/corpus/template_in_node_ids.yaml");
    let line = not_started(&["run", &broken, "--sandbox", "--log-format", "json"]);
    assert_eq!(line["reason"], "invalid_runbook");
    let errors = line["errors"].as_array().unwrap();
    let places: Vec<(u64, u64)> = errors
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["column"].as_u64().unwrap()))
        .collect();
    // The corpus file's own `# expect:` lines name these places.
    assert_eq!(places, [(16, 19), (18, 17)], "{line}");
    assert!(
        errors[0]["help"].as_str().unwrap().contains("node.id"),
        "{line}"
    );
    assert_eq!(errors[0]["file"], broken);

    let missing = not_started(&["run", "/no/such/runbook.yaml", "--log-format", "json"]);
    assert_eq!(missing["reason"], "invalid_runbook");
    let message = missing["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("/no/such/runbook.yaml"), "{missing}");
}

#[test]
fn invalid_inputs_and_configuration_say_so_in_json() {
    let canonical = file("runbooks/canonical.yaml");
    let inputs = not_started(&[
        "run",
        &canonical,
        "--sandbox",
        "--log-format",
        "json",
        "-i",
        "nope=1",
    ]);
    assert_eq!(inputs["reason"], "invalid_inputs");
    assert!(
        inputs["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`nope`"),
        "{inputs}"
    );

    let configuration = not_started(&[
        "run",
        &canonical,
        "--log-format",
        "json",
        "--region",
        "cn-north-4",
    ]);
    assert_eq!(configuration["reason"], "configuration");
    assert!(
        configuration["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no credentials"),
        "{configuration}"
    );
}

#[test]
fn without_json_the_same_refusal_is_text() {
    let out = runbook()
        .args([
            "run",
            &file("runbooks/canonical.yaml"),
            "--sandbox",
            "-i",
            "nope=1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: unknown input `nope`"),
        "{stderr}"
    );
}

/// The store opens while the runbook is read; a runbook that is wrong is still what is
/// reported, whatever opening the store came to.
#[test]
fn an_invalid_runbook_is_reported_before_a_store_that_cannot_be_opened() {
    let broken = file("crates/lang/tests/corpus/template_in_node_ids.yaml");
    let line = run_with_an_unopenable_store(&broken, &["--endpoint", "http://127.0.0.1:1"]);
    assert_eq!(line["reason"], "invalid_runbook", "{line}");
}

#[test]
fn a_run_store_that_cannot_be_opened_or_reached_says_so_in_json() {
    let canonical = file("runbooks/canonical.yaml");
    let line = run_with_an_unopenable_store(&canonical, &["--sandbox"]);
    assert_eq!(line["reason"], "run_store");
    let message = line["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("cannot create the state directory"),
        "{line}"
    );

    // Nothing listens on port 1: the store cannot be reached, and trying later may help.
    let unreachable = "postgres://runbook@127.0.0.1:1/runbook";
    for command in [vec!["run", &canonical, "--sandbox"], vec!["resume", "01a2"]] {
        let out = runbook()
            .args(&command)
            .args(["--store", unreachable, "--log-format", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(75), "{out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let line: Value = serde_json::from_str(stderr.trim()).unwrap();
        assert_eq!(line["event"], "run_not_started", "{line}");
        assert_eq!(line["reason"], "run_store", "{line}");
        assert_eq!(line["exit_code"], 75, "{line}");
        let message = line["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("cannot be reached"), "{line}");
    }
}
