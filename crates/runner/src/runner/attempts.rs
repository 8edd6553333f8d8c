//! One step: its deadline, its `for_each` elements (see `fan_out.rs`), and each element's
//! attempts as `retry` says.

use std::time::Duration;

use runbook_lang::limits::{MAX_RETRY_ATTEMPTS, MAX_STEP_ATTEMPTS};
use runbook_lang::Step;
use serde_json::Value;

use crate::event::Event;
use crate::failure::{Failure, Scope, StepError};
use crate::state::StepStatus;

use super::{Deadline, Locals, Run};

/// How a step that ended with `error` is shown.
pub(super) fn step_status(error: &StepError) -> StepStatus {
    match error {
        StepError::Cancelled | StepError::Suspended(_) => StepStatus::Cancelled,
        StepError::TimedOut { .. } => StepStatus::TimedOut,
        StepError::Failed(_) | StepError::Runbook(_) => StepStatus::Failed,
    }
}

/// Whether `retry.on` covers this failure. `retryable` on a step that starts or changes
/// something covers only failures that provably had no effect.
fn retries_on(retry: &runbook_lang::Retry, failure: &Failure, mutating: bool) -> bool {
    retry.on.iter().any(|on| match on {
        runbook_lang::RetryOn::Status(status) => failure.status == Some(*status),
        runbook_lang::RetryOn::Name(name) => match name.as_str() {
            "any" => true,
            "retryable" if mutating => failure.retryable && !failure.may_have_taken_effect,
            "retryable" => failure.retryable,
            code => failure.error_code.as_deref() == Some(code),
        },
    })
}

