//! Wait steps: poll an execution until it reaches a wanted status, applying the AOM node rules
//! (restart / skip failed nodes, continue paused ones) on the way. The delay between polls is
//! a tenth of the time waited, between `poll.min` and `poll.max` (`poll_delay`). A last poll
//! is made at the deadline before giving up.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use hwc_client::models::PausingAction;
use hwc_client::operations::{
    SearchWorkflowExecutionDetailParams, ShowWorkflowExecutionParams,
    StartPausingWorkflowExecutionsParams,
};
use hwc_client::runtime::{poll_delay, WaiterSpec};
use hwc_client::waiters::{AOM_EXECUTION_SUCCEEDED, FUNCTION_GRAPH_EXECUTION_SUCCEEDED};
use runbook_lang::limits::{MAX_JUMPS, MAX_POLLS, MIN_POLL_DELAY};
use runbook_lang::{
    AomWait, AomWaiting, FunctionGraphWait, NodeAction, NodeRule, Poll, Step, Templated, Waiting,
};
use serde_json::{json, Value};

use crate::actions::to_json;
use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::runner::{Deadline, Locals, Run};

const AOM_PAUSED: &[&str] = &["pausing", "waitApproval"];

/// Whether an execution with this `status` has stopped where `waiter` stops: the spec's
/// terminal statuses (its `x-waiters` acceptors on `status`, success and failure alike), read
/// from the generated waiter, never copied here.
///
/// AOM's waiter also stops at `fail`, and so does an AOM wait, unless a `when_node_fails`
/// rule restarts or skips the failed node: a failed AOM execution waits for that (it has not
/// ended: it can still be stopped). `aom` handles `fail` before asking this, so a rule gets
/// its turn; with none, the wait fails there.
pub(crate) fn is_terminal(waiter: &WaiterSpec, status: &str) -> bool {
    waiter
        .terminal_values("status")
        .any(|value| value == status)
}

pub(crate) async fn aom(
    run: &Run,
    step: &Step,
    wait: &AomWait,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let params = SearchWorkflowExecutionDetailParams {
        workflow_id: run.text(&wait.workflow_id, locals, "workflow_id")?,
        execution_id: run.text(&wait.execution_id, locals, "execution_id")?,
    };
    aom_execution(run, step, &params, wait.waiting(), index, locals, deadline).await
}

