//! `runbook test --from-run RUN_ID`: a test file that replays a recorded run. Each answer the
//! run got is rebuilt from its journal as a scripted sandbox answer, in order per operation
//! (an execution id from `execution_started`, a poll's status — with the node a rule acted on
//! — from `poll` and `node_action`, a step's whole answer from its checkpoint), and the test
//! expects what the run came to: its status, exit code, each step's status and the requests
//! per operation. So the test passes against the runbook as it was, and fails when its logic
//! changes what the run does with the same answers.
//!
//! Rebuilt, not recorded: the journal holds what the run decided from, not every body it
//! received. Not replayed: `for_each` steps (their elements' requests interleave), a failed
//! poll's retry, and the earlier attempts of a retried `call` (its last answer stands for all).

use std::collections::{BTreeMap, HashMap};

use runbook_lang::{Action, Runbook};
use serde_json::{json, Map, Value};

/// The project a replay's sandbox serves when the runbook names none.
const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// The test file's text for the run, whose journal is `events` and final state `state`.
pub fn test_file(
    runbook: &Runbook,
    runbook_path: &str,
    record_inputs: &Value,
    events: &[Value],
    state: &runbook_runner::RunState,
    exit_code: u8,
) -> Result<String, String> {
    if let Some(step) = runbook.all_steps().find(|s| s.for_each.is_some()) {
        return Err(format!(
            "step `{}` runs `for_each`: a replay cannot put its elements' answers in order yet",
            step.id
        ));
    }
    if let Some(step) = runbook.all_steps().find(|s| s.body.is_some()) {
        return Err(format!(
            "step `{}` is a block: a replay cannot put the answers of its steps in order yet",
            step.id
        ));
    }
    if let Some(step) = runbook.all_steps().find(|s| s.runbook.is_some()) {
        return Err(format!(
            "step `{}` runs a sub-runbook: a replay cannot put the answers of its steps in order yet",
            step.id
        ));
    }
    let script = Script::rebuild(runbook, events)?;
    let project = runbook.target.project_id.as_deref().unwrap_or(PROJECT);
    let mut entries: Map<String, Value> = Map::new();
    let mut calls: Map<String, Value> = Map::new();
    for (operation, answers) in &script.answers {
        calls.insert(operation.clone(), json!(answers.len()));
        let scripted: Vec<Value> = answers
            .iter()
            .enumerate()
            .map(|(index, body)| match body {
                Value::Null => json!({"call": index + 1}),
                body => json!({"call": index + 1, "body": body}),
            })
            .collect();
        entries.insert(operation.clone(), Value::Array(scripted));
    }
    let steps: Map<String, Value> = state
        .steps
        .iter()
        .map(|(id, step)| (id.clone(), json!(step.status.name())))
        .collect();
    let mut file = serde_yaml::Mapping::new();
    let mut put = |key: &str, value: Value| -> Result<(), String> {
        let value = serde_yaml::to_value(value).map_err(|e| e.to_string())?;
        file.insert(key.into(), value);
        Ok(())
    };
    put(
        "test",
        json!(format!("replays run {} of {}", state.run_id, state.runbook)),
    )?;
    put("runbook", json!(runbook_path))?;
    put("inputs", record_inputs.clone())?;
    let projects: Vec<Value> = projects_acted_in(project, runbook, events)
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let n = n + 1;
            json!({
                "id": id,
                "credentials": [{"ak": format!("REPLAYAK{n:012}"), "sk": format!("replay-secret-key-{n:04}")}],
            })
        })
        .collect();
    put(
        "scenario",
        json!({
            "projects": projects,
            "script": entries,
        }),
    )?;
    put(
        "expect",
        json!({
            "status": state.status.name(),
            "exit_code": exit_code,
            "steps": steps,
            "calls": calls,
        }),
    )?;
    let text = serde_yaml::to_string(&file).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Written by `runbook test --from-run {}`: the answers are rebuilt from its journal.\n{text}",
        state.run_id
    ))
}

/// The run's project first, then each project a step's `target` named: as written, or as
/// the journal recorded it (an intent's, a started execution's). A templated target of a
/// step that only read leaves no record, and its replay says which project is missing.
fn projects_acted_in(run_project: &str, runbook: &Runbook, events: &[Value]) -> Vec<String> {
    let mut projects = vec![run_project.to_owned()];
    let written = runbook
        .all_steps()
        .filter_map(|step| step.target.as_ref()?.project_id.clone())
        .filter(|id| runbook_lang::template::shape(id) == runbook_lang::template::Shape::Literal);
    let recorded = events
        .iter()
        .filter_map(|event| event["target"]["project_id"].as_str().map(str::to_owned));
    for id in written.chain(recorded) {
        if !projects.contains(&id) {
            projects.push(id);
        }
    }
    projects
}