impl Run {
    /// Runs one step (all its `for_each` elements, with retries) and records the outcome;
    /// `locals` are the names its block gives it (none for a step of `steps`). A step the
    /// run's state holds keeps its result there (it may be large: it is not copied); a step
    /// inside a block, which the state does not hold, hands it back.
    pub(crate) async fn run_step(
        &self,
        step: &Step,
        run_deadline: Deadline,
        locals: &Locals,
    ) -> Result<Option<Value>, StepError> {
        let began = self.began(&step.id);
        self.mark(&step.id, StepStatus::Running, None, None);
        let outcome = match (
            self.step_deadline(step, began, run_deadline, locals),
            &step.for_each,
        ) {
            (Err(error), _) => Err(error),
            (Ok(deadline), None) => self.attempts(step, None, locals.clone(), deadline).await,
            (Ok(deadline), Some(list)) => self.fan_out(step, list, deadline, locals).await,
        };
        let elapsed_ms = self.elapsed_ms(began);
        match outcome {
            Ok(result) => {
                let held = self.read_state(|state| state.steps.contains_key(&step.id));
                let (recorded, handed_back) = if held {
                    (Some(result), None)
                } else {
                    (None, Some(result))
                };
                self.mark(&step.id, StepStatus::Succeeded, recorded, None);
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    index: None,
                    status: StepStatus::Succeeded,
                    elapsed_ms,
                    error: None,
                });
                Ok(handed_back)
            }
            Err(error) => {
                let status = step_status(&error);
                let result = match &error {
                    StepError::Failed(failure) => failure.result.clone(),
                    _ => None,
                };
                self.mark(&step.id, status, result, Some(error.to_string()));
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    index: None,
                    status,
                    elapsed_ms,
                    error: Some(error.to_string()),
                });
                Err(error)
            }
        }
    }

    /// The step's deadline: its `timeout` from `began` (rendered if it is a template; a
    /// rendered zero is refused as a literal one is), or the run's when that comes first.
    fn step_deadline(
        &self,
        step: &Step,
        began: Duration,
        run_deadline: Deadline,
        locals: &Locals,
    ) -> Result<Deadline, StepError> {
        let Some(timeout) = &step.timeout else {
            return Ok(run_deadline);
        };
        let timeout = self.duration(timeout, locals, "timeout")?;
        if timeout.is_zero() {
            return Err(Failure::new("timeout: a step's timeout must be longer than 0").into());
        }
        let at = began.saturating_add(timeout);
        Ok(match run_deadline.at {
            Some(run_at) if run_at <= at => run_deadline,
            _ => Deadline {
                at: Some(at),
                scope: Scope::Step,
                since: began,
                target: run_deadline.target,
            },
        })
    }

    /// One element of a step: the action, retried as `retry` says.
    pub(crate) async fn attempts(
        &self,
        step: &Step,
        index: Option<usize>,
        locals: Locals,
        deadline: Deadline,
    ) -> Result<Value, StepError> {
        // Each element of a fan-out starts here: a cancelled one starts no more of them.
        self.yield_and_check(deadline).await?;
        let began = self.now();
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            label: step.label().to_owned(),
            action: step.action().map_or("", |a| a.key()).to_owned(),
            index,
            items: None,
        });
        let outcome = self.retried(step, index, locals, deadline).await;
        if index.is_some() {
            self.emit(Event::StepFinished {
                step: step.id.clone(),
                index,
                status: match &outcome {
                    Ok(_) => StepStatus::Succeeded,
                    Err(error) => step_status(error),
                },
                elapsed_ms: self.elapsed_ms(began),
                error: outcome.as_ref().err().map(ToString::to_string),
            });
        }
        outcome
    }

    /// The element's action on its target, retried as `retry` says; every way it ends,
    /// early ones included, reaches [`Run::attempts`], which logs the element's end.
    async fn retried(
        &self,
        step: &Step,
        index: Option<usize>,
        locals: Locals,
        deadline: Deadline,
    ) -> Result<Value, StepError> {
        let Some(action) = step.action() else {
            return Err(Failure::new("the step has no single action").into());
        };
        let deadline = match &step.target {
            None => deadline,
            Some(target) => Deadline {
                target: self.reach(&step.id, target, &locals)?,
                ..deadline
            },
        };
        let attempts = match &step.retry {
            None => 1,
            Some(retry) => self
                .count(
                    &retry.attempts,
                    &locals,
                    "retry.attempts",
                    1..=MAX_RETRY_ATTEMPTS,
                )?
                .max(1),
        };
        // A resumed step goes on with the attempts it had left.
        let mut attempt = self.ledger.retries(&step.id, index);
        let outcome = loop {
            attempt = attempt.saturating_add(1);
            let allowed = self.with_state(|state| {
                state
                    .steps
                    .get_mut(super::block::owner(&step.id))
                    .is_none_or(|s| {
                        let allowed = s.attempts < MAX_STEP_ATTEMPTS;
                        if allowed {
                            s.attempts += 1;
                        }
                        allowed
                    })
            });
            if !allowed {
                break Err(Failure::new(format!(
                    "the step made {MAX_STEP_ATTEMPTS} attempts over its elements and \
                     retries, the most one step may make in a run; lower `retry.attempts` \
                     or split the `for_each` list over several steps"
                ))
                .into());
            }
            let result =
                crate::actions::execute(self, step, action, index, &locals, deadline).await;
            let Some(retry) = &step.retry else {
                break result;
            };
            let reason = match &result {
                Ok(value) => match &retry.until {
                    None => break result,
                    Some(until) => {
                        let mut scoped = locals.clone();
                        scoped.push(("result".into(), value.clone()));
                        match self.condition(&until.0, &scoped, "retry.until") {
                            Ok(true) => break result,
                            Ok(false) => format!("`until: {}` does not hold yet", until.0),
                            Err(error) => break Err(error),
                        }
                    }
                },
                Err(StepError::Failed(failure))
                    if retries_on(retry, failure, action.is_mutating()) =>
                {
                    failure.message.clone()
                }
                Err(_) => break result,
            };
            if attempt >= attempts {
                break match result {
                    Ok(_) => {
                        Err(Failure::new(format!("{reason} after {attempts} attempt(s)")).into())
                    }
                    Err(error) => Err(error),
                };
            }
            let first = self.duration(&retry.delay, &locals, "retry.delay")?;
            let most = self.duration(&retry.max_delay, &locals, "retry.max_delay")?;
            let delay = if retry.jitter {
                hwc_client::runtime::full_jitter(first, most, attempt, self.random())
            } else {
                hwc_client::runtime::exponential(first, most, attempt)
            };
            self.emit(Event::Retry {
                step: step.id.clone(),
                index,
                attempt,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason,
            });
            self.pause(delay, deadline).await?;
        };
        outcome
    }
}
