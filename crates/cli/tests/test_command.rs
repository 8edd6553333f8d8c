#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `runbook test` as a process: the repository's example tests pass, a wrong expectation
//! fails at its `line:col` with the step and the difference, a malformed test file or a
//! scripted answer the API could not give is refused with its place, and the JUnit report
//! holds every test.

mod support;

use std::process::Output;

use support::{runbook, workspace, write_temp};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The canonical runbook, by absolute path, for a test file written to a temporary folder.
fn canonical() -> String {
    workspace()
        .join("runbooks/canonical.yaml")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// 1-based line and column of the first `needle` in `text`.
fn place(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[test]
fn the_example_tests_pass() {
    let output = runbook().args(["test", "runbooks/"]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let passed = text
        .lines()
        .filter(|l| l.trim_start().starts_with("PASS"))
        .count();
    assert!(passed >= 10, "{text}");
    assert!(
        text.ends_with(&format!("{passed} passed, 0 failed\n")),
        "{text}"
    );
}

#[test]
fn a_wrong_expectation_fails_at_its_place_with_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "test: wrong on purpose\nrunbook: {}\nexpect:\n  status: succeeded\n  steps:\n    deploy: failed\n    watch: succeeded\n  calls:\n    ExecuteWorkflow: 2\n  requests:\n    - {{operation: ExecuteWorkflow, params: {{workflow_id: wf-flaky}}}}\n    - {{operation: StartPausingWorkflowExecutions, params: {{action: skip}}}}\n  results:\n    smoke: {{status: fail}}\n",
        canonical()
    );
    let file = write_temp(&dir, "wrong.test.yaml", &body);
    let output = runbook().args(["test", &file]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL"), "{text}");
    let (line, col) = place(&body, "failed");
    assert!(
        text.contains(&format!(
            "{file}:{line}:{col}: step `deploy`: want `failed`, got `succeeded`"
        )),
        "{text}"
    );
    let (line, col) = place(&body, "2\n");
    assert!(
        text.contains(&format!(
            "{file}:{line}:{col}: ExecuteWorkflow: want 2 request(s), got 1"
        )),
        "{text}"
    );
    let (line, col) = place(&body, "{operation: StartPausing");
    assert!(
        text.contains(&format!(
            "{file}:{line}:{col}: no StartPausingWorkflowExecutions request with {{\"action\":\"skip\"}} after the 1 expected before it; the requests sent: StartWorkflowExecution, ExecuteWorkflow, SearchWorkflowExecutionDetail ×2, StartPausingWorkflowExecutions,"
        )),
        "{text}"
    );
    let (line, col) = place(&body, "{status: fail}");
    assert!(
        text.contains(&format!(
            "{file}:{line}:{col}: step `smoke`'s result: want at least {{\"status\":\"fail\"}}, got {{"
        )),
        "{text}"
    );
    assert!(text.ends_with("0 passed, 1 failed\n"), "{text}");
}

#[test]
fn the_scenario_and_inputs_of_a_test_are_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    // An inline scenario where the deploy's only node always fails, and an input that makes
    // no node optional: the run gives up after two restarts.
    let body = format!(
        "test: inline scenario\nrunbook: {}\ninputs: {{workflow: wf-doomed, optional_nodes: []}}\nscenario:\n  projects:\n    - id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9\n      credentials: [{{ak: TESTAK00000000000001, sk: test-secret-key-0001}}]\n      aom_workflows:\n        - id: wf-doomed\n          nodes: [{{id: only, behaviour: fail, duration: 1s}}]\n      functiongraph_workflows:\n        - id: fg-callback\n          kind:\n            type: standard\n            states: [{{id: await-approval, kind: callback}}]\n        - id: fg-echo\n          kind: {{type: express, outcome: echo, duration: 1s}}\nexpect:\n  status: failed\n  exit_code: 1\n  steps: {{watch: failed, give_up: failed, report: succeeded}}\n  calls: {{ExecuteWorkflow: 1, StartPausingWorkflowExecutions: 2}}\n",
        canonical()
    );
    let file = write_temp(&dir, "inline.test.yaml", &body);
    let output = runbook().args(["test", &file]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");
}

#[test]
fn a_malformed_test_file_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "test: bad status\nrunbook: {}\nexpect:\n  status: done\n",
        canonical()
    );
    let file = write_temp(&dir, "bad.test.yaml", &body);
    let output = runbook().args(["test", &file]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let (line, _) = place(&body, "done");
    assert!(text.contains(&format!("{file}:{line}:")), "{text}");
    assert!(text.contains("unknown variant `done`"), "{text}");

    let unknown_key = write_temp(
        &dir,
        "key.test.yaml",
        &format!(
            "test: t\nrunbook: {}\nexpect: {{}}\nexpected: {{}}\n",
            canonical()
        ),
    );
    let output = runbook().args(["test", &unknown_key]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("unknown field `expected`"), "{text}");

    let validated = runbook().args(["validate", &file]).output().unwrap();
    assert_eq!(validated.status.code(), Some(2));
}

#[test]
fn run_refuses_a_test_file() {
    let output = runbook()
        .args(["run", "runbooks/tests/canonical.test.yaml", "--sandbox"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is a test file"), "{stderr}");
    assert!(stderr.contains("runbook test"), "{stderr}");
}

#[test]
fn junit_holds_every_test_and_its_failures() {
    let dir = tempfile::tempdir().unwrap();
    write_temp(
        &dir,
        "a-pass.test.yaml",
        &format!(
            "test: passes\nrunbook: {}\nexpect: {{status: succeeded}}\n",
            canonical()
        ),
    );
    write_temp(
        &dir,
        "b-fail.test.yaml",
        &format!(
            "test: fails\nrunbook: {}\nexpect: {{status: timed_out}}\n",
            canonical()
        ),
    );
    let junit = dir.path().join("junit.xml");
    let output = runbook()
        .args(["test", &dir.path().display().to_string(), "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let document = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = document
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(names, ["passes", "fails"]);
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("run status: want `timed_out`, got `succeeded`"),
        "{xml}"
    );
    assert!(!cases[0].children().any(|n| n.has_tag_name("failure")));
}

/// A test whose scripted status read answers `status` (and `execution_result_list`).
fn scripted(status: &str, results: &str) -> String {
    format!(
        "test: scripted\nrunbook: {}\nscenario:\n  projects:\n    - id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9\n      credentials: [{{ak: TESTAK00000000000001, sk: test-secret-key-0001}}]\n      aom_workflows:\n        - id: wf-success\n          nodes: [{{id: only, behaviour: succeed, duration: 1s}}]\n  script:\n    SearchWorkflowExecutionDetail:\n      - call: 1\n        body: {{execution_id: x, workflow_id: wf-success, status: {status}, execution_result_list: {results}}}\nexpect:\n  steps: {{wait: failed}}\n",
        workspace()
            .join("runbooks/aom-execute.yaml")
            .canonicalize()
            .unwrap()
            .display()
    )
}

#[test]
fn a_scripted_answer_the_api_could_not_give_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_temp(&dir, "good.test.yaml", &scripted("fail", "[]"));
    let output = runbook().args(["test", &good]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    let body = scripted("done", "[]");
    let file = write_temp(&dir, "status.test.yaml", &body);
    let output = runbook().args(["test", &file]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let (line, col) = place(&body, "done");
    assert!(
        text.contains(&format!("{file}:{line}:{col}: scenario: script.SearchWorkflowExecutionDetail[0].body.status: not an answer SearchWorkflowExecutionDetail could give: \"done\" is not one of \"success\", \"fail\"")),
        "{text}"
    );

    let body = scripted("fail", "7");
    let file = write_temp(&dir, "type.test.yaml", &body);
    let output = runbook().args(["test", &file]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let (line, col) = place(&body, "7}");
    assert!(
        text.contains(&format!("{file}:{line}:{col}: scenario: script.SearchWorkflowExecutionDetail[0].body.execution_result_list: ")),
        "{text}"
    );
    let validated = runbook().args(["validate", &file]).output().unwrap();
    assert_eq!(validated.status.code(), Some(2));
}

/// Runs `book` in the sandbox with its run recorded in `state`; the run's id.
fn record(book: &str, state: &str) -> String {
    let ran = runbook()
        .args(["run", book, "--sandbox", "--state-dir", state])
        .output()
        .unwrap();
    assert_eq!(ran.status.code(), Some(0), "{ran:?}");
    let listed = runbook()
        .args(["runs", "list", "--output", "json", "--state-dir", state])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    listed[0]["run_id"].as_str().unwrap().to_owned()
}

/// Records a run of `book` in `state`, then writes the test that replays it to `replay`,
/// naming the run by the first `prefix` characters of its id.
fn record_and_write_replay(book: &str, state: &str, replay: &std::path::Path, prefix: usize) {
    let run_id = record(book, state);
    let written = runbook()
        .args([
            "test",
            "--from-run",
            &run_id[..prefix],
            "--state-dir",
            state,
            "-o",
        ])
        .arg(replay)
        .output()
        .unwrap();
    assert_eq!(written.status.code(), Some(0), "{written:?}");
}

/// `--from-run`: a recorded run becomes a test that passes against the runbook as it was and
/// fails once the runbook's logic changes what the run does with the same answers.
#[test]
fn a_recorded_run_replays_as_a_test_until_the_runbook_changes() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("nightly.yaml");
    std::fs::copy(workspace().join("runbooks/canonical.yaml"), &book).unwrap();
    let state = dir.path().join("state").display().to_string();
    let replay = dir.path().join("nightly.test.yaml");
    record_and_write_replay(&book.display().to_string(), &state, &replay, 13);
    let text = std::fs::read_to_string(&replay).unwrap();
    assert!(text.contains("StartPausingWorkflowExecutions"), "{text}");
    assert!(!text.contains("sandbox-secret-key"), "{text}");

    let passed = runbook().args(["test"]).arg(&replay).output().unwrap();
    assert_eq!(passed.status.code(), Some(0), "{}", stdout(&passed));

    let changed = std::fs::read_to_string(&book).unwrap().replace(
        "when: steps.smoke.status == 'success'",
        "when: steps.smoke.status == 'fail'",
    );
    std::fs::write(&book, changed).unwrap();
    let failed = runbook().args(["test"]).arg(&replay).output().unwrap();
    let text = stdout(&failed);
    assert_eq!(failed.status.code(), Some(1), "{text}");
    assert!(
        text.contains("step `healthy`: want `succeeded`, got `skipped`"),
        "{text}"
    );

    let unknown = runbook()
        .args(["test", "--from-run", "no-such-run", "--state-dir", &state])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

/// A run with a block or a sub-runbook is recorded, but not replayed: the answers of their
/// steps are not put in order yet, and `--from-run` says so rather than write a test that
/// cannot pass.
#[test]
fn a_recorded_run_with_a_block_or_a_sub_runbook_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("child.yaml"),
        "version: 1\nname: child\ntimeout: 10m\nsteps:\n  - id: deploy\n    aom.run: {workflow_id: wf-success}\n",
    )
    .unwrap();
    let cases = [
        (
            "grouped",
            "  - id: group\n    do:\n      - id: deploy\n        aom.run: {workflow_id: wf-success}\n",
            "step `group` is a block",
        ),
        (
            "parent",
            "  - id: call\n    runbook: {path: child.yaml}\n",
            "step `call` runs a sub-runbook",
        ),
    ];
    for (name, steps, refusal) in cases {
        let book = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &book,
            format!("version: 1\nname: {name}\ntimeout: 10m\nsteps:\n{steps}"),
        )
        .unwrap();
        let state = dir
            .path()
            .join(format!("state-{name}"))
            .display()
            .to_string();
        let run_id = record(&book.display().to_string(), &state);
        let refused = runbook()
            .args(["test", "--from-run", &run_id, "--state-dir", &state])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{said}");
        assert!(said.contains(refusal), "{said}");
    }
}

/// A run that acted in another project through a step's templated `target` replays with that
/// project in its scenario, found in the journal's record of where the start went.
#[test]
fn a_recorded_run_in_two_projects_replays_with_both() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("elsewhere.yaml");
    std::fs::write(
        &book,
        "version: 1\nname: elsewhere\ntimeout: 10m\ninputs:\n  project: {type: string, default: ffffffffffffffffffffffffffffffff}\nsteps:\n  - id: deploy\n    target: {project_id: \"{{ inputs.project }}\"}\n    aom.run: {workflow_id: wf-other}\n",
    )
    .unwrap();
    let state = dir.path().join("state").display().to_string();
    let replay = dir.path().join("elsewhere.test.yaml");
    record_and_write_replay(&book.display().to_string(), &state, &replay, 36);
    let text = std::fs::read_to_string(&replay).unwrap();
    assert!(
        text.contains("id: ffffffffffffffffffffffffffffffff"),
        "{text}"
    );
    let passed = runbook().args(["test"]).arg(&replay).output().unwrap();
    assert_eq!(passed.status.code(), Some(0), "{}", stdout(&passed));
}
