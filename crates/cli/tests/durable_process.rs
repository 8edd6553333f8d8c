#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The run store, with the `runbook` binary as processes: overlapping runs of one runbook
//! (cron firing twice) under `skip` and `wait`, and the history (`runbook runs …`).

mod support;

use std::process::{Child, Output, Stdio};

use serde_json::Value;
use support::{runbook, write_temp, Served};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A project whose `deploy` workflow takes `duration` (real time).
fn scenario(dir: &tempfile::TempDir, duration: &str) -> String {
    write_temp(
        dir,
        "scenario.yaml",
        &format!(
            "projects:\n  - id: {PROJECT}\n    credentials:\n      - {{ak: LOCKTESTAK0000000001, sk: lock-test-secret-key}}\n    aom_workflows:\n      - id: deploy\n        nodes: [{{id: only, behaviour: succeed, duration: {duration}}}]\n"
        ),
    )
}

fn deploy_runbook(dir: &tempfile::TempDir, policy: &str) -> String {
    write_temp(
        dir,
        &format!("deploy-{policy}.yaml"),
        &format!(
            "version: 1\nname: nightly\ntimeout: 2m\nlock: {{policy: {policy}}}\nsteps:\n  - id: start\n    aom.start: {{workflow_id: deploy}}\n  - id: wait\n    aom.wait:\n      workflow_id: deploy\n      execution_id: \"{{{{ steps.start.execution_id }}}}\"\n      poll: {{min: 200ms, max: 500ms}}\n"
        ),
    )
}

fn spawn_run(served: &Served, file: &str, state: &str) -> Child {
    served
        .run_command(
            file,
            ("LOCKTESTAK0000000001", "lock-test-secret-key"),
            PROJECT,
        )
        .args(["--state-dir", state])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn five_at_once(served: &Served, file: &str, state: &str) -> Vec<Output> {
    let children: Vec<Child> = (0..5).map(|_| spawn_run(served, file, state)).collect();
    children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect()
}

fn runs(state: &str, args: &[&str]) -> Output {
    runbook()
        .args(["runs", "--state-dir", state])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn of_five_overlapping_runs_one_runs_and_four_exit_75() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that every other process starts while the first still runs, even on a
    // loaded machine.
    let served = Served::start(&scenario(&dir, "6s"));
    let state = dir.path().join("state").display().to_string();
    let file = deploy_runbook(&dir, "skip");

    let outputs = five_at_once(&served, &file, &state);

    let codes: Vec<i32> = outputs.iter().map(|o| o.status.code().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 75).count(), 4, "{codes:?}");
    let winner: Value = outputs
        .iter()
        .find(|o| o.status.code() == Some(0))
        .map(|o| serde_json::from_slice(&o.stdout).unwrap())
        .unwrap();
    let winner_id = winner["run"]["run_id"].as_str().unwrap();
    for skipped in outputs.iter().filter(|o| o.status.code() == Some(75)) {
        let stderr = String::from_utf8_lossy(&skipped.stderr);
        assert!(stderr.contains("skipped: lock `nightly@"), "{stderr}");
        let summary: Value = serde_json::from_slice(&skipped.stdout).unwrap();
        assert_eq!(summary["exit_code"], 75);
        assert_eq!(
            summary["skipped"]["holder"]["run_id"], winner_id,
            "{summary}"
        );
    }
    assert_eq!(
        served.inspect("executions")["aom"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the deploy started once"
    );

    // The history has the one run, and shows and replays it.
    let listed = runs(&state, &["list", "--output", "json"]);
    assert_eq!(listed.status.code(), Some(0));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["run_id"], winner_id);
    assert_eq!(listed[0]["status"], "succeeded");
    assert_eq!(listed[0]["exit_code"], 0);
    assert!(listed[0]["runbook_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    let shown = runs(&state, &["show", &winner_id[..13], "--output", "json"]);
    assert_eq!(shown.status.code(), Some(0), "{shown:?}");
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["state"]["steps"]["wait"]["status"], "succeeded");
    assert_eq!(
        shown["state"]["executions"][0]["workflow_id"], "deploy",
        "{shown}"
    );
    let text = runs(&state, &["show", winner_id]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("nightly: succeeded"), "{text}");

    let logs = runs(&state, &["logs", winner_id, "--log-format", "json"]);
    let logs = String::from_utf8(logs.stdout).unwrap();
    let entries: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let intent = kinds.iter().position(|k| *k == "intent").unwrap();
    let started = kinds
        .iter()
        .position(|k| *k == "execution_started")
        .unwrap();
    assert!(
        intent < started,
        "the intent is journaled before the start: {kinds:?}"
    );
    assert!(entries
        .iter()
        .all(|e| e["version"] == 2 && e["run_id"] == winner_id));
    assert_eq!(kinds.last(), Some(&"final_state"));
    // Each event the run logged is its journal entry, time stamp and all (one text serves both).
    let winner_log = outputs
        .iter()
        .find(|o| o.status.code() == Some(0))
        .map(|o| String::from_utf8(o.stderr.clone()).unwrap())
        .unwrap();
    let logged: Vec<Value> = winner_log
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["event"] != "note")
        .collect();
    assert!(logged.len() > 5, "{winner_log}");
    for event in &logged {
        assert!(entries.contains(event), "not journaled as logged: {event}");
    }
    let plain = runs(&state, &["logs", winner_id]);
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(plain.contains("start start (aom.start)"), "{plain}");
    assert!(plain.contains("sending aom ExecuteWorkflow"), "{plain}");
}

