#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `runbook plan` as a process: every example in every format (snapshots, and the Mermaid
//! output against the grammar it must keep to), secrets never shown, and `run --plan`
//! accepting exactly the reviewed runbook, inputs and spec.

mod support;

use std::collections::HashSet;

use support::{runbook, workspace, write_temp};

const FORMATS: [&str; 3] = ["text", "json", "mermaid"];

fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("runbooks"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

fn plan(args: &[&str]) -> std::process::Output {
    runbook().arg("plan").args(args).output().unwrap()
}

/// Digests change with every edit of the spec; the snapshots are about the rest.
fn without_digests(text: &str) -> String {
    regex::Regex::new("sha256:[0-9a-f]{64}")
        .unwrap()
        .replace_all(text, "sha256:…")
        .into_owned()
}

#[test]
fn every_example_plans_in_every_format() {
    let examples = examples();
    assert!(examples.len() >= 9, "{examples:?}");
    for example in &examples {
        // A sub-runbook planned alone is given the input its parent would give.
        let inputs: &[&str] = match example.as_str() {
            "patch-host.yaml" => &["-i", "host=web-1"],
            _ => &[],
        };
        for format in FORMATS {
            let file = format!("runbooks/{example}");
            let output = plan(&[&[file.as_str(), "--format", format], inputs].concat());
            let stdout = String::from_utf8(output.stdout).unwrap();
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{example} {format}: {stderr}"
            );
            match format {
                "json" => {
                    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                    assert!(!plan["steps"].as_array().unwrap().is_empty(), "{example}");
                }
                "mermaid" => check_mermaid(&stdout)
                    .unwrap_or_else(|problem| panic!("{example}: {problem}\n{stdout}")),
                _ => assert!(stdout.starts_with("Plan for `"), "{stdout}"),
            }
            let name = format!("{}_{format}", example.trim_end_matches(".yaml"));
            insta::assert_snapshot!(name, without_digests(&stdout));
        }
    }
}

