//! Running one test: its runbook on virtual time against an in-process sandbox (the real
//! client, signer and HTTP), then every expectation compared with what happened.

use std::sync::{Arc, Mutex, PoisonError};

use runbook_runner::{Event, Observer, Redactor, RunInput, RunState, Runner};
use serde_json::Value;

use super::file::Loaded;

/// Why a test did not pass: each with the `file:line:col` of what it concerns.
pub struct Failure {
    pub at: String,
    pub message: String,
}

/// Every event the run emitted, to look for secrets in.
#[derive(Default)]
struct Events(Mutex<Vec<Value>>);

impl Observer for Events {
    fn event(&self, event: &Event) {
        if let Ok(value) = serde_json::to_value(event) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(value);
        }
    }
}

/// Whether a secret shows in the run's state or in an event, by the rule the runner redacts
/// with ([`Redactor::touches`]): a value that is one, or text with a long one inside.
fn leaks(redactor: &Redactor, state: &RunState, events: &[Value]) -> bool {
    serde_json::to_value(state).map_or(true, |state| redactor.touches(&state))
        || events.iter().any(|event| redactor.touches(event))
}

/// Runs `test`; an empty list means it passed.
pub async fn run(test: &Loaded) -> Vec<Failure> {
    let spec = &test.file;
    let fail = |keys: &[&str], message: String| {
        vec![Failure {
            at: test.at(keys),
            message,
        }]
    };
    let runbook_path = test.beside(&spec.runbook);
    let runbook = match crate::validate::load_with_text(&runbook_path) {
        Ok((runbook, _)) => runbook,
        Err(not_loaded) => return fail(&["runbook"], not_loaded.text),
    };
    let scenario = test.scenario.clone();
    let given = spec
        .inputs
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                runbook_runner::inputs::Given::Value(value.clone()),
            )
        })
        .collect();
    let inputs = match runbook_runner::inputs::resolve(&runbook, given) {
        Ok(inputs) => inputs,
        Err(problems) => return fail(&["inputs"], problems.join("; ")),
    };
    let secret_inputs: Vec<Value> = runbook
        .inputs
        .iter()
        .filter(|(_, input)| input.secret)
        .filter_map(|(name, _)| inputs.get(name).cloned())
        .collect();
    let connection = match crate::connect::in_process(
        scenario,
        runbook.target.project_id.as_deref(),
        spec.seed,
        false,
        std::time::Duration::from_secs(30),
        hwc_sandbox::MAX_LOGGED_REQUESTS,
    )
    .await
    {
        Ok(connection) => connection,
        Err(problem) => return fail(&["scenario"], problem),
    };
    let redactor = Redactor::new(connection.secrets.iter().cloned());
    secret_inputs
        .iter()
        .for_each(|value| redactor.add_value(value));
    let events = Arc::new(Events::default());
    let runner = Runner::new(
        connection.client,
        connection.environment,
        events.clone() as Arc<dyn Observer>,
    )
    .with_targets(connection.targets);
    let input = RunInput {
        run_id: String::new(),
        inputs,
        env: serde_json::Map::new(),
        secrets: connection.secrets.clone(),
    };
    let state = runner.run(Arc::new(runbook), input).await;
    let (calls, requests) = connection
        .sandbox
        .as_ref()
        .map(|sandbox| (sandbox.request_counts(), sandbox.requests()))
        .unwrap_or_default();
    if let Some(sandbox) = connection.sandbox {
        let _ = sandbox.shutdown().await;
    }
    let mut failures = compare(test, &state, &calls);
    failures.extend(compare_requests(test, &requests));
    let events = events.0.lock().unwrap_or_else(PoisonError::into_inner);
    if leaks(&redactor, &state, &events) {
        failures.push(Failure {
            at: test.at(&[]),
            message: "a secret appears in the run's state or events".to_owned(),
        });
    }
    failures
}

