#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The machine interface: what `runbook run --output json` prints and each line of
//! `--log-format json` follow the JSON Schemas `runbook schema --of run|log-line` prints, which
//! `schemas/` holds (rewritten here when they change, and the test fails once so the change
//! is committed, as rust-analyzer does). Every line and summary of the example runs —
//! succeeded, failed, fanned out, refused before starting — is validated against them, and
//! so are two broken ones, which must be refused.

mod support;

use serde_json::Value;
use support::{runbook, sandbox_run, workspace};

fn printed_schema(of: &str) -> Value {
    let out = runbook().args(["schema", "--of", of]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?} in {instance}");
}

#[test]
fn the_schemas_in_schemas_are_those_the_cli_prints() {
    let mut stale = Vec::new();
    for (of, file) in [("run", "run.json"), ("log-line", "log-line.json")] {
        let path = workspace().join("schemas").join(file);
        let printed = serde_json::to_string_pretty(&printed_schema(of)).unwrap() + "\n";
        if std::fs::read_to_string(&path).ok().as_deref() != Some(printed.as_str()) {
            std::fs::write(&path, printed).unwrap();
            stale.push(file);
        }
    }
    assert!(stale.is_empty(), "rewrote schemas/{stale:?}: commit them");
}

#[test]
fn every_example_runs_lines_and_summary_follow_the_schemas() {
    let run_schema = validator(&printed_schema("run"));
    let line_schema = validator(&printed_schema("log-line"));
    let canonical = workspace()
        .join("runbooks/canonical.yaml")
        .display()
        .to_string();
    let fan_out = workspace()
        .join("runbooks/fan-out.yaml")
        .display()
        .to_string();
    let sync = workspace()
        .join("runbooks/functiongraph-sync.yaml")
        .display()
        .to_string();
    let runs = [
        sandbox_run(&canonical, &[]),
        sandbox_run(
            &canonical,
            &["-i", "workflow=wf-broken", "-i", "optional_nodes=[]"],
        ),
        sandbox_run(&fan_out, &[]),
        sandbox_run(&sync, &[]),
        // Refused before it starts: one run_not_started line, no summary.
        sandbox_run(&canonical, &["-i", "no_such_input=1"]),
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for out in &runs {
        let stderr = String::from_utf8(out.stderr.clone()).unwrap();
        for line in stderr.lines() {
            let line: Value = serde_json::from_str(line).unwrap();
            assert_eq!(line["version"], runbook_version(), "{line}");
            assert_valid(&line_schema, &line);
            kinds.insert(line["event"].as_str().unwrap().to_owned());
        }
        if !out.stdout.is_empty() {
            let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(printed["version"], runbook_version(), "{printed}");
            assert_valid(&run_schema, &printed);
        }
    }
    for kind in [
        "run_started",
        "step_started",
        "poll",
        "node_action",
        "execution_started",
        "step_finished",
        "step_skipped",
        "run_finished",
        "note",
        "run_not_started",
    ] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }

    // What the schemas must refuse: a step's start without its step, a summary without its
    // exit code.
    let mut broken_line: Value = serde_json::from_str(
        r#"{"event":"step_started","step":"a","label":"a","action":"log","ts":"2026-01-01T00:00:00Z","run_id":"r","version":2}"#,
    )
    .unwrap();
    assert_valid(&line_schema, &broken_line);
    broken_line.as_object_mut().unwrap().remove("step");
    assert!(!line_schema.is_valid(&broken_line), "{broken_line}");
    let mut broken_run: Value = serde_json::from_slice(&runs[0].stdout).unwrap();
    broken_run.as_object_mut().unwrap().remove("exit_code");
    assert!(!run_schema.is_valid(&broken_run));
}

/// The version every line and summary carries.
fn runbook_version() -> Value {
    Value::from(runbook_runner::FORMAT_VERSION)
}