/// The subset of Mermaid's flowchart syntax the plan writes, checked line by line: a header,
/// nodes with quoted labels, solid edges (plain or labelled: a branch) and labelled dotted
/// edges between declared nodes, one subgraph, and a class for the steps that change
/// something.
fn check_mermaid(text: &str) -> Result<(), String> {
    let re = |pattern: &str| regex::Regex::new(pattern).unwrap();
    let node = re(r#"^ *([a-z_0-9]+)(\["[^"]*"\]|\(\["[^"]*"\]\))$"#);
    let solid = re(r"^ *([a-z_0-9]+) --> ([a-z_0-9]+)$");
    let dotted = re(r#"^ *([a-z_0-9]+) -\.->\|"[^"]*"\| ([a-z_0-9]+)$"#);
    let labelled = re(r#"^ *([a-z_0-9]+) -->\|"[^"]*"\| ([a-z_0-9]+)$"#);
    let subgraph = re(r#"^ *subgraph [a-z_]+\["[^"]*"\]$"#);
    let class_def = re(r"^ *classDef [a-z]+ [a-z]+:#[0-9a-f]{6}(,[a-z]+:#[0-9a-f]{6})*$");
    let class = re(r"^ *class ([a-z_0-9]+(,[a-z_0-9]+)*) [a-z]+$");
    let mut lines = text.lines();
    if lines.next() != Some("flowchart TD") {
        return Err("the first line is not `flowchart TD`".into());
    }
    let mut declared = HashSet::new();
    let mut used = Vec::new();
    let mut depth = 0i32;
    for line in lines {
        if let Some(found) = node.captures(line) {
            if !declared.insert(found[1].to_owned()) {
                return Err(format!("node declared twice: {line}"));
            }
        } else if let Some(found) = solid
            .captures(line)
            .or_else(|| dotted.captures(line))
            .or_else(|| labelled.captures(line))
        {
            used.push(found[1].to_owned());
            used.push(found[2].to_owned());
        } else if subgraph.is_match(line) {
            depth += 1;
        } else if line.trim() == "end" {
            depth -= 1;
        } else if let Some(found) = class.captures(line) {
            used.extend(found[1].split(',').map(str::to_owned));
        } else if !class_def.is_match(line) {
            return Err(format!("not Mermaid this plan writes: `{line}`"));
        }
        if depth < 0 {
            return Err("`end` without `subgraph`".into());
        }
    }
    if depth != 0 {
        return Err("a subgraph is not closed".into());
    }
    match used.iter().find(|id| !declared.contains(*id)) {
        Some(id) => Err(format!("`{id}` is used but never declared")),
        None => Ok(()),
    }
}

#[test]
fn the_mermaid_check_refuses_what_mermaid_would() {
    assert!(check_mermaid("flowchart TD\n  a[\"x\"]\n  a --> b").is_err());
    assert!(check_mermaid("flowchart TD\n  a[\"x\"]\n  a -> a").is_err());
    assert!(check_mermaid("graph\n  a[\"x\"]").is_err());
    assert!(check_mermaid("flowchart TD\n  subgraph g[\"f\"]\n  a[\"x\"]").is_err());
    assert!(check_mermaid("flowchart TD\n  a[\"x\"]\n  a --> a").is_ok());
}

const SECRET_RUNBOOK: &str = r#"version: 1
name: secret-plan
inputs:
  token: {type: string, secret: true}
  region: {type: string, default: eu-west-101}
steps:
  - id: start
    functiongraph.start:
      workflow_id: fg-standard
      input: {token: "{{ inputs.token }}", shout: "{{ inputs.token | upper }}", region: "{{ inputs.region }}"}
  - id: say
    log: "{{ inputs.token }} in {{ inputs.region }}: {{ steps.start.execution_id }}"
"#;

#[test]
fn a_secret_input_is_never_shown_in_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "secret.yaml", SECRET_RUNBOOK);
    for format in FORMATS {
        let output = plan(&[&file, "--format", format, "-i", "token=hunter2-secret"]);
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(0), "{format}");
        assert!(!stdout.contains("hunter2"), "{format}: {stdout}");
        assert!(
            !stdout.to_lowercase().contains("hunter2"),
            "{format}: {stdout}"
        );
        if format != "mermaid" {
            assert!(stdout.contains("***"), "{format}: {stdout}");
            assert!(stdout.contains("eu-west-101"), "{format}: {stdout}");
            assert!(
                stdout.contains("<steps.start.execution_id>"),
                "{format}: {stdout}"
            );
        }
    }
}

fn run_pinned(file: &str, pins: &str, inputs: &[&str]) -> (Option<i32>, String) {
    let output = runbook()
        .args(["run", file, "--sandbox", "--plan", pins])
        .args(inputs)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn run_with_plan_runs_only_the_reviewed_runbook_inputs_and_spec() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "pinned.yaml", SECRET_RUNBOOK);
    let pins = dir.path().join("plan.json").display().to_string();
    let made = plan(&[&file, "-i", "token=first-secret", "-o", &pins]);
    assert_eq!(made.status.code(), Some(0));
    let pinned = std::fs::read_to_string(&pins).unwrap();
    assert!(!pinned.contains("first-secret"), "{pinned}");
    let fields: serde_json::Value = serde_json::from_str(&pinned).unwrap();
    let mut keys: Vec<&str> = fields
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["inputs_sha256", "runbook_sha256", "spec_sha256", "version"]
    );

    // Nothing changed; a secret input is not pinned, so another value is the same plan.
    let (code, stderr) = run_pinned(&file, &pins, &["-i", "token=another-secret"]);
    assert_eq!(code, Some(0), "{stderr}");

    // Another value of a non-secret input.
    let (code, stderr) = run_pinned(&file, &pins, &["-i", "token=t", "-i", "region=cn-north-4"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the inputs changed"), "{stderr}");
    assert!(!stderr.contains("the runbook"), "{stderr}");

    // An edited runbook, even by a comment.
    let edited = write_temp(
        &dir,
        "pinned.yaml",
        &format!("{SECRET_RUNBOOK}# reviewed?\n"),
    );
    let (code, stderr) = run_pinned(&edited, &pins, &["-i", "token=t"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the runbook changed"), "{stderr}");
    assert!(stderr.contains("runbook plan"), "{stderr}");
    write_temp(&dir, "pinned.yaml", SECRET_RUNBOOK);

    // A plan made by a build with another spec.
    let other_spec = regex::Regex::new(r#""spec_sha256": "sha256:[0-9a-f]+""#)
        .unwrap()
        .replace(
            &pinned,
            format!(r#""spec_sha256": "sha256:{}""#, "0".repeat(64)),
        );
    std::fs::write(&pins, other_spec.as_ref()).unwrap();
    let (code, stderr) = run_pinned(&file, &pins, &["-i", "token=t"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the API spec"), "{stderr}");

    // Not a pin file at all.
    std::fs::write(&pins, "{}").unwrap();
    let (code, stderr) = run_pinned(&file, &pins, &["-i", "token=t"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a plan's pin file"), "{stderr}");
}

/// A reviewed plan pins the sub-runbooks too: a child edited after the review is a changed
/// runbook, though the parent's file is the same.
#[test]
fn a_plan_pins_the_sub_runbooks_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let child = "version: 1\nname: child\nsteps:\n  - id: hello\n    log: hello\n";
    write_temp(&dir, "child.yaml", child);
    let parent = write_temp(
        &dir,
        "parent.yaml",
        "version: 1\nname: parent\nsteps:\n  - id: call\n    runbook: {path: child.yaml}\n",
    );
    let pins = dir.path().join("plan.json").display().to_string();
    let made = plan(&[&parent, "-o", &pins]);
    assert_eq!(made.status.code(), Some(0));
    let (code, stderr) = run_pinned(&parent, &pins, &[]);
    assert_eq!(code, Some(0), "{stderr}");

    write_temp(
        &dir,
        "child.yaml",
        &format!("{child}# edited after review\n"),
    );
    let (code, stderr) = run_pinned(&parent, &pins, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the runbook changed"), "{stderr}");
}