/// Waits for the AOM execution `params` names as `wait` says (`aom.wait`, and `aom.run` once
/// it has started it).
pub(crate) async fn aom_execution(
    run: &Run,
    step: &Step,
    params: &SearchWorkflowExecutionDetailParams,
    wait: AomWaiting<'_>,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let mut poller = Poller::new(run, step, index, deadline, wait.poll, locals)?;
    // A resumed wait counts the node actions it sent before the crash, so a restart limit
    // holds across it (an action whose answer was lost counts: it may have been applied).
    let mut restarts: HashMap<String, u32> = HashMap::new();
    let mut node_actions: Vec<Value> = Vec::new();
    for intent in run.node_actions_sent(&step.id, index) {
        let node = intent.params["node_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let action = intent.params["action"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if action == NodeAction::Restart.name() {
            *restarts.entry(node.clone()).or_default() += 1;
        }
        node_actions.push(json!({"node": node, "action": action}));
    }
    loop {
        let call = run.read(deadline);
        let Some(detail) = poller
            .poll(call.send(call.client().search_workflow_execution_detail(params)))
            .await?
        else {
            poller.sleep("unknown (the last poll failed)").await?;
            continue;
        };
        let status = detail
            .status
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let mut result = to_json(&detail)?;
        // The actions list grows with every restart: it is attached where it is read, not
        // copied into every poll's result.
        if wait.until.is_some() {
            result = with_node_actions(result, &node_actions);
        }
        if poller.reached(&status, wait.until_status, wait.until, locals, &result)? {
            return Ok(with_node_actions(result, &node_actions));
        }
        let nodes = detail.execution_result_list.clone().unwrap_or_default();
        let node_in = |statuses: &[&str]| {
            nodes.iter().find(|n| {
                n.status
                    .as_ref()
                    .is_some_and(|s| statuses.contains(&s.as_str()))
            })
        };
        let mut acted = false;
        if status == "fail" {
            let Some(node) = node_in(&["fail"]) else {
                return Err(Failure::new(format!(
                    "execution {} failed (no failed node reported)",
                    params.execution_id
                ))
                .with_result(with_node_actions(result, &node_actions))
                .into());
            };
            let node_id = node.node_id.clone().unwrap_or_default();
            let count = restarts.get(&node_id).copied().unwrap_or(0);
            let node_value =
                json!({"id": node_id, "status": "fail", "restarts": count, "output": node.output});
            let rule = matching_rule(
                run,
                wait.when_node_fails,
                &node_id,
                count,
                &node_value,
                locals,
            )?;
            let Some(rule) = rule else {
                let why = if count > 0 {
                    format!(" after {count} restart(s)")
                } else {
                    String::new()
                };
                return Err(Failure::new(format!(
                    "execution {} failed at node `{node_id}`{why}; no `when_node_fails` rule applies",
                    params.execution_id
                ))
                .with_result(with_node_actions(result, &node_actions))
                .into());
            };
            if rule.then == NodeAction::Restart {
                restarts.insert(node_id.clone(), count + 1);
            }
            operate(
                run,
                step,
                index,
                deadline,
                params,
                &node_id,
                rule.then,
                count + 1,
            )
            .await?;
            node_actions.push(json!({"node": node_id, "action": rule.then.name()}));
            acted = true;
        } else if AOM_PAUSED.contains(&status.as_str()) {
            if let Some(node) = node_in(AOM_PAUSED) {
                let node_id = node.node_id.clone().unwrap_or_default();
                let node_status = node
                    .status
                    .as_ref()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                let node_value = json!({"id": node_id, "status": node_status, "restarts": 0, "output": node.output});
                if matching_rule(run, wait.when_node_pauses, &node_id, 0, &node_value, locals)?
                    .is_some()
                {
                    operate(
                        run,
                        step,
                        index,
                        deadline,
                        params,
                        &node_id,
                        NodeAction::Continue,
                        1,
                    )
                    .await?;
                    node_actions.push(json!({"node": node_id, "action": "continue"}));
                    acted = true;
                }
            }
        } else if is_terminal(&AOM_EXECUTION_SUCCEEDED, &status) {
            return Err(ended_as(
                &params.execution_id,
                &status,
                wait.until_status,
                with_node_actions(result, &node_actions),
            ));
        }
        if !acted {
            poller.sleep(&status).await?;
        }
    }
}

pub(crate) async fn functiongraph(
    run: &Run,
    step: &Step,
    wait: &FunctionGraphWait,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let params = ShowWorkflowExecutionParams {
        workflow_id: run.text(&wait.workflow_id, locals, "workflow_id")?,
        execution_id: run.text(&wait.execution_id, locals, "execution_id")?,
        x_get_workflow_full_history_data: None,
    };
    functiongraph_execution(run, step, &params, wait.waiting(), index, locals, deadline).await
}

/// Waits for the FunctionGraph execution `params` names as `wait` says (`functiongraph.wait`,
/// and `functiongraph.run` once it has started it).
pub(crate) async fn functiongraph_execution(
    run: &Run,
    step: &Step,
    params: &ShowWorkflowExecutionParams,
    wait: Waiting<'_>,
    index: Option<usize>,
    locals: &Locals,
    deadline: Deadline,
) -> Result<Value, StepError> {
    let mut poller = Poller::new(run, step, index, deadline, wait.poll, locals)?;
    loop {
        let call = run.read(deadline);
        let Some(body) = poller
            .poll(call.send(call.client().show_workflow_execution(params)))
            .await?
        else {
            poller.sleep("unknown (the last poll failed)").await?;
            continue;
        };
        let status = body
            .status
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let result = to_json(&body)?;
        if poller.reached(&status, wait.until_status, wait.until, locals, &result)? {
            return Ok(result);
        }
        if is_terminal(&FUNCTION_GRAPH_EXECUTION_SUCCEEDED, &status) {
            return Err(ended_as(
                &params.execution_id,
                &status,
                wait.until_status,
                result,
            ));
        }
        poller.sleep(&status).await?;
    }
}