/// The answers of a run, per operation in the order it received them.
#[derive(Default)]
struct Script {
    answers: BTreeMap<String, Vec<Value>>,
}

impl Script {
    fn rebuild(runbook: &Runbook, events: &[Value]) -> Result<Self, String> {
        let actions: HashMap<&str, Action<'_>> = runbook
            .all_steps()
            .filter_map(|step| Some((step.id.as_str(), step.action()?)))
            .collect();
        // A step's last checkpoint holds its last answer (a wait's last poll, a sync run's
        // answer, a `call`'s body).
        let mut results: HashMap<&str, &Value> = HashMap::new();
        for event in events.iter().filter(|e| e["event"] == "checkpoint") {
            if let (Some(step), Some(result)) =
                (event["step"].as_str(), event["state"].get("result"))
            {
                results.insert(step, result);
            }
        }
        let mut script = Script::default();
        // Where each wait step's last poll answer is, to give it the node a rule acted on or
        // the whole last answer.
        let mut last_poll: HashMap<&str, (String, usize)> = HashMap::new();
        let mut answered_calls: Vec<&str> = Vec::new();
        for event in events {
            let step = event["step"].as_str().unwrap_or_default();
            let action = actions.get(step);
            let result = results.get(step).copied().unwrap_or(&Value::Null);
            match event["event"].as_str().unwrap_or_default() {
                "intent" => {
                    let operation = event["operation"].as_str().unwrap_or_default();
                    let answer = match (operation, action) {
                        (_, Some(Action::Call(_))) => {
                            answered_calls.push(step);
                            result.clone()
                        }
                        // Answered when the execution id is logged.
                        ("ExecuteWorkflow" | "StartWorkflowExecution", _) => continue,
                        ("StartSyncWorkflowExecution", _) => result.clone(),
                        ("StartPausingWorkflowExecutions", _) => json!({"result": "success"}),
                        ("CreateCallbackWorkflow", _) => {
                            json!({"execution_id": event["params"]["x_workflow_run_id"]})
                        }
                        ("StopExecution", _) => json!("success"),
                        _ => Value::Null,
                    };
                    script.push(operation, answer);
                }
                "execution_started" => {
                    let operation = match action {
                        Some(Action::AomStart(_) | Action::AomRun(_)) => "ExecuteWorkflow",
                        Some(Action::FunctionGraphStart(_) | Action::FunctionGraphRun(_)) => {
                            "StartWorkflowExecution"
                        }
                        _ => continue,
                    };
                    script.push(operation, json!({"execution_id": event["execution_id"]}));
                }
                "poll" => {
                    let operation = match action {
                        Some(Action::AomWait(_) | Action::AomRun(_)) => {
                            "SearchWorkflowExecutionDetail"
                        }
                        Some(Action::FunctionGraphWait(_) | Action::FunctionGraphRun(_)) => {
                            "ShowWorkflowExecution"
                        }
                        _ => continue,
                    };
                    let answer = json!({
                        "execution_id": result["execution_id"],
                        "workflow_id": result["workflow_id"],
                        "status": event["status"],
                    });
                    let index = script.push(operation, answer);
                    last_poll.insert(step, (operation.to_owned(), index));
                }
                "node_action" => {
                    if let Some((operation, index)) = last_poll.get(step) {
                        let answer =
                            &mut script.answers.entry(operation.clone()).or_default()[*index];
                        let status = answer["status"].clone();
                        answer["execution_result_list"] =
                            json!([{"node_id": event["node"], "status": status}]);
                    }
                }
                "step_finished" => {
                    if let Some((operation, index)) = last_poll.remove(step) {
                        if let Value::Object(detail) = result {
                            // The wait's result is the last answer plus what the runner adds.
                            let mut detail = detail.clone();
                            detail.remove("node_actions");
                            script.answers.entry(operation).or_default()[index] =
                                Value::Object(detail);
                        }
                    }
                    if let Some(Action::Call(call)) = action {
                        // A read-only `call` leaves no intent: its answer is its result.
                        if !answered_calls.contains(&step) && result.is_object() {
                            script.push(&call.operation, result.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(script)
    }

    /// Adds the next answer of `operation`; its index.
    fn push(&mut self, operation: &str, answer: Value) -> usize {
        let answers = self.answers.entry(operation.to_owned()).or_default();
        answers.push(answer);
        answers.len() - 1
    }
}
