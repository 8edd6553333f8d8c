//! The AOM actions: `aom.start`, `aom.run` (start, then `wait.rs`), `aom.node` (and the node rules of `aom.wait`), `aom.stop`.

use hwc_client::catalogue;
use hwc_client::models::PausingAction;
use hwc_client::operations::{
    ExecuteWorkflowParams, SearchWorkflowExecutionDetailParams,
    StartPausingWorkflowExecutionsParams, StopExecutionParams,
};
use runbook_lang::{AomNode, AomRun, AomStart, Step, Stop};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::failure::StepError;
use crate::reconcile::{millis, Look, Making};
use crate::request::Change;
use crate::runner::{Deadline, Locals, Run};
use crate::wait;

use super::{start_once, to_json};

pub(super) async fn start(
    run: &Run,
    step: &Step,
    start: &AomStart,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let workflow_id = run.text(&start.workflow_id, locals, "workflow_id")?;
    let execution_id = start_execution(run, step, &workflow_id, index, deadline).await?;
    Ok(json!({"workflow_id": workflow_id, "execution_id": execution_id}))
}

/// `aom.run`: the start of `aom.start`, then the wait of `aom.wait` on that execution. A
/// resumed step finds its execution in the ledger and only waits.
pub(super) async fn run_to_end(
    run: &Run,
    step: &Step,
    run_step: &AomRun,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let workflow_id = run.text(&run_step.workflow_id, locals, "workflow_id")?;
    let execution_id = start_execution(run, step, &workflow_id, index, deadline).await?;
    let params = SearchWorkflowExecutionDetailParams {
        workflow_id,
        execution_id,
    };
    wait::aom_execution(
        run,
        step,
        &params,
        run_step.waiting(),
        index,
        locals,
        deadline,
    )
    .await
}

/// Starts `workflow_id` once (see `start_once`); its execution id.
async fn start_execution(
    run: &Run,
    step: &Step,
    workflow_id: &str,
    index: Option<usize>,
    deadline: Deadline,
) -> Result<String, StepError> {
    let params = ExecuteWorkflowParams {
        workflow_id: workflow_id.to_owned(),
    };
    let operation = &catalogue::EXECUTE_WORKFLOW;
    start_once(
        run,
        step,
        index,
        deadline,
        operation,
        workflow_id,
        || async {
            let call = run.change(deadline, Change::new(&step.id, index, operation, &params));
            Ok(call
                .send(call.client().execute_workflow(&params))
                .await?
                .execution_id)
        },
    )
    .await
}

pub(super) async fn node(
    run: &Run,
    step: &Step,
    node: &AomNode,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let params = StartPausingWorkflowExecutionsParams {
        workflow_id: run.text(&node.workflow_id, locals, "workflow_id")?,
        execution_id: run.text(&node.execution_id, locals, "execution_id")?,
        action: PausingAction::from(node.action.name()),
        node_id: run.text(&node.node_id, locals, "node_id")?,
    };
    let body = operate_node(run, step, index, deadline, &params).await?;
    Ok(json!({"node_id": params.node_id, "action": node.action.name(), "result": body}))
}

pub(super) async fn stop(
    run: &Run,
    step: &Step,
    stop: &Stop,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let params = StopExecutionParams {
        workflow_id: run.text(&stop.workflow_id, locals, "workflow_id")?,
        execution_id: run.text(&stop.execution_id, locals, "execution_id")?,
    };
    let operation = &catalogue::STOP_EXECUTION;
    let making = Making {
        step: &step.id,
        index,
        operation,
    };
    let look = |_since: String| async {
        let execution = run
            .show_aom(&params.workflow_id, &params.execution_id, deadline)
            .await?;
        Ok(match execution.status.map(|s| s.to_string()).as_deref() {
            Some("running") => Look::NotApplied,
            _ => Look::Applied(Value::from("already stopped")),
        })
    };
    let send = || async {
        let call = run.change(deadline, Change::new(&step.id, index, operation, &params));
        Ok(Value::from(
            call.send(call.client().stop_execution(&params)).await?,
        ))
    };
    let body = run.settle(making, look, send).await?;
    Ok(
        json!({"workflow_id": params.workflow_id, "execution_id": params.execution_id, "result": body}),
    )
}

/// Restarts, skips or continues a node: the `aom.node` step, and the node rules of `aom.wait`.
pub(crate) async fn operate_node(
    run: &Run,
    step: &Step,
    index: Option<usize>,
    deadline: Deadline,
    params: &StartPausingWorkflowExecutionsParams,
) -> Result<Value, StepError> {
    let operation = &catalogue::START_PAUSING_WORKFLOW_EXECUTIONS;
    let making = Making {
        step: &step.id,
        index,
        operation,
    };
    let look = |since: String| async move {
        let execution = run
            .show_aom(&params.workflow_id, &params.execution_id, deadline)
            .await?;
        let sent_ms = time::OffsetDateTime::parse(&since, &Rfc3339).map_or(0, millis);
        let node = execution
            .execution_result_list
            .iter()
            .flatten()
            .find(|node| node.node_id.as_deref() == Some(params.node_id.as_str()));
        let status = node.and_then(|n| n.status.as_ref()).map(|s| s.to_string());
        let fits = match params.action.to_string().as_str() {
            "continue" => matches!(status.as_deref(), Some("pausing" | "waitApproval")),
            _ => status.as_deref() == Some("fail"),
        };
        // A node that failed again after the action was sent was acted on.
        let failed_before = node
            .and_then(|n| n.end_time)
            .is_none_or(|end| i128::from(end) <= sent_ms);
        Ok(if fits && failed_before {
            Look::NotApplied
        } else {
            Look::Applied(json!({"reconciled": true}))
        })
    };
    let send = || async {
        let call = run.change(deadline, Change::new(&step.id, index, operation, params));
        to_json(
            &call
                .send(call.client().start_pausing_workflow_executions(params))
                .await?,
        )
    };
    run.settle(making, look, send).await
}
