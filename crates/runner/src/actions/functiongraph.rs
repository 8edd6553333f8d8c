//! The FunctionGraph actions: `functiongraph.start`, `functiongraph.run` (start, then
//! `wait.rs`), `functiongraph.run_sync`, `functiongraph.callback`, `functiongraph.stop`.

use hwc_client::catalogue;
use hwc_client::models::{
    CallbackWorkflowRequestBody, CallbackWorkflowResult, FlowExecuteBody,
    ShowWorkflowExecutionResponse, StartSyncWorkflowExecutionResponse,
};
use hwc_client::operations::{
    CreateCallbackWorkflowParams, ShowWorkflowExecutionParams, StartSyncWorkflowExecutionParams,
    StartWorkflowExecutionParams, StopWorkFlowParams,
};
use hwc_client::runtime::poll_delay;
use hwc_client::waiters::FUNCTION_GRAPH_EXECUTION_SUCCEEDED;
use runbook_lang::{
    FunctionGraphCallback, FunctionGraphRun, FunctionGraphRunSync, FunctionGraphStart, Step, Stop,
    DEFAULT_POLL_MAX, DEFAULT_POLL_MIN,
};
use serde_json::{json, Value};

use crate::failure::{Failure, StepError};
use crate::reconcile::{waits_for_callback, Look, Making};
use crate::request::Change;
use crate::runner::{Deadline, Locals, Run};
use crate::wait::{self, is_terminal};

use super::{start_once, started, to_json};

pub(super) async fn start(
    run: &Run,
    step: &Step,
    start: &FunctionGraphStart,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let workflow_id = run.text(&start.workflow_id, locals, "workflow_id")?;
    let body = flow_body(run, &start.input, start.headers.as_ref(), locals)?;
    let execution_id = start_execution(run, step, &workflow_id, body, index, deadline).await?;
    Ok(json!({"workflow_id": workflow_id, "execution_id": execution_id}))
}

/// `functiongraph.run`: the start of `functiongraph.start`, then the wait of
/// `functiongraph.wait` on that execution. A resumed step finds its execution in the ledger
/// and only waits.
pub(super) async fn run_to_end(
    run: &Run,
    step: &Step,
    run_step: &FunctionGraphRun,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let workflow_id = run.text(&run_step.workflow_id, locals, "workflow_id")?;
    let body = flow_body(run, &run_step.input, run_step.headers.as_ref(), locals)?;
    let execution_id = start_execution(run, step, &workflow_id, body, index, deadline).await?;
    let params = ShowWorkflowExecutionParams {
        workflow_id,
        execution_id,
        x_get_workflow_full_history_data: None,
    };
    wait::functiongraph_execution(
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

/// Starts `workflow_id` with `body` once (see `start_once`); its execution id.
async fn start_execution(
    run: &Run,
    step: &Step,
    workflow_id: &str,
    body: FlowExecuteBody,
    index: Option<usize>,
    deadline: Deadline,
) -> Result<String, StepError> {
    let params = StartWorkflowExecutionParams {
        workflow_id: workflow_id.to_owned(),
        x_create_time: None,
        x_workflow_run_id: None,
        x_workflow_run_merge_fn_parameters: None,
        body,
    };
    let operation = &catalogue::START_WORKFLOW_EXECUTION;
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
                .send(call.client().start_workflow_execution(&params))
                .await?
                .execution_id)
        },
    )
    .await
}

pub(super) async fn run_sync(
    run: &Run,
    step: &Step,
    sync: &FunctionGraphRunSync,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let params = StartSyncWorkflowExecutionParams {
        workflow_id: run.text(&sync.workflow_id, locals, "workflow_id")?,
        body: flow_body(run, &sync.input, sync.headers.as_ref(), locals)?,
    };
    let body = run_sync_once(run, step, index, deadline, &params).await?;
    let status = body
        .status
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let result = to_json(&body)?;
    if sync.accept_status.contains(&status) {
        Ok(result)
    } else {
        let errors = body
            .errors
            .iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.node_id.as_deref().unwrap_or("?"),
                    e.error_message.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>();
        let mut message = format!(
            "sync execution {} ended as `{status}` (accepted: {})",
            body.execution_id.as_deref().unwrap_or("?"),
            sync.accept_status.join(", ")
        );
        if !errors.is_empty() {
            message.push_str(&format!("; node errors: {}", errors.join("; ")));
        }
        Err(Failure::new(message).with_result(result).into())
    }
}

