#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `runbook` binary runs the example runbooks against its in-process sandbox (simulated
//! time), and each outcome the language promises shows in the exit code, the JSON-lines log
//! and the JSON summary.

mod support;

use serde_json::json;
use support::{run_in_sandbox, runbook, workspace, write_temp, Served};

#[test]
fn every_example_succeeds_against_the_default_scenario() {
    let mut examples: Vec<String> = std::fs::read_dir(workspace().join("runbooks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| format!("runbooks/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    examples.sort();
    assert!(examples.len() >= 6, "{examples:?}");
    for example in examples {
        // A sub-runbook run alone is given the input its parent would give.
        let inputs: &[&str] = match example.as_str() {
            "runbooks/patch-host.yaml" => &["-i", "host=web-1"],
            _ => &[],
        };
        let run = run_in_sandbox(&example, inputs);
        assert_eq!(run.code, 0, "{example}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(run.run()["status"], "succeeded", "{example}");
        assert_eq!(run.summary["exit_code"], 0);
        let finished = run.events_of("run_finished");
        assert_eq!(finished.len(), 1, "{example}");
        assert_eq!(finished[0]["status"], "succeeded");
    }
}

#[test]
fn a_failed_node_is_restarted_and_the_run_succeeds() {
    let run = run_in_sandbox("runbooks/canonical.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.node_actions("restart"), vec!["migrate"]);
    assert_eq!(
        run.run()["outputs"]["node_actions"],
        json!([{"node": "migrate", "action": "restart"}])
    );
    assert_eq!(run.step_status("report"), "succeeded");
    assert_eq!(run.step_status("give_up"), "skipped");
    // One poll event per poll, each with a status and the elapsed time.
    let polls = run.events_of("poll");
    assert!(polls.iter().any(|p| p["status"] == "fail"), "{polls:?}");
    assert!(polls.iter().all(|p| p["elapsed_ms"].is_u64()));
}

#[test]
fn exhausted_restarts_are_routed_by_on_failure() {
    let run = run_in_sandbox(
        "runbooks/canonical.yaml",
        &["-i", "workflow=wf-broken", "-i", "optional_nodes=[]"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.node_actions("restart"),
        vec!["optional-cleanup", "optional-cleanup"]
    );
    assert_eq!(run.step_status("watch"), "failed");
    assert_eq!(run.step_status("smoke"), "pending");
    assert_eq!(run.step_status("give_up"), "failed");
    assert_eq!(run.step_status("report"), "succeeded");
    let error = run.run()["error"].as_str().unwrap();
    assert!(error.contains("after 2 restart(s)"), "{error}");
    // The started executions are in the state, for a resumed run to re-attach to.
    let executions = run.run()["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 2);
}

#[test]
fn an_optional_node_is_skipped() {
    let run = run_in_sandbox("runbooks/canonical.yaml", &["-i", "workflow=wf-broken"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.node_actions("skip"), vec!["optional-cleanup"]);
    assert!(run.node_actions("restart").is_empty());
}

#[test]
fn a_pause_is_continued_only_when_its_condition_holds() {
    let approved = run_in_sandbox(
        "runbooks/canonical.yaml",
        &["-i", "workflow=wf-pause", "-i", "approve=true"],
    );
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    assert_eq!(approved.node_actions("continue"), vec!["gate"]);

    let refused = run_in_sandbox(
        "runbooks/canonical.yaml",
        &["-i", "workflow=wf-pause", "-i", "approve=false"],
    );
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.node_actions("continue").is_empty());
    assert_eq!(refused.step_status("watch"), "timed_out");
    let watch_error = refused.run()["steps"]["watch"]["error"].as_str().unwrap();
    assert!(watch_error.contains("`pausing`"), "{watch_error}");
    assert_eq!(refused.step_status("give_up"), "failed");
    assert_eq!(refused.step_status("report"), "succeeded");
}

#[test]
fn a_wait_past_its_timeout_exits_3() {
    let run = run_in_sandbox("runbooks/aom-execute.yaml", &["-i", "workflow=wf-long"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.run()["status"], "timed_out");
    assert_eq!(run.run()["current_step"], "wait");
    let error = run.run()["error"].as_str().unwrap();
    assert!(error.contains("timed out after 5m"), "{error}");
    assert!(error.contains("`executing`"), "{error}");
    // A tenth of the time waited between 2s and 30s: about 40 polls in 5 minutes, far fewer
    // than one every 2s.
    let polls = run.events_of("poll").len();
    assert!((5..=60).contains(&polls), "{polls} polls");
}

#[test]
fn a_callback_succeeds_or_fails_the_waiting_workflow() {
    let success = run_in_sandbox("runbooks/functiongraph-callback.yaml", &[]);
    assert_eq!(success.code, 0, "{}", success.stderr);
    assert_eq!(success.run()["outputs"]["status"], "success");

    let fail = run_in_sandbox(
        "runbooks/functiongraph-callback.yaml",
        &["-i", "result=fail"],
    );
    assert_eq!(fail.code, 1, "{}", fail.stderr);
    assert_eq!(fail.step_status("answer"), "succeeded");
    assert_eq!(fail.step_status("finished"), "failed");
    let error = fail.run()["error"].as_str().unwrap();
    assert!(error.contains("ended as `fail`"), "{error}");
}

#[test]
fn a_sync_execution_branches_on_its_status() {
    let ok = run_in_sandbox("runbooks/functiongraph-sync.yaml", &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.step_status("passed"), "succeeded");
    assert_eq!(ok.step_status("failed"), "skipped");

    let failed = run_in_sandbox(
        "runbooks/functiongraph-sync.yaml",
        &["-i", "workflow=fg-fail"],
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.step_status("run"), "succeeded");
    assert_eq!(failed.step_status("passed"), "skipped");
    assert_eq!(failed.step_status("failed"), "failed");
    assert_eq!(failed.run()["steps"]["run"]["result"]["status"], "fail");
}

#[test]
fn an_overrunning_aom_execution_is_stopped_and_listed_as_cancel() {
    let run = run_in_sandbox("runbooks/aom-stop.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.step_status("watch"), "timed_out");
    assert_eq!(run.step_status("in_time"), "pending");
    assert_eq!(run.step_status("stop"), "succeeded");
    assert_eq!(run.step_status("confirm"), "succeeded");
    let execution_id = run.run()["outputs"]["execution_id"].clone();
    assert_eq!(
        run.run()["steps"]["stop"]["result"],
        json!({"workflow_id": "wf-long", "execution_id": execution_id, "result": "success"})
    );
    // The sandbox's own list, as the run read it after the stop.
    let listed = run.run()["steps"]["listed"]["result"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["execution_id"], execution_id);
    assert_eq!(listed[0]["status"], "cancel");
    assert_eq!(listed[0]["execution_result_list"][0]["status"], "cancel");
    assert!(listed[0]["end_time"].is_i64(), "{listed:?}");
    let stop_finished: Vec<_> = run
        .events_of("step_finished")
        .into_iter()
        .filter(|e| e["step"] == "stop")
        .collect();
    assert_eq!(stop_finished.len(), 1);
    assert_eq!(stop_finished[0]["status"], "succeeded");

    let in_time = run_in_sandbox("runbooks/aom-stop.yaml", &["-i", "workflow=wf-success"]);
    assert_eq!(in_time.code, 0, "{}", in_time.stderr);
    assert_eq!(in_time.step_status("in_time"), "succeeded");
    assert_eq!(in_time.step_status("stop"), "skipped");
}

#[test]
fn an_overrunning_functiongraph_execution_is_stopped_and_listed_as_cancel() {
    let run = run_in_sandbox("runbooks/functiongraph-stop.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.step_status("watch"), "timed_out");
    assert_eq!(run.step_status("stop"), "succeeded");
    assert_eq!(run.step_status("confirm"), "succeeded");
    let execution_id = run.run()["outputs"]["execution_id"].clone();
    assert_eq!(
        run.run()["steps"]["stop"]["result"],
        json!({"workflow_id": "fg-callback", "execution_id": execution_id})
    );
    // The sandbox's list of cancelled executions, as the run read it after the stop.
    let cancelled = run.run()["steps"]["cancelled"]["result"]["executions"]
        .as_array()
        .unwrap();
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0]["execution_id"], execution_id);
    assert_eq!(cancelled[0]["status"], "cancel");
    assert!(cancelled[0]["end_time"].is_string(), "{cancelled:?}");

    let in_time = run_in_sandbox(
        "runbooks/functiongraph-stop.yaml",
        &["-i", "workflow=fg-standard"],
    );
    assert_eq!(in_time.code, 0, "{}", in_time.stderr);
    assert_eq!(in_time.step_status("stop"), "skipped");
}

/// The most elements of `step` that were between `step_started` and `step_finished` at once,
/// and how many elements there were.
fn overlap(run: &support::Run, step: &str) -> (i32, i32) {
    let (mut in_flight, mut most, mut elements) = (0, 0, 0);
    for event in &run.events {
        if event["step"] != step || event["index"].is_null() {
            continue;
        }
        match event["event"].as_str().unwrap() {
            "step_started" => {
                in_flight += 1;
                elements += 1;
                most = most.max(in_flight);
            }
            "step_finished" => in_flight -= 1,
            _ => {}
        }
    }
    (most, elements)
}

#[test]
fn fan_out_respects_its_concurrency_limit() {
    let run = run_in_sandbox("runbooks/fan-out.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for step in ["start_all", "wait_all"] {
        let (most, elements) = overlap(&run, step);
        assert_eq!(elements, 4, "{step}");
        assert!(most <= 2, "{step}: {most} at once");
    }
    assert_eq!(
        run.run()["outputs"]["statuses"],
        json!(["success", "success", "success", "success"])
    );

    // In real time, elements that wait overlap, up to the limit and no further.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("naps.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: naps\nsteps:\n  - id: nap\n    for_each: [1, 2, 3, 4, 5]\n    concurrency: 2\n    sleep: 200ms\n",
    )
    .unwrap();
    let naps = run_in_sandbox(file.to_str().unwrap(), &["--real-time"]);
    assert_eq!(naps.code, 0, "{}", naps.stderr);
    assert_eq!(overlap(&naps, "nap"), (2, 5));
}

/// Each element's `elapsed_ms` for `step`, by index.
fn elements_elapsed(run: &support::Run, step: &str) -> Vec<u64> {
    let mut elapsed: Vec<(u64, u64)> = run
        .events_of("step_finished")
        .into_iter()
        .filter(|e| e["step"] == step && e["index"].is_u64())
        .map(|e| {
            let index = e["index"].as_u64().unwrap();
            (index, e["elapsed_ms"].as_u64().unwrap())
        })
        .collect();
    elapsed.sort_unstable();
    elapsed.into_iter().map(|(_, ms)| ms).collect()
}

#[test]
fn concurrent_sleeps_overlap_on_simulated_time_as_in_real_time() {
    // Issue 21: simulated time added the five sleeps up, and the step timed out at 700 ms.
    let dir = tempfile::tempdir().unwrap();
    let file = support::write_temp(
        &dir,
        "naps.yaml",
        "version: 1\nname: naps\nsteps:\n  - id: nap\n    for_each: [1, 2, 3, 4, 5]\n    concurrency: 5\n    timeout: 700ms\n    sleep: 200ms\n",
    );
    for clock in [&[][..], &["--real-time"][..]] {
        let naps = run_in_sandbox(&file, clock);
        assert_eq!(naps.code, 0, "{clock:?}: {}", naps.stderr);
        assert_eq!(naps.step_status("nap"), "succeeded", "{clock:?}");
        assert_eq!(overlap(&naps, "nap"), (5, 5), "{clock:?}");
        let finished = naps.events_of("run_finished");
        let elapsed = finished[0]["elapsed_ms"].as_u64().unwrap();
        if clock.is_empty() {
            // Simulated: exactly the one sleep's length, each element's too.
            assert_eq!(elapsed, 200, "{}", naps.stderr);
            assert_eq!(elements_elapsed(&naps, "nap"), vec![200; 5]);
        } else {
            assert!((200..700).contains(&elapsed), "{}", naps.stderr);
        }
    }
}

#[test]
fn concurrent_waits_each_take_their_own_executions_time_on_simulated_time() {
    // wf-success runs 4 s and wf-long 10 min (the default scenario). A wait sees the end
    // `T` into it within `max(min, min(max, T/10))` (the poll delay's bound): 1 s and 10 s
    // here, whatever the other waits do. Simulated time that added the elements' sleeps up
    // moved the clock on by every element's poll delay between two polls of each.
    let dir = tempfile::tempdir().unwrap();
    let file = support::write_temp(
        &dir,
        "waits.yaml",
        r#"version: 1
name: waits
steps:
  - id: start
    for_each: [wf-success, wf-long, wf-success]
    concurrency: 3
    aom.start: {workflow_id: "{{ item }}"}
  - id: wait
    for_each: "{{ steps.start }}"
    concurrency: 3
    timeout: 11m
    aom.wait:
      workflow_id: "{{ item.workflow_id }}"
      execution_id: "{{ item.execution_id }}"
      poll: {min: 1s, max: 10s}
"#,
    );
    let run = run_in_sandbox(&file, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let elapsed = elements_elapsed(&run, "wait");
    let bounds = [(4_000, 1_000), (600_000, 10_000), (4_000, 1_000)];
    assert_eq!(elapsed.len(), 3, "{}", run.stderr);
    for ((lasting, late), took) in bounds.iter().zip(&elapsed) {
        assert!((*lasting..=lasting + late).contains(took), "{elapsed:?}");
    }
}

#[test]
fn api_values_are_never_rendered_as_templates() {
    let run = run_in_sandbox(
        "runbooks/functiongraph-sync.yaml",
        &["-i", "message={{ 7 * 7 }}"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.run()["outputs"]["output"]["echo"]["message"],
        "{{ 7 * 7 }}"
    );
    let log = run.events_of("log");
    let message = log[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(r#"fg-echo answered {"echo": {"message": "{{ 7 * 7 }}""#),
        "{message}"
    );
}

#[test]
fn every_event_line_is_json_with_a_timestamp() {
    let run = run_in_sandbox("runbooks/aom-execution-detail.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for event in &run.events {
        assert!(event["event"].is_string(), "{event}");
        assert!(event["ts"].is_string(), "{event}");
    }
    for kind in [
        "run_started",
        "step_started",
        "retry",
        "step_finished",
        "run_finished",
    ] {
        assert!(!run.events_of(kind).is_empty(), "no {kind} event");
    }
    // `retry.until` retried the call until the execution succeeded.
    assert_eq!(run.run()["outputs"]["status"], "success");
    assert!(run.run()["steps"]["detail"]["attempts"].as_u64().unwrap() > 1);
}

#[test]
fn patch_in_stages_has_at_most_two_patch_workflows_in_flight_as_the_sandbox_shows() {
    // Against `runbook sandbox serve` in real time, read back from its inspection route.
    let dir = tempfile::tempdir().unwrap();
    let scenario = runbook().args(["sandbox", "scenario"]).output().unwrap();
    let scenario = write_temp(
        &dir,
        "scenario.yaml",
        &String::from_utf8(scenario.stdout).unwrap(),
    );
    let served = Served::start(&scenario);
    let output = served
        .run_command(
            "runbooks/patch-in-stages.yaml",
            ("SANDBOXAKEXAMPLE0001", "sandbox-secret-key-0001"),
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        )
        .current_dir(workspace())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        summary["run"]["outputs"]["patched"],
        json!(["web-1", "web-2", "web-3", "web-4"])
    );
    let executions = served.inspect("executions");
    assert_eq!(
        executions["aom"].as_array().unwrap().len(),
        4,
        "{executions:#}"
    );
    // Counted over every workflow together: the hosts of one wave run different ones.
    let mut together = executions.clone();
    for execution in together["aom"].as_array_mut().unwrap() {
        execution["workflow_id"] = json!("any");
    }
    assert_eq!(
        hwc_sandbox::most_running_at_once(&together, "any"),
        2,
        "{executions:#}"
    );
    // The child's steps are logged under the parent's step, its `finally` after them.
    for line in ["patch[1].patch", "patch[3].finally.restore"] {
        assert!(stderr.contains(&format!("\"{line}\"")), "{line}: {stderr}");
    }
}
