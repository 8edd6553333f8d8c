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
use runbook_lang::{Action, Step};
use serde::Serialize;
use serde_json::{json, Map, Value};

use hwc_client::catalogue;

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::request::Change;
use crate::runner::{Deadline, Locals, Run};
use crate::state::StartedExecution;
use crate::wait;

pub(crate) async fn execute(
    run: &Run<'_>,
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
            let change = Change::new(&step.id, index, &catalogue::EXECUTE_WORKFLOW, &params);
            let call = run.change(deadline, change);
            let body = call.send(call.client().execute_workflow(&params)).await?;
            let execution_id = started(run, step, index, "aom", &workflow_id, body.execution_id)?;
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
            Ok(
                json!({"node_id": params.node_id, "action": node.action.name(), "result": to_json(&body)?}),
            )
        }
        Action::AomStop(stop) => {
            let params = StopExecutionParams {
                workflow_id: run.text(&stop.workflow_id, locals, "workflow_id")?,
                execution_id: run.text(&stop.execution_id, locals, "execution_id")?,
            };
            let change = Change::new(&step.id, index, &catalogue::STOP_EXECUTION, &params);
            let call = run.change(deadline, change);
            let body = call.send(call.client().stop_execution(&params)).await?;
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
            let change = Change::new(
                &step.id,
                index,
                &catalogue::START_WORKFLOW_EXECUTION,
                &params,
            );
            let call = run.change(deadline, change);
            let body = call
                .send(call.client().start_workflow_execution(&params))
                .await?;
            let execution_id = started(
                run,
                step,
                index,
                "functiongraph",
                &workflow_id,
                body.execution_id,
            )?;
            Ok(json!({"workflow_id": workflow_id, "execution_id": execution_id}))
        }
        Action::FunctionGraphRunSync(sync) => {
            let params = StartSyncWorkflowExecutionParams {
                workflow_id: run.text(&sync.workflow_id, locals, "workflow_id")?,
                body: flow_body(run, &sync.input, sync.headers.as_ref(), locals)?,
            };
            let change = Change::new(
                &step.id,
                index,
                &catalogue::START_SYNC_WORKFLOW_EXECUTION,
                &params,
            );
            let call = run.change(deadline, change);
            let body = call
                .send(call.client().start_sync_workflow_execution(&params))
                .await?;
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
            let change = Change::new(
                &step.id,
                index,
                &catalogue::CREATE_CALLBACK_WORKFLOW,
                &params,
            );
            let call = run.change(deadline, change);
            let body = call
                .send(call.client().create_callback_workflow(&params))
                .await?;
            to_json(&body)
        }
        Action::FunctionGraphStop(stop) => {
            let params = StopWorkFlowParams {
                workflow_id: run.text(&stop.workflow_id, locals, "workflow_id")?,
                execution_id: run.text(&stop.execution_id, locals, "execution_id")?,
            };
            // The documented answer has no body; there is nothing more to record.
            let change = Change::new(&step.id, index, &catalogue::STOP_WORK_FLOW, &params);
            let call = run.change(deadline, change);
            call.send(call.client().stop_work_flow(&params)).await?;
            Ok(json!({"workflow_id": params.workflow_id, "execution_id": params.execution_id}))
        }
        Action::Call(call) => {
            let params = run.render(&call.params, locals, "params")?;
            run.check(deadline)?;
            let request = match catalogue::operation(&call.operation) {
                Some(operation) if action.is_mutating() => {
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
                vars.insert(
                    name.clone(),
                    run.render(value, locals, &format!("set `{name}`"))?,
                );
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
    run: &Run<'_>,
    step: &Step,
    index: Option<usize>,
    deadline: Deadline,
    params: &StartPausingWorkflowExecutionsParams,
) -> Result<hwc_client::models::StartPausingWorkflowExecutionsResponse, StepError> {
    let change = Change::new(
        &step.id,
        index,
        &catalogue::START_PAUSING_WORKFLOW_EXECUTIONS,
        params,
    );
    let call = run.change(deadline, change);
    call.send(call.client().start_pausing_workflow_executions(params))
        .await
}

fn flow_body(
    run: &Run<'_>,
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
    run: &Run<'_>,
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