pub(super) async fn callback(
    run: &Run,
    step: &Step,
    callback: &FunctionGraphCallback,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let result = run.text(&callback.result, locals, "result")?;
    let result = match CallbackWorkflowResult::from(result.as_str()) {
        CallbackWorkflowResult::Unknown(other) => {
            return Err(
                Failure::new(format!("result: `{other}` is not `success` or `fail`")).into(),
            )
        }
        known => known,
    };
    let error = match &callback.error {
        Some(error) => Some(run.text(error, locals, "error")?),
        None => None,
    };
    let params = CreateCallbackWorkflowParams {
        workflow_id: run.text(&callback.workflow_id, locals, "workflow_id")?,
        x_workflow_run_id: run.text(&callback.run_id, locals, "run_id")?,
        x_workflow_state_id: run.text(&callback.state_id, locals, "state_id")?,
        body: CallbackWorkflowRequestBody {
            result,
            error,
            output: run.render(&callback.output, locals, "output")?,
        },
    };
    let operation = &catalogue::CREATE_CALLBACK_WORKFLOW;
    let making = Making {
        step: &step.id,
        index,
        operation,
    };
    let look = |_since: String| async {
        let execution = run
            .show_functiongraph(&params.workflow_id, &params.x_workflow_run_id, deadline)
            .await?;
        Ok(
            if waits_for_callback(&execution, &params.x_workflow_state_id) {
                Look::NotApplied
            } else {
                Look::Applied(json!({"execution_id": params.x_workflow_run_id}))
            },
        )
    };
    let send = || async {
        let call = run.change(deadline, Change::new(&step.id, index, operation, &params));
        to_json(
            &call
                .send(call.client().create_callback_workflow(&params))
                .await?,
        )
    };
    run.settle(making, look, send).await
}

pub(super) async fn stop(
    run: &Run,
    step: &Step,
    stop: &Stop,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let params = StopWorkFlowParams {
        workflow_id: run.text(&stop.workflow_id, locals, "workflow_id")?,
        execution_id: run.text(&stop.execution_id, locals, "execution_id")?,
    };
    let operation = &catalogue::STOP_WORK_FLOW;
    let making = Making {
        step: &step.id,
        index,
        operation,
    };
    let look = |_since: String| async {
        let execution = run
            .show_functiongraph(&params.workflow_id, &params.execution_id, deadline)
            .await?;
        Ok(match execution.status.map(|s| s.to_string()).as_deref() {
            Some("running") => Look::NotApplied,
            _ => Look::Applied(()),
        })
    };
    // The documented answer has no body; there is nothing more to record.
    let send = || async {
        let call = run.change(deadline, Change::new(&step.id, index, operation, &params));
        call.send(call.client().stop_work_flow(&params))
            .await
            .map(drop)
    };
    run.settle(making, look, send).await?;
    Ok(json!({"workflow_id": params.workflow_id, "execution_id": params.execution_id}))
}