#[test]
fn with_policy_wait_five_overlapping_runs_finish_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&scenario(&dir, "1500ms"));
    let state = dir.path().join("state").display().to_string();
    let file = deploy_runbook(&dir, "wait");

    let outputs = five_at_once(&served, &file, &state);

    for output in &outputs {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(
        served.inspect("executions")["aom"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "each run started the deploy once"
    );
    // One after another: no two runs overlap in time.
    let listed = runs(&state, &["list", "--output", "json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut spans: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                run["started_at"].as_str().unwrap().to_owned(),
                run["finished_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(spans.len(), 5);
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs overlapped: {spans:?}");
    }

    let pruned = runs(&state, &["prune", "--older-than", "1h"]);
    assert_eq!(pruned.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&pruned.stdout).contains("pruned 0 run(s)"));
    let pruned = runs(&state, &["prune", "--older-than", "0s"]);
    assert!(String::from_utf8_lossy(&pruned.stdout).contains("pruned 5 run(s)"));
}

#[test]
fn a_sandbox_run_takes_no_lock_and_writes_no_journal_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let output = runbook()
        .args(["run", "runbooks/aom-execute.yaml", "--sandbox"])
        .env("RUNBOOK_STATE_DIR", &state)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(!state.exists(), "no store was created");
    let output = runbook()
        .args([
            "run",
            "runbooks/aom-execute.yaml",
            "--sandbox",
            "--state-dir",
        ])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let listed = runs(&state.display().to_string(), &["list"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("succeeded") && listed.contains("aom-execute"),
        "{listed}"
    );
}

#[cfg(unix)]
#[test]
fn the_lock_of_a_killed_run_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_temp(
        &dir,
        "slow.yaml",
        &format!(
            "projects:\n  - id: {PROJECT}\n    credentials:\n      - {{ak: LOCKTESTAK0000000001, sk: lock-test-secret-key}}\n    aom_workflows:\n      - id: deploy\n        nodes: [{{id: only, behaviour: succeed, duration: 10m}}]\n"
        ),
    );
    let served = Served::start(&scenario);
    let state = dir.path().join("state").display().to_string();
    let file = deploy_runbook(&dir, "skip");
    let mut first = spawn_run(&served, &file, &state);
    // Wait until the first run holds the lock and is polling.
    let mut running = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let listed = runs(&state, &["list", "--status", "running", "--output", "json"]);
        if listed.status.code() == Some(0) {
            let listed: Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
            if listed.as_array().is_some_and(|runs| runs.len() == 1) {
                running = true;
                break;
            }
        }
    }
    assert!(running, "the first run never started");
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = spawn_run(&served, &file, &state);
    // The second run takes the lock (no exit 75) and says whose; it would then wait ten
    // minutes, so it is stopped once it has said so.
    let mut stderr = std::io::BufReader::new(second.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(read > 0, "the second run ended early: {seen}");
        seen.push_str(&line);
        if line.contains("is gone; taking its lock") {
            break;
        }
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &second.id().to_string()])
        .status();
    let output = second.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{seen}");
}

/// `runbook runs show` reads back the state the run ended with, result for result: results
/// the journal's checkpoints already hold are not written again at the end, and reading
/// folds them back in. The runbook takes every way a step's result is recorded: a step run
/// again by `goto` (each pass a new result), a failure `continue` passes over, a skipped step,
/// a `for_each`, a `finally` step, a step a branch jumps past.
#[test]
fn runs_show_reads_back_the_state_the_run_ended_with() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").display().to_string();
    let file = write_temp(
        &dir,
        "every-result.yaml",
        r#"
version: 1
name: every-result
steps:
  - id: echo
    functiongraph.run_sync: {workflow_id: fg-echo, input: {n: 1}}
  - id: count
    set: {n: "{{ (vars.n | default(0)) + 1 }}"}
  - id: enough
    assert: {that: "vars.n >= 3", message: not yet}
    on_failure: {goto: count, max: 5}
  - id: broken
    functiongraph.run_sync: {workflow_id: fg-fail}
    on_failure: continue
  - id: never
    when: "false"
    log: never
  - id: each
    for_each: [a, b, c]
    set: {last: "{{ item }}"}
  - id: jump
    branch:
      - goto: last
  - id: jumped_over
    log: not reached
  - id: last
    call:
      operation: SearchWorkflowExecutionDetail
      params: {workflow_id: wf-success, execution_id: "{{ steps.echo.execution_id | default('none') }}"}
    on_failure: continue
finally:
  - id: tidy
    set: {tidied: "{{ vars.n }}"}
"#,
    );
    let run = support::run_in_sandbox(&file, &["--state-dir", &state]);
    assert_eq!(run.step_status("count"), "succeeded", "{}", run.stderr);
    assert_eq!(run.step_status("broken"), "failed", "{}", run.stderr);
    assert_eq!(run.step_status("never"), "skipped");
    assert_eq!(run.step_status("jumped_over"), "skipped");
    assert_eq!(run.run()["steps"]["count"]["result"]["n"], 3);
    let run_id = run.run()["run_id"].as_str().unwrap();

    let shown = runs(&state, &["show", run_id, "--output", "json"]);
    assert_eq!(shown.status.code(), Some(0), "{shown:?}");
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(
        run.run()["steps"]["echo"]["result"].is_object(),
        "{}",
        run.stdout
    );
    assert_eq!(&shown["state"], run.run());

    // The journal's final state left out what the checkpoints hold.
    let logs = runs(&state, &["logs", run_id, "--log-format", "json"]);
    let final_state: Value = String::from_utf8(logs.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|entry| entry["event"] == "final_state")
        .unwrap();
    let folded: Vec<&str> = final_state["results_in_checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    for step in ["echo", "count", "enough", "broken", "each", "jump", "tidy"] {
        assert!(folded.contains(&step), "{step} in {folded:?}");
        assert!(
            final_state["state"]["steps"][step].get("result").is_none(),
            "{step}: {final_state}"
        );
    }
}

