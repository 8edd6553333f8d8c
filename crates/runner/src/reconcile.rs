//! Settling a change whose outcome is unknown — its answer was lost, or the process died
//! between sending it and recording the answer — by looking through the API, never by
//! guessing. None of these APIs takes an idempotency token, so this is what keeps a run from
//! starting or changing anything twice.
//!
//! | change | took effect when | otherwise |
//! |---|---|---|
//! | start (AOM, FunctionGraph), sync run | exactly one execution of the workflow, unknown to the run store, began within [sent − skew, now + skew] | none after a second look → sent; several → the run stops for a decision |
//! | node action (restart, skip, continue) | the node is no longer in the state the action applies to, or failed again after it was sent | sent |
//! | callback | the state no longer waits for a callback | sent |
//! | stop | the execution is no longer running | sent |
//! | other `call` | cannot be looked up | the run stops for a decision |
//!
//! [`Run::settle`] drives it: first what a resumed run's journal says (`resume.rs`), then the
//! request, then, if its answer is lost, one look and at most one more send.

use std::future::Future;
use std::time::Duration;

use hwc_client::operations::{
    ListFunctionGraphWorkflowExecutionsParams, ListWorkflowExecutionsParams,
    SearchWorkflowExecutionDetailParams, ShowWorkflowExecutionParams,
};
use hwc_client::runtime::{saturating_after, saturating_before, OperationMeta};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::runner::{rfc3339, Deadline, Run};
use crate::state::{Decision, NeedsDecision};

/// Page size when listing FunctionGraph executions (the service returns at most 200).
const PAGE: i32 = 200;

/// At most this many pages are read: a workflow with more executions in the window than
/// that cannot be reconciled by listing, and the run stops for a decision.
const MAX_PAGES: usize = 50;

/// One change being made: which step element, which operation.
pub(crate) struct Making<'s> {
    pub(crate) step: &'s str,
    pub(crate) index: Option<usize>,
    pub(crate) operation: &'static OperationMeta,
}

/// What looking found.
pub(crate) enum Look<T> {
    /// It took effect; this is its result.
    Applied(T),
    NotApplied,
}

impl Run {
    /// Makes a change once. `look(since)` says whether the change already took effect, for a
    /// change sent at `since` (RFC 3339); `send()` sends it.
    pub(crate) async fn settle<T, L, LF, S, SF>(
        &self,
        making: Making<'_>,
        look: L,
        send: S,
    ) -> Result<T, StepError>
    where
        L: Fn(String) -> LF,
        LF: Future<Output = Result<Look<T>, StepError>>,
        S: Fn() -> SF,
        SF: Future<Output = Result<T, StepError>>,
    {
        if let Some(intent) =
            self.ledger
                .take_unanswered(making.step, making.index, making.operation.id)
        {
            let decided = self.take_decision(|d| *d == Decision::Start).is_some();
            let found = if decided {
                Look::NotApplied
            } else {
                look(intent.at.clone()).await?
            };
            match found {
                Look::Applied(result) => {
                    self.reconciled(&making, "applied", "the journal holds its intent but not its answer; the service shows it took effect, so it was not sent again");
                    return Ok(result);
                }
                Look::NotApplied => {
                    let why = if decided {
                        "sent again, as decided (--start)"
                    } else {
                        "the journal holds its intent but not its answer; the service shows it did not take effect, so it is sent"
                    };
                    self.reconciled(&making, "not_applied", why);
                }
            }
        }
        let mut sends = 0;
        loop {
            sends += 1;
            let sent_at = self.timestamp();
            let failure = match send().await {
                Err(StepError::Failed(failure)) if failure.may_have_taken_effect => failure,
                other => return other,
            };
            match look(sent_at).await? {
                Look::Applied(result) => {
                    self.reconciled(
                        &making,
                        "applied",
                        "its answer was lost; the service shows it took effect",
                    );
                    return Ok(result);
                }
                Look::NotApplied if sends < 2 => {
                    self.reconciled(&making, "not_applied", "its answer was lost; the service shows it did not take effect, so it is sent once more");
                }
                Look::NotApplied => return Err(failure.into()),
            }
        }
    }