/// Runs an express workflow once: the run the journal recorded, the one a lost answer
/// started (found by listing), or a new one.
async fn run_sync_once(
    run: &Run,
    step: &Step,
    index: Option<usize>,
    deadline: Deadline,
    params: &StartSyncWorkflowExecutionParams,
) -> Result<StartSyncWorkflowExecutionResponse, StepError> {
    let operation = &catalogue::START_SYNC_WORKFLOW_EXECUTION;
    let workflow_id = params.workflow_id.as_str();
    let adopted = |execution_id: String| async move {
        let shown = ended_sync_run(run, workflow_id, &execution_id, deadline).await?;
        sync_answer(&shown)
    };
    let flight = run.starts_in_flight.begin(workflow_id);
    let flight = &flight;
    let body = if let Some(execution) = run.ledger.take_started(&step.id, index) {
        adopted(execution.execution_id).await?
    } else {
        let making = Making {
            step: &step.id,
            index,
            operation,
        };
        let look = |since: String| async move {
            let making = Making {
                step: &step.id,
                index,
                operation,
            };
            flight.land();
            run.starts_in_flight.settled(workflow_id).await;
            match run
                .find_started(&making, workflow_id, &since, deadline)
                .await?
            {
                Look::Applied(id) => Ok(Look::Applied(adopted(id).await?)),
                Look::NotApplied => Ok(Look::NotApplied),
            }
        };
        let send = || async {
            flight.fly();
            let call = run.change(deadline, Change::new(&step.id, index, operation, params));
            call.send(call.client().start_sync_workflow_execution(params))
                .await
        };
        run.settle(making, look, send).await?
    };
    // Recorded like a start, so a crash before the step's end does not run it again.
    started(
        run,
        step,
        index,
        deadline,
        "functiongraph",
        workflow_id,
        body.execution_id.clone(),
    )?;
    flight.land();
    Ok(body)
}

/// The execution of a sync run the journal recorded or a listing found, once it has ended:
/// its answer is how it ends, and a run whose answer was lost may still be under way. Looked
/// at a tenth of the time waited apart, within the default poll's bounds.
async fn ended_sync_run(
    run: &Run,
    workflow_id: &str,
    execution_id: &str,
    deadline: Deadline,
) -> Result<ShowWorkflowExecutionResponse, StepError> {
    let began = run.now();
    loop {
        let shown = run
            .show_functiongraph(workflow_id, execution_id, deadline)
            .await?;
        let status = shown
            .status
            .as_ref()
            .map(|s| s.as_str())
            .unwrap_or_default();
        if is_terminal(&FUNCTION_GRAPH_EXECUTION_SUCCEEDED, status) {
            return Ok(shown);
        }
        let waited = run.now().saturating_sub(began);
        run.pause(
            poll_delay(DEFAULT_POLL_MIN, DEFAULT_POLL_MAX, waited, run.random()),
            deadline,
        )
        .await?;
    }
}

/// A sync run's answer rebuilt from the execution it started, when the answer was lost.
fn sync_answer(
    shown: &ShowWorkflowExecutionResponse,
) -> Result<StartSyncWorkflowExecutionResponse, StepError> {
    let errors: Vec<Value> = shown
        .node_execution_details
        .iter()
        .flatten()
        .flat_map(|node| {
            node.executions.iter().flatten().filter_map(|execution| {
                let message = execution.error_message.clone().filter(|m| !m.is_null())?;
                Some(json!({"node_id": node.node_id, "error_message": message}))
            })
        })
        .collect();
    let mut answer = json!({
        "execution_id": shown.execution_id,
        "status": shown.status.as_ref().map(ToString::to_string),
        "output": shown.output,
        "begin_time": shown.begin_time,
        "end_time": shown.end_time,
    });
    if !errors.is_empty() {
        answer["errors"] = Value::Array(errors);
    }
    serde_json::from_value(answer).map_err(|error| {
        Failure::new(format!(
            "cannot read the sync run {} found by listing: {error}",
            shown.execution_id.as_deref().unwrap_or("?")
        ))
        .into()
    })
}

fn flow_body(
    run: &Run,
    input: &Value,
    headers: Option<&Value>,
    locals: &Locals,
) -> Result<FlowExecuteBody, StepError> {
    Ok(FlowExecuteBody {
        headers: headers
            .map(|h| run.render(h, locals, "headers"))
            .transpose()?,
        input: run.render(input, locals, "input")?,
    })
}
