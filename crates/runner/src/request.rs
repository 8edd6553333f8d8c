//! Sending one request on a run's behalf.
//!
//! - The deadline bounds everything under it: the client's retries and backoff stop at the
//!   deadline, and an attempt still waiting for its answer is cut (a read shortly after the
//!   deadline, so the last poll made at the deadline can come back; a change after the same
//!   grace it would get under cancellation).
//! - Cancellation drops a read at once. A request that starts or changes something may
//!   already have done so, so it gets a bounded grace to answer and its execution id is
//!   recorded; a second signal (the abort token) stops at once.
//! - A change whose outcome stays unknown — a lost answer, a timeout, a 5xx, a grace that ran
//!   out — is recorded in the state and reported, never dropped.
//!
//! Waiting on the network takes real time even under virtual time, so the grace is a real
//! timer; everything else goes through the run's `Environment`.

use std::future::Future;

use futures_util::future::BoxFuture;
use std::time::Duration;

use hwc_client::runtime::{ApiError, CallLimits, InvokeError, OperationMeta};
use hwc_client::{ApiResponse, Client};
use serde::Serialize;
use serde_json::Value;

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::runner::{Deadline, Run};
use crate::state::{Intent, UnknownOutcome};

/// How long a read may wait for its answer past the deadline: the last look at an execution
/// is made at the deadline and needs a moment to come back.
const READ_GRACE: Duration = Duration::from_millis(500);

/// A request that starts or changes something, described for the record: the journal's
/// intent before it is sent, and an unknown outcome if its answer is lost.
pub(crate) struct Change {
    step: String,
    index: Option<usize>,
    operation: &'static OperationMeta,
    /// The rendered parameters, as JSON (redacted before anything sees them).
    params: Value,
}

impl Change {
    pub(crate) fn new(
        step: &str,
        index: Option<usize>,
        operation: &'static OperationMeta,
        params: &impl Serialize,
    ) -> Self {
        Self {
            step: step.to_owned(),
            index,
            operation,
            params: serde_json::to_value(params).unwrap_or(Value::Null),
        }
    }

    fn param(&self, names: &[&str]) -> Option<String> {
        names
            .iter()
            .find_map(|name| self.params.get(*name).and_then(Value::as_str))
            .map(str::to_owned)
    }

    fn workflow_id(&self) -> Option<String> {
        self.param(&["workflow_id"])
    }

    /// A callback names its execution in a header parameter.
    fn execution_id(&self) -> Option<String> {
        self.param(&["execution_id", "x_workflow_run_id"])
    }
}

/// One request's limits and bookkeeping: get the client from [`Call::client`], send with
/// [`Call::send`].
pub(crate) struct Call<'r> {
    run: &'r Run,
    client: Client,
    deadline: Deadline,
    change: Option<Change>,
}

/// What the runner needs from an error of the client or of the catalogue.
pub(crate) trait RequestError {
    fn failure(&self, changes: bool) -> Failure;
    fn request_id(&self) -> Option<String>;
}

impl RequestError for ApiError {
    fn failure(&self, changes: bool) -> Failure {
        Failure::from_api(self, changes)
    }

    fn request_id(&self) -> Option<String> {
        ApiError::request_id(self).map(str::to_owned)
    }
}

impl RequestError for InvokeError {
    fn failure(&self, changes: bool) -> Failure {
        Failure::from_invoke(self, changes)
    }

    fn request_id(&self) -> Option<String> {
        match self {
            InvokeError::Api(api) => RequestError::request_id(api),
            _ => None,
        }
    }
}

impl Run {
    /// A request that only reads.
    pub(crate) fn read(&self, deadline: Deadline) -> Call<'_> {
        self.call(deadline, None)
    }

    /// A request that starts or changes something.
    pub(crate) fn change(&self, deadline: Deadline, change: Change) -> Call<'_> {
        self.call(deadline, Some(change))
    }

    fn call(&self, deadline: Deadline, change: Option<Change>) -> Call<'_> {
        let client = self.client_for(deadline.target);
        let client = match deadline.at {
            None => client,
            Some(at) => {
                let answer_by = if change.is_some() {
                    at.saturating_add(self.grace())
                } else {
                    at.max(self.now()).saturating_add(READ_GRACE)
                };
                let limits = CallLimits {
                    retries_until: at,
                    answer_by,
                };
                Client::new(client.transport().limited(limits))
            }
        };
        Call {
            run: self,
            client,
            deadline,
            change,
        }
    }
}