/// Each expectation against the run and the requests the sandbox received.
fn compare(
    test: &Loaded,
    state: &RunState,
    calls: &std::collections::BTreeMap<String, u64>,
) -> Vec<Failure> {
    let expect = &test.file.expect;
    let mut failures = Vec::new();
    let mut differ = |keys: &[&str], message: String| {
        failures.push(Failure {
            at: test.at(keys),
            message,
        });
    };
    let why = state
        .error
        .as_deref()
        .map(|error| format!(" (error: {error})"))
        .unwrap_or_default();
    if let Some(want) = expect.status {
        if state.status != want {
            differ(
                &["expect", "status"],
                format!(
                    "run status: want `{}`, got `{}`{why}",
                    want.name(),
                    state.status.name()
                ),
            );
        }
    }
    if let Some(want) = expect.exit_code {
        let got = crate::exit::for_state(state);
        if got != want {
            differ(
                &["expect", "exit_code"],
                format!("exit code: want {want}, got {got}{why}"),
            );
        }
    }
    for (id, want) in &expect.steps {
        let keys = ["expect", "steps", id.as_str()];
        match state.steps.get(id) {
            None => differ(&keys, format!("the runbook has no step `{id}`")),
            Some(step) if step.status != *want => {
                let error = step
                    .error
                    .as_deref()
                    .map(|error| format!(" (error: {error})"))
                    .unwrap_or_default();
                differ(
                    &keys,
                    format!(
                        "step `{id}`: want `{}`, got `{}`{error}",
                        want.name(),
                        step.status.name()
                    ),
                );
            }
            Some(_) => {}
        }
    }
    for (name, want) in &expect.outputs {
        let keys = ["expect", "outputs", name.as_str()];
        match state.outputs.get(name) {
            None => differ(&keys, format!("output `{name}`: want {want}, got none")),
            Some(got) if got != want => {
                differ(&keys, format!("output `{name}`: want {want}, got {got}"));
            }
            Some(_) => {}
        }
    }
    for (operation, want) in &expect.calls {
        let keys = ["expect", "calls", operation.as_str()];
        if hwc_client::catalogue::operation(operation).is_none() {
            differ(
                &keys,
                format!("`{operation}` is not an operation of the API"),
            );
            continue;
        }
        let got = calls.get(operation).copied().unwrap_or(0);
        if got != *want {
            differ(
                &keys,
                format!("{operation}: want {want} request(s), got {got}"),
            );
        }
    }
    for (id, want) in &expect.results {
        let keys = ["expect", "results", id.as_str()];
        match state.steps.get(id).map(|step| &step.result) {
            None => differ(&keys, format!("the runbook has no step `{id}`")),
            Some(None) => differ(&keys, format!("step `{id}` has no result")),
            Some(Some(got)) if !holds(got, want) => differ(
                &keys,
                format!(
                    "step `{id}`'s result: want at least {want}, got {}",
                    shorten(got)
                ),
            ),
            Some(Some(_)) => {}
        }
    }
    failures
}

/// The expected requests, in order, each found after the one before.
fn compare_requests(test: &Loaded, sent: &[hwc_sandbox::LoggedRequest]) -> Vec<Failure> {
    let keys = ["expect", "requests"];
    let mut next = 0;
    for (index, want) in test.file.expect.requests.iter().enumerate() {
        if hwc_client::catalogue::operation(&want.operation).is_none() {
            return vec![Failure {
                at: test.at_item(&keys, index),
                message: format!("`{}` is not an operation of the API", want.operation),
            }];
        }
        let params = Value::Object(want.params.clone());
        let found = sent[next..].iter().position(|request| {
            request.operation == want.operation && holds(&request.params, &params)
        });
        match found {
            Some(offset) => next += offset + 1,
            None => {
                let order: Vec<&str> = sent.iter().map(|r| r.operation).collect();
                return vec![Failure {
                    at: test.at_item(&keys, index),
                    message: format!(
                        "no {} request with {params} after the {index} expected before it; the requests sent: {}",
                        want.operation,
                        runs_of(&order)
                    ),
                }];
            }
        }
    }
    Vec::new()
}

/// Whether `have` holds `want`: the same scalar, every key of an object (recursively), an
/// array of the same length whose items each hold.
fn holds(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(have), Value::Object(want)) => want
            .iter()
            .all(|(key, want)| have.get(key).is_some_and(|have| holds(have, want))),
        (Value::Array(have), Value::Array(want)) => {
            have.len() == want.len() && have.iter().zip(want).all(|(h, w)| holds(h, w))
        }
        _ => have == want,
    }
}

/// A value for a message, cut to a readable length.
fn shorten(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// `ExecuteWorkflow, SearchWorkflowExecutionDetail ×3, …`: repeats counted.
fn runs_of(operations: &[&str]) -> String {
    let mut parts: Vec<(&str, usize)> = Vec::new();
    for operation in operations {
        match parts.last_mut() {
            Some((last, count)) if last == operation => *count += 1,
            _ => parts.push((operation, 1)),
        }
    }
    let parts: Vec<String> = parts
        .into_iter()
        .map(|(operation, count)| match count {
            1 => operation.to_owned(),
            n => format!("{operation} ×{n}"),
        })
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_in_the_state_or_an_event_is_a_leak_and_its_mask_is_not() {
        let runbook = runbook_lang::parse(&runbook_lang::Source::new(
            "t.yaml",
            "version: 1\nname: t\nsteps:\n  - id: a\n    log: hi\n",
        ))
        .unwrap();
        let redactor = Redactor::new(["sk-0123456789".to_owned()]);
        redactor.add_value(&serde_json::json!({"pin": 4711}));
        let mut state = RunState::new("r".into(), &runbook, "t".into(), serde_json::Map::new());
        assert!(!leaks(&redactor, &state, &[]));
        state.error = Some("signed with sk-0123456789".into());
        assert!(leaks(&redactor, &state, &[]));
        state.error = Some("signed with ***".into());
        assert!(!leaks(
            &redactor,
            &state,
            &[serde_json::json!({"code": 4712})]
        ));
        assert!(leaks(
            &redactor,
            &state,
            &[serde_json::json!({"code": 4711})]
        ));
    }
}