/// `result` (a poll's) with the node actions the wait has taken so far.
fn with_node_actions(mut result: Value, node_actions: &[Value]) -> Value {
    result["node_actions"] = Value::Array(node_actions.to_vec());
    result
}

/// The execution reached a final status other than the wanted ones.
fn ended_as(execution_id: &str, status: &str, wanted: &[String], result: Value) -> StepError {
    Failure::new(format!(
        "execution {execution_id} ended as `{status}`, not {}",
        wanted.join(" / ")
    ))
    .with_result(result)
    .into()
}

/// The first rule that applies to this node; a `restart` rule stops applying once the node
/// has had `max` restarts.
fn matching_rule<'r>(
    run: &Run,
    rules: &'r [NodeRule],
    node_id: &str,
    restarts: u32,
    node: &Value,
    locals: &Locals,
) -> Result<Option<&'r NodeRule>, StepError> {
    for rule in rules {
        if rule
            .nodes
            .as_ref()
            .is_some_and(|nodes| !nodes.iter().any(|n| n == node_id))
        {
            continue;
        }
        if rule.then == NodeAction::Restart {
            let max = match &rule.max {
                None => 0,
                Some(max) => run.count(max, locals, "node rule max", 1..=MAX_JUMPS)?,
            };
            if restarts >= max {
                continue;
            }
        }
        if let Some(condition) = &rule.when {
            let mut scoped = locals.clone();
            scoped.push(("node".into(), node.clone()));
            if !run.condition(&condition.0, &scoped, "node rule when")? {
                continue;
            }
        }
        return Ok(Some(rule));
    }
    Ok(None)
}

/// Sends a node action and reports it.
///
/// Boxed: node actions are rare, and inline their request would make up more than half of
/// every waiting element's future (1.7 of 3 KB, measured), also while it sleeps between polls.
#[allow(clippy::too_many_arguments)]
fn operate<'a>(
    run: &'a Run,
    step: &'a Step,
    index: Option<usize>,
    deadline: Deadline,
    execution: &'a SearchWorkflowExecutionDetailParams,
    node_id: &'a str,
    action: NodeAction,
    count: u32,
) -> BoxFuture<'a, Result<(), StepError>> {
    Box::pin(async move {
        let params = StartPausingWorkflowExecutionsParams {
            workflow_id: execution.workflow_id.clone(),
            execution_id: execution.execution_id.clone(),
            action: PausingAction::from(action.name()),
            node_id: node_id.to_owned(),
        };
        crate::actions::operate_node(run, step, index, deadline, &params).await?;
        run.emit(Event::NodeAction {
            step: step.id.clone(),
            index,
            node: node_id.to_owned(),
            action: action.name().to_owned(),
            count,
        });
        Ok(())
    })
}

/// Polls, counts, reports, and sleeps between polls.
struct Poller<'r> {
    run: &'r Run,
    step: &'r Step,
    index: Option<usize>,
    deadline: Deadline,
    /// `poll.min` and `poll.max`, rendered when the wait began.
    min: Duration,
    max: Duration,
    /// When this wait began on the run's clock; the poll delay grows with the time since. A
    /// resumed wait counts from its resumption (it keeps no earlier start), so it polls at
    /// `poll.min` again for a while: more polls, but never a later look.
    began: std::time::Duration,
    count: u32,
}