impl Call<'_> {
    /// The client to build the request with; it carries the deadline's limits.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Sends `request`. A change is not sent past the deadline; a read is (the last look).
    ///
    /// The sending is boxed: a request in flight (the client's retries, the HTTP stack's
    /// futures) takes kilobytes, and inline it would be part of every step's and fan-out
    /// element's future all along, also while it sleeps between polls.
    pub(crate) fn send<'a, T: Send + 'a, E: RequestError + Send + 'a>(
        &'a self,
        request: impl Future<Output = Result<ApiResponse<T>, E>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StepError>> {
        Box::pin(self.sending(request))
    }

    async fn sending<T, E: RequestError>(
        &self,
        request: impl Future<Output = Result<ApiResponse<T>, E>>,
    ) -> Result<T, StepError> {
        let run = self.run;
        let cancel = run.cancel_token();
        if cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let sent_at = run.timestamp();
        if let Some(change) = &self.change {
            run.check(self.deadline)?;
            let intent = Intent {
                step: change.step.clone(),
                index: change.index,
                service: change.operation.service.name.to_owned(),
                operation: change.operation.id.to_owned(),
                params: run.redactor().value(change.params.clone()),
                at: sent_at.clone(),
                target: run.target_spec(self.deadline.target),
            };
            let recorded = run.outside(run.observer().before_change(&intent)).await;
            recorded.map_err(|error| {
                StepError::from(Failure::new(format!(
                    "{} was not sent: its intent could not be recorded in the run store ({error})",
                    change.operation.id
                )))
            })?;
        }
        tokio::pin!(request);
        let answer = tokio::select! {
            answer = &mut request => answer,
            () = cancel.cancelled() => {
                let Some(change) = &self.change else {
                    return Err(StepError::Cancelled);
                };
                let grace = run.grace();
                run.emit(Event::AwaitingAnswer {
                    step: change.step.clone(),
                    index: change.index,
                    operation: change.operation.id.to_owned(),
                    grace_ms: u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                });
                tokio::select! {
                    answer = &mut request => answer,
                    () = tokio::time::sleep(grace) => {
                        let reason = format!(
                            "the run was cancelled and no answer came within the {} grace",
                            humantime::format_duration(grace)
                        );
                        self.unknown(change, sent_at, None, reason);
                        return Err(StepError::Cancelled);
                    }
                    () = run.abort_token().cancelled() => {
                        let reason = "the run was stopped at once (a second signal) before the answer came".to_owned();
                        self.unknown(change, sent_at, None, reason);
                        return Err(StepError::Cancelled);
                    }
                }
            }
        };
        let error = match answer {
            Ok(response) => return Ok(response.body),
            Err(error) => error,
        };
        let failure = error.failure(self.change.is_some());
        let Some(change) = &self.change else {
            return Err(failure.into());
        };
        if failure.may_have_taken_effect {
            self.unknown(change, sent_at, error.request_id(), failure.message.clone());
        }
        match run.check(self.deadline) {
            Err(StepError::TimedOut { scope, after, .. }) => Err(StepError::TimedOut {
                scope,
                after,
                detail: Some(failure.message),
            }),
            _ => Err(failure.into()),
        }
    }

    fn unknown(
        &self,
        change: &Change,
        sent_at: String,
        request_id: Option<String>,
        reason: String,
    ) {
        let outcome = UnknownOutcome {
            step: change.step.clone(),
            index: change.index,
            service: change.operation.service.name.to_owned(),
            operation: change.operation.id.to_owned(),
            workflow_id: change.workflow_id(),
            execution_id: change.execution_id(),
            sent_at,
            request_id,
            reason,
            target: self.run.target_spec(self.deadline.target),
        };
        self.run.record_unknown(outcome);
    }
}