    /// Reports a settled outcome and drops it from the unknown ones. An execution adopted
    /// is reported next, as `execution_started`.
    fn reconciled(&self, making: &Making<'_>, decision: &str, detail: &str) {
        self.emit(Event::OutcomeReconciled {
            step: making.step.to_owned(),
            index: making.index,
            operation: making.operation.id.to_owned(),
            decision: decision.to_owned(),
            detail: detail.to_owned(),
        });
        self.with_state(|state| {
            state
                .unknown_outcomes
                .retain(|o| !(o.step == making.step && o.index == making.index));
        });
    }

    /// The execution a start of `workflow_id` sent at `sent_at` began: listed within the
    /// window, unknown to this run and to the run store. A decision (`--adopt`) answers
    /// first; several candidates stop the run for one.
    pub(crate) async fn find_started(
        &self,
        making: &Making<'_>,
        workflow_id: &str,
        sent_at: &str,
        deadline: Deadline,
    ) -> Result<Look<String>, StepError> {
        if let Some(Decision::Adopt(execution_id)) =
            self.take_decision(|d| matches!(d, Decision::Adopt(_)))
        {
            return Ok(Look::Applied(execution_id));
        }
        let skew = self.reconcile_skew();
        let sent = OffsetDateTime::parse(sent_at, &Rfc3339).unwrap_or_else(|_| self.now_utc());
        let from = saturating_before(sent, skew);
        let others = self
            .outside(
                self.observer()
                    .known_executions(workflow_id, &rfc3339(from)),
            )
            .await;
        let others = others.map_err(|error| {
            Failure::new(format!(
                "cannot tell which executions of {workflow_id} other runs started: {error}"
            ))
        })?;
        let mut looks = 0;
        loop {
            looks += 1;
            // Read again at each look: a sibling's start may have been recorded meanwhile.
            let mut known: Vec<String> = self.read_state(|state| {
                state
                    .executions
                    .iter()
                    .map(|e| e.execution_id.clone())
                    .collect()
            });
            known.extend(others.iter().cloned());
            let to = saturating_after(self.now_utc(), skew);
            let listed = match making.operation.service.name {
                "aom" => self.list_aom(workflow_id, from, to, deadline).await?,
                _ => {
                    self.list_functiongraph(workflow_id, from, to, deadline)
                        .await?
                }
            };
            let mut candidates: Vec<(i128, String)> = listed
                .into_iter()
                .filter(|(_, id)| !known.contains(id))
                .collect();
            candidates.sort();
            match candidates.len() {
                0 if looks < 2 => {
                    self.pause(crate::runner::RECONCILE_SETTLE, deadline)
                        .await?;
                }
                0 => return Ok(Look::NotApplied),
                1 => {
                    let (_, id) = candidates.remove(0);
                    return Ok(Look::Applied(id));
                }
                _ => {
                    let candidates: Vec<String> =
                        candidates.into_iter().map(|(_, id)| id).collect();
                    return Err(self.needs_decision(NeedsDecision {
                        step: making.step.to_owned(),
                        index: making.index,
                        service: making.operation.service.name.to_owned(),
                        operation: making.operation.id.to_owned(),
                        workflow_id: Some(workflow_id.to_owned()),
                        window: Some((rfc3339(from), rfc3339(to))),
                        reason: format!(
                            "its answer was lost and {} executions of {workflow_id} that no run recorded began within the window; any of them may be the one it started",
                            candidates.len()
                        ),
                        candidates,
                    }));
                }
            }
        }
    }

    /// Stops the run for a person to decide.
    pub(crate) fn needs_decision(&self, needs: NeedsDecision) -> StepError {
        let needs = NeedsDecision {
            reason: self.redactor().text(&needs.reason),
            workflow_id: self.redactor().optional_text(needs.workflow_id.as_deref()),
            ..needs
        };
        let reason = format!("{} {}: {}", needs.service, needs.operation, needs.reason);
        self.with_state(|state| state.needs_decision = Some(needs));
        StepError::Suspended(reason)
    }