impl<'r> Poller<'r> {
    /// A poller for `poll`, whose delays are rendered here (a template is held to the bounds
    /// the validator holds a literal to: at least `MIN_POLL_DELAY`, `min` within `max`).
    fn new(
        run: &'r Run,
        step: &'r Step,
        index: Option<usize>,
        deadline: Deadline,
        poll: &Poll,
        locals: &Locals,
    ) -> Result<Self, StepError> {
        let min = run.duration(&poll.min, locals, "poll.min")?;
        let max = run.duration(&poll.max, locals, "poll.max")?;
        let rendered = matches!(poll.min, Templated::Template(_))
            || matches!(poll.max, Templated::Template(_));
        if rendered && (min < MIN_POLL_DELAY || max < min) {
            return Err(Failure::new(format!(
                "poll: min {} and max {}: each at least {}, and min no longer than max",
                runbook_lang::duration::format(min),
                runbook_lang::duration::format(max),
                runbook_lang::duration::format(MIN_POLL_DELAY)
            ))
            .into());
        }
        Ok(Self {
            began: run.now(),
            run,
            step,
            index,
            deadline,
            min,
            max,
            count: 0,
        })
    }

    /// One poll. At or after the deadline the poll is still made once (the last look), and
    /// the sleep after it reports the timeout. A poll that fails in a way worth retrying
    /// (429, 5xx, a timeout) after the client's own retries gives `None`: the wait goes on.
    async fn poll<T>(
        &mut self,
        request: impl std::future::Future<Output = Result<T, StepError>>,
    ) -> Result<Option<T>, StepError> {
        if self.count >= MAX_POLLS {
            return Err(Failure::new(format!(
                "the wait polled {MAX_POLLS} times, the most one wait may; raise `poll.max` \
                 to wait longer between polls"
            ))
            .into());
        }
        self.count = self.count.saturating_add(1);
        self.run.count_poll(&self.step.id);
        match request.await {
            Ok(body) => Ok(Some(body)),
            Err(StepError::Failed(failure)) if failure.retryable => {
                self.run.emit(Event::Retry {
                    step: self.step.id.clone(),
                    index: self.index,
                    attempt: self.count,
                    delay_ms: 0,
                    reason: format!("poll failed, polling on: {}", failure.message),
                });
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    fn report(&self, status: &str) {
        self.run.emit(Event::Poll {
            step: self.step.id.clone(),
            index: self.index,
            poll: self.count,
            status: status.to_owned(),
            elapsed_ms: self.run.elapsed_ms(self.began),
        });
    }

    /// Reports the poll and says whether the wait is over: a wanted status, or `until`.
    fn reached(
        &self,
        status: &str,
        until_status: &[String],
        until: Option<&runbook_lang::Condition>,
        locals: &Locals,
        result: &Value,
    ) -> Result<bool, StepError> {
        self.report(status);
        Ok(until_status.iter().any(|s| s == status) || self.until(until, locals, result)?)
    }

    fn until(
        &self,
        until: Option<&runbook_lang::Condition>,
        locals: &Locals,
        result: &Value,
    ) -> Result<bool, StepError> {
        let Some(until) = until else {
            return Ok(false);
        };
        let mut scoped = locals.clone();
        scoped.push(("result".into(), result.clone()));
        self.run.condition(&until.0, &scoped, "until")
    }

    async fn sleep(&self, status: &str) -> Result<(), StepError> {
        // Validation refuses a shorter `poll.min`; a runbook that skipped it must not spin.
        let delay = poll_delay(
            self.min.max(MIN_POLL_DELAY),
            self.max,
            self.run.now().saturating_sub(self.began),
            self.run.random(),
        );
        let describe = |error: StepError| match error {
            StepError::TimedOut { scope, after, .. } => StepError::TimedOut {
                scope,
                after,
                detail: Some(format!(
                    "last status `{status}` after {} poll(s)",
                    self.count
                )),
            },
            other => other,
        };
        self.run.check(self.deadline).map_err(describe)?;
        self.run.pause(delay, self.deadline).await.map_err(describe)
    }
}
