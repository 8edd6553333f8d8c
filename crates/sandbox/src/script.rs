//! Scripted answers: per operation and per call number, an answer the sandbox gives instead
//! of emulating the operation, or a broken connection, so a test can put a runbook through a
//! failure path (a node that fails twice, a 429 storm) at an exact request.
//!
//! A scripted answer must be one the real API could give: a 2xx body is checked against the
//! operation's response schema from the spec (its enums closed to the values the spec lists),
//! an error body must carry `error_code` and `error_msg`. A problem names where it is
//! ([`Segment`]s from the scenario's root), so a caller that knows the text can locate it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// One scripted request of an operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scripted {
    /// Which request of the operation it answers: 1 for the first the sandbox receives.
    pub call: u64,
    /// The answer's HTTP status; 200 unless given.
    #[serde(default)]
    pub status: Option<u16>,
    /// The answer's body: required for a 2xx status; for another, the sandbox's own error
    /// body of that status when absent.
    #[serde(default)]
    pub body: Option<Value>,
    /// For a 429, the `Retry-After` in seconds (1 when absent).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Instead of an answer, the connection breaks: `drop` before the operation is applied,
    /// `apply_then_drop` after.
    #[serde(default)]
    pub fault: Option<ScriptedFault>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptedFault {
    Drop,
    ApplyThenDrop,
}

impl Scripted {
    pub fn status(&self) -> u16 {
        self.status.unwrap_or(200)
    }
}

/// A step of the way from the scenario's root to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// What is wrong with a script, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<Segment>,
    pub message: String,
}

/// Every scripted answer checked against the spec; the first problem found.
pub fn check(script: &BTreeMap<String, Vec<Scripted>>) -> Result<(), Problem> {
    for (operation, entries) in script {
        let at = |index: Option<usize>, rest: &[Segment]| {
            let mut path = vec![
                Segment::Key("script".into()),
                Segment::Key(operation.clone()),
            ];
            path.extend(index.map(Segment::Index));
            path.extend_from_slice(rest);
            path
        };
        if hwc_client::catalogue::operation(operation).is_none() {
            return Err(Problem {
                path: at(None, &[]),
                message: format!("`{operation}` is not an operation of the spec"),
            });
        }
        let mut calls = std::collections::BTreeSet::new();
        for (index, entry) in entries.iter().enumerate() {
            let problem = |key: &str, message: String| Problem {
                path: at(Some(index), &[Segment::Key(key.into())]),
                message,
            };
            if entry.call == 0 {
                return Err(problem("call", "calls are counted from 1".into()));
            }
            if !calls.insert(entry.call) {
                return Err(problem(
                    "call",
                    format!("call {} of {operation} is scripted twice", entry.call),
                ));
            }
            if entry.fault.is_some() {
                if entry.status.is_some() || entry.body.is_some() {
                    return Err(problem(
                        "fault",
                        "a fault breaks the connection: it has no status or body".into(),
                    ));
                }
                continue;
            }
            let status = entry.status();
            if !(200..=599).contains(&status) {
                return Err(problem(
                    "status",
                    format!("{status} is not an HTTP status an API answers with"),
                ));
            }
            let answers_json = hwc_client::catalogue::response_schema(operation).is_some();
            match (&entry.body, (200..300).contains(&status)) {
                (None, true) if !answers_json => {}
                (None, true) => {
                    return Err(problem(
                        "status",
                        format!("a {status} answer needs the `body` the API would send"),
                    ))
                }
                (Some(body), true) => {
                    check_success(operation, body).map_err(|(rest, message)| Problem {
                        path: at(Some(index), &rest),
                        message,
                    })?
                }
                (Some(body), false) => {
                    let error_text = |key: &str| body.get(key).is_some_and(|v| v.is_string());
                    if !(error_text("error_code") && error_text("error_msg")) {
                        return Err(problem(
                            "body",
                            "an error answer's body has the strings `error_code` and `error_msg`"
                                .into(),
                        ));
                    }
                }
                (None, false) => {}
            }
        }
    }
    Ok(())
}

/// `body` against the operation's 2xx response schema; a problem's path starts at `body`.
fn check_success(operation: &str, body: &Value) -> Result<(), (Vec<Segment>, String)> {
    let Some(schema) = hwc_client::catalogue::response_schema(operation) else {
        return Err((
            vec![Segment::Key("body".into())],
            format!("{operation} answers no JSON body"),
        ));
    };
    let schema = serde_json::to_value(schema).unwrap_or(Value::Null);
    let validator = jsonschema::validator_for(&schema).map_err(|error| {
        (
            vec![Segment::Key("body".into())],
            format!("the spec's schema of {operation} does not compile: {error}"),
        )
    })?;
    let Some(error) = validator.iter_errors(body).next() else {
        return Ok(());
    };
    let pointer = error.instance_path().to_string();
    let mut path = vec![Segment::Key("body".into())];
    let mut at = body;
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        match (at, key.parse::<usize>()) {
            (Value::Array(items), Ok(index)) => {
                path.push(Segment::Index(index));
                at = items.get(index).unwrap_or(&Value::Null);
            }
            _ => {
                at = at.get(&key).unwrap_or(&Value::Null);
                path.push(Segment::Key(key));
            }
        }
    }
    let why = match allowed_values(&schema, &error.schema_path().to_string()) {
        Some(values) => format!("{} is not one of {}", error.instance(), values.join(", ")),
        None => error.to_string(),
    };
    Err((path, format!("not an answer {operation} could give: {why}")))
}

/// `node`, or what its `$ref` (to the schema's `$defs`) names.
fn resolve<'s>(schema: &'s Value, mut node: &'s Value) -> Option<&'s Value> {
    while let Some(name) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        node = schema.get("$defs")?.get(name)?;
    }
    Some(node)
}

/// The values an `anyOf` of the schema allows when one of its branches is an `enum` (an
/// optional enum field): a plainer message than "not valid under any of the schemas".
fn allowed_values(schema: &Value, schema_path: &str) -> Option<Vec<String>> {
    let mut node = schema;
    for key in schema_path.split('/').skip(1) {
        node = resolve(schema, node)?;
        node = match node {
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => node.get(key)?,
        };
    }
    node.as_array()?.iter().find_map(|branch| {
        let values = resolve(schema, branch)?.get("enum")?.as_array()?;
        Some(values.iter().map(Value::to_string).collect())
    })
}

/// Looks up the entry for the `call`-th request of `operation`.
pub fn entry<'s>(
    script: &'s BTreeMap<String, Vec<Scripted>>,
    operation: &str,
    call: u64,
) -> Option<&'s Scripted> {
    script.get(operation)?.iter().find(|e| e.call == call)
}
