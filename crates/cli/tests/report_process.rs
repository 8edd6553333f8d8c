#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `runbook report`, as a process, on what `runbook run --output json` printed: the Markdown
//! and the JUnit XML of a run that succeeded and of one that failed (snapshots, with ids,
//! times and durations blanked), the JUnit read back by an XML parser, no secret in either,
//! the 1 MiB bound of the Markdown, and a clear refusal of a file that is not a run; a run
//! recorded in a run store, reported by its id, with the journal's polls and node actions on
//! the HTML timeline (tests/browser/report.sh renders it in Chromium).

mod support;

use std::process::Output;

use support::{runbook, sandbox_run, workspace, write_temp};

/// Runs `file` on the sandbox and returns the JSON it printed (`--output json`).
fn run_json(file: &str, args: &[&str]) -> String {
    String::from_utf8(sandbox_run(file, args).stdout).unwrap()
}

fn report(dir: &tempfile::TempDir, json: &str, format: &str) -> Output {
    let path = write_temp(dir, "run.json", json);
    runbook()
        .args(["report", &path, "--format", format])
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Ids, timestamps and durations blanked, so a snapshot holds only what the run decided.
fn blanked(text: &str) -> String {
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\dT[0-9:.]+Z").unwrap();
    let seconds = regex::Regex::new(r#"(\d+\.\d s|time="[0-9.]+")"#).unwrap();
    let text = uuid.replace_all(text, "<id>");
    let text = stamp.replace_all(&text, "<time>");
    seconds.replace_all(&text, "<took>").into_owned()
}

fn canonical() -> String {
    workspace()
        .join("runbooks/canonical.yaml")
        .display()
        .to_string()
}

#[test]
fn a_run_that_succeeded_and_one_that_failed_in_markdown_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let ok = run_json(&canonical(), &[]);
    let failed = run_json(
        &canonical(),
        &["-i", "workflow=wf-broken", "-i", "optional_nodes=[]"],
    );
    for (name, json) in [("succeeded", &ok), ("failed", &failed)] {
        let markdown = stdout(&report(&dir, json, "md"));
        insta::assert_snapshot!(format!("{name}_md"), blanked(&markdown));
        let junit = stdout(&report(&dir, json, "junit"));
        insta::assert_snapshot!(format!("{name}_junit"), blanked(&junit));
    }
}

#[test]
fn the_junit_report_reads_back_as_one_test_case_per_step_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let json = run_json(
        &canonical(),
        &["-i", "workflow=wf-broken", "-i", "optional_nodes=[]"],
    );
    // In the run's order: a `Value` map would sort the steps by name.
    #[derive(serde::Deserialize)]
    struct Printed {
        run: Run,
    }
    #[derive(serde::Deserialize)]
    struct Run {
        steps: indexmap::IndexMap<String, serde_json::Value>,
    }
    let printed: Printed = serde_json::from_str(&json).unwrap();
    let steps: Vec<(&String, &serde_json::Value)> = printed.run.steps.iter().collect();
    let junit = stdout(&report(&dir, &json, "junit"));
    let document = roxmltree::Document::parse(&junit).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("nightly-deploy"));
    let cases: Vec<roxmltree::Node> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), steps.len());
    let failed = steps
        .iter()
        .filter(|(_, s)| s["status"] == "failed")
        .count();
    assert!(failed > 0);
    assert_eq!(
        suite.attribute("failures"),
        Some(failed.to_string().as_str())
    );
    for (case, (id, step)) in cases.iter().zip(&steps) {
        assert_eq!(case.attribute("name"), Some(id.as_str()));
        let failure = case.children().find(|n| n.has_tag_name("failure"));
        assert_eq!(failure.is_some(), step["status"] == "failed", "{id}");
        if let Some(failure) = failure {
            assert_eq!(failure.attribute("message"), step["error"].as_str(), "{id}");
        }
    }
}

