//! What each action does: render its fields, call the generated client, shape the result
//! later steps read as `steps.<id>`. `execute` dispatches, one line per action, to `aom.rs`,
//! `functiongraph.rs`, `local.rs` (`call` and what the runner does itself) and `wait.rs`; what
//! they share is here: starting an execution once (`start_once`) and recording it.

use runbook_lang::{Action, Step};
use serde::Serialize;
use serde_json::Value;

use hwc_client::runtime::OperationMeta;

use crate::failure::{Failure, StepError};
use crate::reconcile::{Look, Making};
use crate::runner::{Deadline, Locals, Run};
use crate::state::StartedExecution;
use crate::wait;

mod aom;
mod functiongraph;
mod local;

pub(crate) use aom::operate_node;

pub(crate) async fn execute(
    run: &Run,
    step: &Step,
    action: Action<'_>,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    // Each action's future is boxed: held inline, every step and fan-out element would carry
    // the largest of them (a wait's or a start's, kilobytes), and a thousand elements waiting
    // at once would hold a thousand of them.
    match action {
        Action::AomStart(start) => {
            Box::pin(aom::start(run, step, start, index, locals, deadline)).await
        }
        Action::AomWait(wait) => {
            Box::pin(wait::aom(run, step, wait, index, locals, deadline)).await
        }
        Action::AomRun(run_step) => {
            Box::pin(aom::run_to_end(
                run, step, run_step, index, locals, deadline,
            ))
            .await
        }
        Action::AomNode(node) => {
            Box::pin(aom::node(run, step, node, index, locals, deadline)).await
        }
        Action::AomStop(stop) => {
            Box::pin(aom::stop(run, step, stop, index, locals, deadline)).await
        }
        Action::FunctionGraphStart(start) => {
            Box::pin(functiongraph::start(
                run, step, start, index, locals, deadline,
            ))
            .await
        }
        Action::FunctionGraphRunSync(sync) => {
            Box::pin(functiongraph::run_sync(
                run, step, sync, index, locals, deadline,
            ))
            .await
        }
        Action::FunctionGraphWait(wait) => {
            Box::pin(wait::functiongraph(
                run, step, wait, index, locals, deadline,
            ))
            .await
        }
        Action::FunctionGraphRun(run_step) => {
            Box::pin(functiongraph::run_to_end(
                run, step, run_step, index, locals, deadline,
            ))
            .await
        }
        Action::FunctionGraphCallback(callback) => {
            Box::pin(functiongraph::callback(
                run, step, callback, index, locals, deadline,
            ))
            .await
        }
        Action::FunctionGraphStop(stop) => {
            Box::pin(functiongraph::stop(
                run, step, stop, index, locals, deadline,
            ))
            .await
        }
        Action::Call(call) => Box::pin(local::call(run, step, call, index, locals, deadline)).await,
        Action::Set(values) => local::set(run, values, locals),
        Action::Branch(arms) => local::branch(run, arms, locals),
        Action::Assert(assert) => local::assert(run, assert, locals),
        Action::Fail(message) => Err(Failure::new(run.text(message, locals, "fail")?).into()),
        Action::Sleep(sleep) => Box::pin(local::sleep(run, sleep, locals, deadline)).await,
        Action::Log(message) => local::log(run, step, message, locals),
        Action::Block(body) => run.block(step, body, index, locals, deadline).await,
        Action::Runbook(sub) => run.sub_runbook(step, sub, index, locals, deadline).await,
    }
}

/// Starts an execution once: the one the journal recorded, the one a lost answer started
/// (found by listing), or a new one.
async fn start_once<F, Fut>(
    run: &Run,
    step: &Step,
    index: Option<usize>,
    deadline: Deadline,
    operation: &'static OperationMeta,
    workflow_id: &str,
    send: F,
) -> Result<String, StepError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, StepError>>,
{
    let service = operation.service.name;
    if let Some(execution) = run.ledger.take_started(&step.id, index) {
        return Ok(execution.execution_id);
    }
    let making = Making {
        step: &step.id,
        index,
        operation,
    };
    let flight = run.starts_in_flight.begin(workflow_id);
    let flight = &flight;
    let look = |since: String| async move {
        let making = Making {
            step: &step.id,
            index,
            operation,
        };
        flight.land();
        run.starts_in_flight.settled(workflow_id).await;
        Ok(
            match run
                .find_started(&making, workflow_id, &since, deadline)
                .await?
            {
                Look::Applied(id) => Look::Applied(Some(id)),
                Look::NotApplied => Look::NotApplied,
            },
        )
    };
    let send = || {
        flight.fly();
        send()
    };
    let execution_id = run.settle(making, look, send).await?;
    let recorded = started(
        run,
        step,
        index,
        deadline,
        service,
        workflow_id,
        execution_id,
    );
    flight.land();
    recorded
}

/// Records a started execution; a start without an id is a failure (nothing to follow).
fn started(
    run: &Run,
    step: &Step,
    index: Option<usize>,
    deadline: Deadline,
    service: &str,
    workflow_id: &str,
    execution_id: Option<String>,
) -> Result<String, StepError> {
    let Some(execution_id) = execution_id.filter(|id| !id.is_empty()) else {
        return Err(Failure::new(format!(
            "the {service} service started `{workflow_id}` but returned no execution_id"
        ))
        .into());
    };
    run.record_execution(StartedExecution {
        step: step.id.clone(),
        index,
        service: service.to_owned(),
        workflow_id: workflow_id.to_owned(),
        execution_id: execution_id.clone(),
        target: run.target_spec(deadline.target),
    });
    Ok(execution_id)
}

pub(crate) fn to_json(value: &impl Serialize) -> Result<Value, StepError> {
    serde_json::to_value(value)
        .map_err(|error| Failure::new(format!("cannot record the response: {error}")).into())
}
