//! `call` (any operation of the spec) and the actions the runner does itself: `set`,
//! `branch`, `assert`, `sleep`, `log`.

use hwc_client::catalogue;
use hwc_client::runtime::OperationMeta;
use indexmap::IndexMap;
use runbook_lang::limits::MAX_SET_VALUE_BYTES;
use runbook_lang::{Action, Assert, BranchArm, Call, DurationText, Step, Templated};
use serde_json::{json, Map, Value};

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::request::Change;
use crate::runner::{Deadline, Locals, Run};
use crate::state::{Decision, NeedsDecision};

pub(super) async fn call(
    run: &Run,
    step: &Step,
    call: &Call,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let params = run.render(&call.params, locals, "params")?;
    run.check(deadline)?;
    let request = match catalogue::operation(&call.operation) {
        Some(operation) if Action::Call(call).is_mutating() => {
            unanswered_call(run, step, index, operation)?;
            run.change(deadline, Change::new(&step.id, index, operation, &params))
        }
        _ => run.read(deadline),
    };
    request
        .send(catalogue::invoke(request.client(), &call.operation, params))
        .await
}

/// The first entry whose `when` holds (or that has none) names where the run goes on; the
/// run loop moves there (`Run::branch_target`). No match: `{goto: null}`, the next step.
pub(super) fn branch(run: &Run, arms: &[BranchArm], locals: &Locals) -> Result<Value, StepError> {
    for arm in arms {
        let taken = match &arm.when {
            None => true,
            Some(when) => run.condition(&when.0, locals, "branch when")?,
        };
        if taken {
            return Ok(json!({"goto": arm.goto}));
        }
    }
    Ok(json!({"goto": null}))
}

pub(super) fn set(
    run: &Run,
    values: &IndexMap<String, Value>,
    locals: &Locals,
) -> Result<Value, StepError> {
    let mut vars = Map::new();
    for (name, value) in values {
        let value = run.render(value, locals, &format!("set `{name}`"))?;
        if !runbook_lang::template::json_fits(&value, MAX_SET_VALUE_BYTES) {
            return Err(Failure::new(format!(
                "set `{name}`: the value's JSON is larger than the limit of {MAX_SET_VALUE_BYTES} bytes"
            ))
            .into());
        }
        vars.insert(name.clone(), value);
    }
    run.set_vars(vars.clone());
    Ok(Value::Object(vars))
}

pub(super) fn assert(run: &Run, assert: &Assert, locals: &Locals) -> Result<Value, StepError> {
    if run.condition(&assert.that.0, locals, "assert")? {
        Ok(json!({"passed": true}))
    } else {
        let message = run.text(&assert.message, locals, "message")?;
        Err(Failure::new(format!("assertion failed: {message}")).into())
    }
}

pub(super) async fn sleep(
    run: &Run,
    sleep: &Templated<DurationText>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let duration = run.duration(sleep, locals, "sleep")?;
    run.pause(duration, deadline).await?;
    // A sleep the deadline cut short is a timeout, not a sleep that ended.
    run.check(deadline)?;
    Ok(json!({"slept_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)}))
}

pub(super) fn log(
    run: &Run,
    step: &Step,
    message: &str,
    locals: &Locals,
) -> Result<Value, StepError> {
    let message = run.text(message, locals, "log")?;
    run.emit(Event::Log {
        step: step.id.clone(),
        message: message.clone(),
    });
    Ok(json!({"message": message}))
}

/// A generic `call` that changes something cannot be looked up: if a resumed run's journal
/// holds its intent without an answer, a person decides (`runbook resume … --start`).
fn unanswered_call(
    run: &Run,
    step: &Step,
    index: Option<usize>,
    operation: &'static OperationMeta,
) -> Result<(), StepError> {
    let Some(intent) = run.ledger.take_unanswered(&step.id, index, operation.id) else {
        return Ok(());
    };
    if run.take_decision(|d| *d == Decision::Start).is_some() {
        return Ok(());
    }
    Err(run.needs_decision(NeedsDecision {
        step: step.id.clone(),
        index,
        service: operation.service.name.to_owned(),
        operation: operation.id.to_owned(),
        workflow_id: intent.params["workflow_id"].as_str().map(str::to_owned),
        candidates: Vec::new(),
        window: None,
        reason: format!(
            "it was sent at {} and its answer is not in the journal; a `call` cannot be looked up, so whether it took effect is unknown",
            intent.at
        ),
    }))
}