#[test]
fn no_secret_reaches_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "hunter2-very-secret";
    let book = write_temp(
        &dir,
        "secret.yaml",
        r#"version: 1
name: secret-report
inputs:
  token: {type: string, secret: true}
steps:
  - id: use
    set: {header: "Bearer {{ inputs.token }}"}
  - id: leak
    fail: "token was {{ inputs.token | upper }} / {{ vars.header }}"
outputs:
  header: "{{ vars.header }}"
"#,
    );
    let json = run_json(&book, &["-i", &format!("token={secret}")]);
    assert!(json.contains("secret-report"), "{json}");
    let state_dir = dir.path().join("state").display().to_string();
    let recorded = run_json(
        &book,
        &["-i", &format!("token={secret}"), "--state-dir", &state_dir],
    );
    let run_id = run_id_of(&recorded);
    for format in ["md", "html", "junit"] {
        let from_file = String::from_utf8(report(&dir, &json, format).stdout).unwrap();
        let by_id = stdout(&report_by_id(&run_id, &state_dir, format));
        for text in [from_file, by_id] {
            assert!(text.contains("leak"), "{format}: {text}");
            assert!(!text.contains(secret), "{format}: {text}");
            assert!(!text.contains(&secret.to_uppercase()), "{format}: {text}");
        }
    }
}

fn run_id_of(json: &str) -> String {
    let printed: serde_json::Value = serde_json::from_str(json).unwrap();
    printed["run"]["run_id"].as_str().unwrap().to_owned()
}

fn report_by_id(run_id: &str, state_dir: &str, format: &str) -> Output {
    runbook()
        .args([
            "report",
            run_id,
            "--state-dir",
            state_dir,
            "--format",
            format,
        ])
        .output()
        .unwrap()
}

#[test]
fn a_recorded_run_by_its_id_puts_the_journals_polls_and_node_actions_on_a_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state").display().to_string();
    let json = run_json(&canonical(), &["--state-dir", &state_dir]);
    let printed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let run_id = run_id_of(&json);
    // A unique prefix names the run too.
    let html = stdout(&report_by_id(&run_id[..13], &state_dir, "html"));

    let steps = printed["run"]["steps"].as_object().unwrap();
    assert_eq!(
        html.matches("class=\"row\" data-step=").count(),
        steps.len()
    );
    let polls: u64 = steps.values().map(|s| s["polls"].as_u64().unwrap()).sum();
    assert!(polls > 0);
    assert_eq!(
        html.matches("class=\"mark poll\"").count() as u64,
        polls,
        "{html}"
    );
    assert!(html.contains("class=\"mark node_action\""), "{html}");
    // Self-contained: the policy forbids what is not inline, and nothing asks for it.
    assert!(html.contains("Content-Security-Policy"), "{html}");
    for outside in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "{outside} in {html}");
    }
    // The same run from the file it printed has no journal: its bars, and a note why no marks.
    let from_file = stdout(&report(&dir, &json, "html"));
    assert_eq!(from_file.matches("class=\"row\"").count(), steps.len());
    assert!(!from_file.contains("class=\"mark"), "{from_file}");
    assert!(from_file.contains("runbook report RUN_ID"), "{from_file}");
    // The Markdown and JUnit of the recorded run are those of its printed state.
    for format in ["md", "junit"] {
        let recorded = stdout(&report_by_id(&run_id, &state_dir, format));
        let printed = stdout(&report(&dir, &json, format));
        assert_eq!(blanked(&recorded), blanked(&printed), "{format}");
    }
}

#[test]
fn a_run_id_not_in_the_store_is_refused_with_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state").display().to_string();
    run_json(&canonical(), &["--state-dir", &state_dir]);
    let out = report_by_id("no-such-run", &state_dir, "html");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no run `no-such-run`"), "{stderr}");
    assert!(stderr.contains("runbook runs list"), "{stderr}");
}

#[test]
fn the_markdown_stays_under_a_mebibyte_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let steps: serde_json::Map<String, serde_json::Value> = (0..20_000)
        .map(|i| {
            (
                format!("step_{i}"),
                serde_json::json!({"status": "failed", "attempts": 1, "polls": 0,
                                   "error": "x".repeat(2_000)}),
            )
        })
        .collect();
    let state = serde_json::json!({
        "run_id": "r", "runbook": "huge", "started_at": "2026-12-03T00:00:00Z",
        "status": "failed", "inputs": {}, "vars": {}, "steps": steps,
        "executions": [], "outputs": {}
    });
    let markdown = stdout(&report(&dir, &state.to_string(), "md"));
    assert!(markdown.len() < 1024 * 1024, "{} bytes", markdown.len());
    assert!(
        markdown.contains("more steps left out"),
        "{}",
        &markdown[markdown.len() - 200..]
    );
}

#[test]
fn a_file_that_is_not_a_run_is_refused_with_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let out = report(&dir, r#"{"status": "ok"}"#, "md");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("not a run's JSON"), "{stderr}");
    assert!(stderr.contains("--output json"), "{stderr}");
}