/// Under `--log-format json` with a store, the journal's writer prints the log: the log holds
/// exactly the journal's events in the journal's order, and a note (here the signal's, written
/// while events are still on their way to the writer) sits where it happened, so the whole
/// log is in time order.
#[cfg(unix)]
#[test]
fn the_json_log_is_the_journal_in_order_with_its_notes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").to_str().unwrap().to_owned();
    let file = write_temp(&dir, "spin.yaml", support::SPIN_RUNBOOK);
    // A served sandbox, not `--sandbox`: its simulated clock would stamp every line alike.
    let served = Served::start(&scenario(&dir, "1s"));
    let child = spawn_run(&served, &file, &state);
    let (code, summary, lines) = support::signal_when(
        child,
        "INT",
        |line| line["event"] == "log",
        || std::thread::sleep(std::time::Duration::from_millis(300)),
    );
    assert_eq!(code, 130, "{summary:#}");

    let note = lines
        .iter()
        .position(|line| {
            line["event"] == "note"
                && line["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("cancelling"))
        })
        .unwrap();
    let at: Vec<(String, u32)> = lines
        .iter()
        .map(|line| time_of(line["ts"].as_str().unwrap()))
        .collect();
    if let Some(first) = at.windows(2).position(|pair| pair[0] > pair[1]) {
        panic!(
            "line {} is older than the one before it (the note is line {note}): {:#?}",
            first + 1,
            &lines[first.saturating_sub(3)..(first + 4).min(lines.len())]
        );
    }

    let run_id = summary["run"]["run_id"].as_str().unwrap();
    let journal: Vec<Value> =
        String::from_utf8(runs(&state, &["logs", run_id, "--log-format", "json"]).stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .filter(|entry: &Value| {
                !["intent", "checkpoint", "block_checkpoint", "final_state"]
                    .contains(&entry["event"].as_str().unwrap())
            })
            .collect();
    let events: Vec<&Value> = lines
        .iter()
        .filter(|line| line["event"] != "note")
        .collect();
    assert_eq!(events.len(), journal.len());
    assert!(events
        .iter()
        .zip(&journal)
        .all(|(logged, kept)| *logged == kept));
}

/// An RFC 3339 time as (up to the second, nanoseconds), which compare in time order whatever
/// the number of fraction digits.
fn time_of(ts: &str) -> (String, u32) {
    let ts = ts.trim_end_matches('Z');
    let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, "0"));
    let nanos = format!("{fraction:0<9}").parse().unwrap();
    (seconds.to_owned(), nanos)
}

/// With a store, plain lines are printed by the journal's writer too: the log is the one a run
/// without a store prints, line for line, but for the sandbox's port and the run's id.
#[test]
fn a_plain_log_with_a_store_is_the_one_without() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").to_str().unwrap().to_owned();
    let log = |store: &[&str]| -> Vec<String> {
        let output = runbook()
            .args(["run", "runbooks/aom-execute.yaml", "--sandbox"])
            .args(["--log-format", "plain"])
            .args(store)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        // Each line without its time; the first two name the port and the run id.
        String::from_utf8(output.stderr)
            .unwrap()
            .lines()
            .map(|line| {
                line.split_once(' ')
                    .map_or(line, |(_, rest)| rest)
                    .to_owned()
            })
            .collect()
    };
    let without = log(&[]);
    let with = log(&["--state-dir", &state]);
    assert_eq!(with.len(), without.len(), "{with:#?}");
    assert!(with[0].starts_with("target: sandbox at") && with[1].starts_with("run "));
    assert_eq!(with[2..], without[2..]);
    assert!(
        with.iter().any(|line| line == "ok    wait succeeded in 4s"),
        "{with:#?}"
    );
    let listed = runs(&state, &["list"]);
    assert!(String::from_utf8(listed.stdout)
        .unwrap()
        .contains("aom-execute"));
}
