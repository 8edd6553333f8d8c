//! What each action does: render its fields, call the generated client, shape the result
//! later steps read as `steps.<id>`.

use hwc_client::models::{
    CallbackWorkflowRequestBody, CallbackWorkflowResult, FlowExecuteBody, PausingAction,
};
use hwc_client::operations::{
    CreateCallbackWorkflowParams, ExecuteWorkflowParams, StartPausingWorkflowExecutionsParams,
    StartSyncWorkflowExecutionParams, StartWorkflowExecutionParams, StopExecutionParams,
    StopWorkFlowParams,
};
use runbook_lang::limits::MAX_SET_VALUE_BYTES;
use runbook_lang::{Action, Step};
use serde::Serialize;
use serde_json::{json, Map, Value};

use hwc_client::catalogue;
use hwc_client::models::{ShowWorkflowExecutionResponse, StartSyncWorkflowExecutionResponse};
use hwc_client::runtime::OperationMeta;
use time::format_description::well_known::Rfc3339;

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::reconcile::{millis, waits_for_callback, Look, Making};
use crate::request::Change;
use crate::runner::{Deadline, Locals, Run};
use crate::state::{Decision, NeedsDecision, StartedExecution};
use crate::wait;

pub(crate) async fn execute(
    run: &Run,
    step: &Step,
    action: Action<'_>,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    match action {
        Action::AomStart(start) => {
            let workflow_id = run.text(&start.workflow_id, locals, "workflow_id")?;
            let params = ExecuteWorkflowParams {
                workflow_id: workflow_id.clone(),
            };
            let operation = &catalogue::EXECUTE_WORKFLOW;
            let execution_id = start_once(
                run,
                step,
                index,
                deadline,
                operation,
                &workflow_id,
                || async {
                    let call =
                        run.change(deadline, Change::new(&step.id, index, operation, &params));
                    Ok(call
                        .send(call.client().execute_workflow(&params))
                        .await?
                        .execution_id)
                },
            )
            .await?;
            Ok(json!({"workflow_id": workflow_id, "execution_id": execution_id}))
        }
        Action::AomWait(wait) => wait::aom(run, step, wait, index, locals, deadline).await,
        Action::AomNode(node) => {
            let params = StartPausingWorkflowExecutionsParams {
                workflow_id: run.text(&node.workflow_id, locals, "workflow_id")?,
                execution_id: run.text(&node.execution_id, locals, "execution_id")?,
                action: PausingAction::from(node.action.name()),
                node_id: run.text(&node.node_id, locals, "node_id")?,
            };
            let body = operate_node(run, step, index, deadline, &params).await?;
            Ok(json!({"node_id": params.node_id, "action": node.action.name(), "result": body}))
        }
        Action::AomStop(stop) => {
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
        Action::FunctionGraphStart(start) => {
            let workflow_id = run.text(&start.workflow_id, locals, "workflow_id")?;
            let params = StartWorkflowExecutionParams {
                workflow_id: workflow_id.clone(),
                x_create_time: None,
                x_workflow_run_id: None,
                x_workflow_run_merge_fn_parameters: None,
                body: flow_body(run, &start.input, start.headers.as_ref(), locals)?,
            };
            let operation = &catalogue::START_WORKFLOW_EXECUTION;
            let execution_id = start_once(
                run,
                step,
                index,
                deadline,
                operation,
                &workflow_id,
                || async {
                    let call =
                        run.change(deadline, Change::new(&step.id, index, operation, &params));
                    Ok(call
                        .send(call.client().start_workflow_execution(&params))
                        .await?
                        .execution_id)
                },
            )
            .await?;
            Ok(json!({"workflow_id": workflow_id, "execution_id": execution_id}))
        }
        Action::FunctionGraphRunSync(sync) => {
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
        Action::FunctionGraphWait(wait) => {
            wait::functiongraph(run, step, wait, index, locals, deadline).await
        }
        Action::FunctionGraphCallback(callback) => {
            let result = run.text(&callback.result, locals, "result")?;
            let result = match CallbackWorkflowResult::from(result.as_str()) {
                CallbackWorkflowResult::Unknown(other) => {
                    return Err(Failure::new(format!(
                        "result: `{other}` is not `success` or `fail`"
                    ))
                    .into())
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
        Action::FunctionGraphStop(stop) => {
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
        Action::Call(call) => {
            let params = run.render(&call.params, locals, "params")?;
            run.check(deadline)?;
            let request = match catalogue::operation(&call.operation) {
                Some(operation) if action.is_mutating() => {
                    unanswered_call(run, step, index, operation)?;
                    run.change(deadline, Change::new(&step.id, index, operation, &params))
                }
                _ => run.read(deadline),
            };
            request
                .send(catalogue::invoke(request.client(), &call.operation, params))
                .await
        }
        Action::Set(values) => {
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
        Action::Assert(assert) => {
            if run.condition(&assert.that.0, locals, "assert")? {
                Ok(json!({"passed": true}))
            } else {
                let message = run.text(&assert.message, locals, "message")?;
                Err(Failure::new(format!("assertion failed: {message}")).into())
            }
        }
        Action::Fail(message) => Err(Failure::new(run.text(message, locals, "fail")?).into()),
        Action::Sleep(duration) => {
            run.pause(duration, deadline).await?;
            // A sleep the deadline cut short is a timeout, not a sleep that ended.
            run.check(deadline)?;
            Ok(json!({"slept_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)}))
        }
        Action::Log(message) => {
            let message = run.text(message, locals, "log")?;
            run.emit(Event::Log {
                step: step.id.clone(),
                message: message.clone(),
            });
            Ok(json!({"message": message}))
        }
    }
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
    let recorded = started(run, step, index, service, workflow_id, execution_id);
    flight.land();
    recorded
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
        let shown = run
            .show_functiongraph(workflow_id, &execution_id, deadline)
            .await?;
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
        "functiongraph",
        workflow_id,
        body.execution_id.clone(),
    )?;
    flight.land();
    Ok(body)
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

/// Records a started execution; a start without an id is a failure (nothing to follow).
fn started(
    run: &Run,
    step: &Step,
    index: Option<usize>,
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
    });
    Ok(execution_id)
}

pub(crate) fn to_json(value: &impl Serialize) -> Result<Value, StepError> {
    serde_json::to_value(value)
        .map_err(|error| Failure::new(format!("cannot record the response: {error}")).into())
}
