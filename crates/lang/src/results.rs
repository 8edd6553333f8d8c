//! What each action's result holds, so `steps.<id>.<field>` is checked before a run.
//!
//! API answers come from the spec (the generated catalogue's `success_fields`); what the
//! runner builds itself is listed here, and the runner's tests hold it to that
//! (`crates/runner/tests/result_fields.rs`).

use crate::model::{Action, Step};

/// Every step's result may be `{"status": …}` instead: a skipped step, or one that failed
/// and was continued past, has no other.
pub const ALWAYS: &str = "status";

/// What `steps.<id>` is for a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultShape<'a> {
    /// An object with these fields (and [`ALWAYS`]).
    Fields(Vec<&'a str>),
    /// One result per `for_each` item.
    List,
    /// Anything: an answer the spec does not describe as an object.
    Open,
}

impl ResultShape<'_> {
    /// Whether `steps.<id>.<field>` can be read.
    pub fn has(&self, field: &str) -> bool {
        field == ALWAYS
            || match self {
                Self::Fields(fields) => fields.contains(&field),
                Self::List => false,
                Self::Open => true,
            }
    }
}

/// The shape of a step's result.
pub fn of_step(step: &Step) -> ResultShape<'_> {
    if step.for_each.is_some() || step.repeat.is_some() {
        return ResultShape::List;
    }
    step.action()
        .map_or(ResultShape::Open, |action| of_action(&action))
}

/// The shape of one run of an action.
pub fn of_action<'a>(action: &Action<'a>) -> ResultShape<'a> {
    let answer = || {
        action
            .operation()
            .map_or_else(Vec::new, |op| op.success_fields.to_vec())
    };
    let fields = match action {
        Action::AomStart(_) | Action::FunctionGraphStart(_) | Action::FunctionGraphStop(_) => {
            vec!["workflow_id", "execution_id"]
        }
        Action::AomStop(_) => vec!["workflow_id", "execution_id", "result"],
        Action::AomNode(_) => vec!["node_id", "action", "result"],
        Action::AomWait(_) | Action::AomRun(_) => {
            let mut fields = answer();
            fields.push("node_actions");
            fields
        }
        Action::FunctionGraphWait(_)
        | Action::FunctionGraphRun(_)
        | Action::FunctionGraphRunSync(_) => answer(),
        Action::FunctionGraphCallback(_) => {
            // A callback whose answer was lost and found applied is recorded by its run.
            let mut fields = answer();
            fields.push("execution_id");
            fields
        }
        Action::Call(_) => match action.operation() {
            Some(operation) if operation.success_is_object => answer(),
            _ => return ResultShape::Open,
        },
        Action::Set(values) => values.keys().map(String::as_str).collect(),
        Action::Branch(_) => vec!["goto"],
        Action::Assert(_) => vec!["passed"],
        Action::Sleep(_) => vec!["slept_ms"],
        Action::Log(_) => vec!["message"],
        Action::Block(body) => body.iter().map(|step| step.id.as_str()).collect(),
        Action::Runbook(sub) => match sub.child() {
            Some(child) => child.outputs.keys().map(String::as_str).collect(),
            None => return ResultShape::Open,
        },
        Action::Fail(_) => Vec::new(),
    };
    ResultShape::Fields(fields)
}