    /// AOM lists every execution of a workflow at once; the window is applied here.
    async fn list_aom(
        &self,
        workflow_id: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Vec<(i128, String)>, StepError> {
        let params = ListWorkflowExecutionsParams {
            workflow_id: workflow_id.to_owned(),
            x_enterprise_project_id: None,
        };
        let call = self.read(deadline);
        let briefs = call
            .send(call.client().list_workflow_executions(&params))
            .await?;
        let (from, to) = (millis(from), millis(to));
        Ok(briefs
            .into_iter()
            .filter_map(|brief| {
                let begin = i128::from(brief.begin_time?);
                (from..=to)
                    .contains(&begin)
                    .then_some((begin, brief.execution_id?))
            })
            .collect())
    }

    /// FunctionGraph filters by begin time (to the second) and pages.
    async fn list_functiongraph(
        &self,
        workflow_id: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Vec<(i128, String)>, StepError> {
        let mut found = Vec::new();
        for page in 0..MAX_PAGES {
            let params = ListFunctionGraphWorkflowExecutionsParams {
                workflow_id: workflow_id.to_owned(),
                limit: Some(PAGE),
                offset: Some(PAGE * page as i32),
                status: None,
                start_time: Some(fg_time(from)),
                end_time: Some(fg_time(saturating_after(to, Duration::from_secs(1)))),
            };
            let call = self.read(deadline);
            let listed = call
                .send(
                    call.client()
                        .list_function_graph_workflow_executions(&params),
                )
                .await?;
            let executions = listed.executions.unwrap_or_default();
            let full = executions.len() >= PAGE as usize;
            found.extend(executions.into_iter().filter_map(|brief| {
                let begin = brief
                    .begin_time
                    .as_deref()
                    .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                    .map_or(0, millis);
                Some((begin, brief.execution_id?))
            }));
            if !full {
                return Ok(found);
            }
        }
        Err(Failure::new(format!(
            "more than {} executions of {workflow_id} began within the window; cannot tell which one the lost request started",
            MAX_PAGES * PAGE as usize
        ))
        .into())
    }

    /// A FunctionGraph execution as `ShowWorkflowExecution` gives it.
    pub(crate) async fn show_functiongraph(
        &self,
        workflow_id: &str,
        execution_id: &str,
        deadline: Deadline,
    ) -> Result<hwc_client::models::ShowWorkflowExecutionResponse, StepError> {
        let params = ShowWorkflowExecutionParams {
            workflow_id: workflow_id.to_owned(),
            execution_id: execution_id.to_owned(),
            x_get_workflow_full_history_data: None,
        };
        let call = self.read(deadline);
        call.send(call.client().show_workflow_execution(&params))
            .await
    }

    /// An AOM execution with its nodes.
    pub(crate) async fn show_aom(
        &self,
        workflow_id: &str,
        execution_id: &str,
        deadline: Deadline,
    ) -> Result<hwc_client::models::SearchWorkflowExecutionDetailResponse, StepError> {
        let params = SearchWorkflowExecutionDetailParams {
            workflow_id: workflow_id.to_owned(),
            execution_id: execution_id.to_owned(),
        };
        let call = self.read(deadline);
        call.send(call.client().search_workflow_execution_detail(&params))
            .await
    }
}

/// Milliseconds since the epoch.
pub(crate) fn millis(time: OffsetDateTime) -> i128 {
    time.unix_timestamp_nanos() / 1_000_000
}

/// FunctionGraph's list window format, `yyyy-MM-ddTHH:mm:ssZ`, in UTC.
fn fg_time(time: OffsetDateTime) -> String {
    let time = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// Whether a FunctionGraph execution still waits at `state_id` for a callback.
pub(crate) fn waits_for_callback(
    execution: &hwc_client::models::ShowWorkflowExecutionResponse,
    state_id: &str,
) -> bool {
    let running = |status: Option<&hwc_client::models::FunctionGraphExecutionStatus>| {
        status.is_some_and(|s| s.to_string() == "running")
    };
    running(execution.status.as_ref())
        && execution
            .node_execution_details
            .iter()
            .flatten()
            .filter(|node| node.node_id.as_deref() == Some(state_id))
            .filter_map(|node| node.executions.as_ref()?.last())
            .any(|last| running(last.status.as_ref()))
}
