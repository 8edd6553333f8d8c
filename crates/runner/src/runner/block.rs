//! A block (`do`): its body once, once per `for_each` element (the fan-out runs the
//! elements, and each comes here), or once per `repeat` pass. Each step of the body runs
//! under its path (`batch[2].drain`), so its events, intents and reconciliation name it
//! apart from every other element's, and a block checkpoint records its end: a resumed run
//! goes on inside the body without running a finished step again.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use runbook_lang::limits::{MAX_JUMPS, MAX_REPEAT_PASSES};
use runbook_lang::{Repeat, Step};
use serde_json::{Map, Value};

use crate::event::Event;
use crate::failure::{Failure, Scope, StepError};
use crate::resume::BodyRecord;
use crate::state::StepStatus;

use super::attempts::step_status;
use super::{Deadline, Locals, Run};

/// The top-level step a step's path belongs to: `batch` for `batch[2].drain` (a block's
/// step) or `patch[1].finally.restore` (a sub-runbook's). Its state counts the attempts and
/// polls of every step inside it, and a report draws them on its bar.
pub fn owner(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// `locals` in a body whose steps so far are `frame` (a pass's, read by `until`).
pub(super) fn with_frame(locals: &Locals, frame: &Map<String, Value>) -> Locals {
    let (scoped, view) = locals.in_body();
    for (id, result) in frame {
        view.record(id, result);
    }
    scoped
}

/// How one step of a body ended, when the body goes on.
pub(super) struct Ended {
    pub(super) status: StepStatus,
    pub(super) result: Value,
}

impl Run {
    /// One element of a block step (or the block itself, when it has no `for_each`). Boxed
    /// and declared `Send`: a body runs steps, which may be blocks, and the compiler cannot
    /// see through that cycle on its own.
    pub(crate) fn block<'a>(
        &'a self,
        step: &'a Step,
        body: &'a [Step],
        index: Option<usize>,
        locals: &'a Locals,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        Box::pin(async move {
            if let Some(repeat) = &step.repeat {
                return self.repeat(step, body, repeat, locals, deadline).await;
            }
            let path = match index {
                Some(index) => format!("{}[{index}]", step.id),
                None => step.id.clone(),
            };
            // A failed block reads as `{status}`, as any failed step does: the steps that
            // ran are in the log and the journal, not in a half-filled map.
            self.body(&path, body, locals, deadline)
                .await
                .map(Value::Object)
                .map_err(|error| match error {
                    StepError::Failed(failure) => StepError::Failed(Failure {
                        result: None,
                        ..failure
                    }),
                    other => other,
                })
        })
    }

    /// The body again until `until` holds; the result is every pass's, in order.
    async fn repeat(
        &self,
        step: &Step,
        body: &[Step],
        repeat: &Repeat,
        locals: &Locals,
        deadline: Deadline,
    ) -> Result<Value, StepError> {
        let most = self.count(&repeat.max, locals, "repeat.max", 1..=MAX_REPEAT_PASSES)?;
        let mut passes = Vec::new();
        for pass in 0..most {
            let path = format!("{}[{pass}]", step.id);
            // A pass the journal holds already waited before it began.
            if pass > 0 && !self.ledger.has_body(&path) {
                if let Some(delay) = &repeat.delay {
                    let delay = self.duration(delay, locals, "repeat.delay")?;
                    self.pause(delay, deadline).await?;
                }
            }
            let frame = match self.body(&path, body, locals, deadline).await {
                Ok(frame) => frame,
                Err(StepError::Failed(mut failure)) => {
                    passes.push(failure.result.take().unwrap_or(Value::Null));
                    failure.message = format!("pass {}: {}", pass + 1, failure.message);
                    failure.result = Some(Value::Array(passes));
                    return Err(StepError::Failed(failure));
                }
                Err(error) => return Err(error),
            };
            let until = &repeat.until.0;
            let done = self.condition(until, &with_frame(locals, &frame), "repeat.until")?;
            passes.push(Value::Object(frame));
            if done {
                return Ok(Value::Array(passes));
            }
        }
        let mut failure = Failure::new(format!(
            "`until: {}` still does not hold after {most} pass(es)",
            repeat.until.0
        ));
        failure.result = Some(Value::Array(passes));
        Err(failure.into())
    }

    /// Runs the steps of one body at `path` in order, as `run_steps` runs the run's: `when`,
    /// `on_failure` (within the body) and `branch` (`end` ends the body). The result maps
    /// each step's id to what it read as: its result, or `{status}`.
    pub(super) async fn body(
        &self,
        path: &str,
        steps: &[Step],
        locals: &Locals,
        deadline: Deadline,
    ) -> Result<Map<String, Value>, StepError> {
        let (mut frame, mut position) = match self.ledger.take_body(path) {
            None => (Map::new(), 0),
            Some(BodyRecord {
                next: None,
                error,
                frame,
                ..
            }) => {
                let error = error.unwrap_or_else(|| "the body had failed".to_owned());
                return Err(Failure {
                    result: Some(Value::Object(frame)),
                    ..Failure::new(error)
                }
                .into());
            }
            Some(record) => (record.frame, record.next.unwrap_or(0)),
        };
        // What the body's steps read as `steps.<id>`: recorded once per step, not copied
        // for each next one.
        let (scoped, view) = locals.in_body();
        for (id, result) in &frame {
            view.record(id, result);
        }
        let mut jumps: HashMap<usize, u32> = HashMap::new();
        while let Some(inner) = steps.get(position) {
            self.yield_and_check(deadline).await?;
            let pathed = Step {
                id: format!("{path}.{}", inner.id),
                ..inner.clone()
            };
            let outcome = match self.should_run(inner, &scoped) {
                Ok(true) => self
                    .run_step(&pathed, deadline, &scoped)
                    .await
                    .map(|result| Ended {
                        status: StepStatus::Succeeded,
                        result: result.unwrap_or_default(),
                    }),
                Ok(false) => {
                    self.skip(&pathed);
                    Ok(Ended {
                        status: StepStatus::Skipped,
                        result: StepStatus::Skipped.placeholder(),
                    })
                }
                Err(error) => Err(error),
            };
            let (ended, next) = match outcome {
                Ok(ended) => {
                    let next = match inner.branch {
                        Some(_) => branch_target(steps, position, &ended.result),
                        None => position + 1,
                    };
                    (ended, next)
                }
                Err(error) => {
                    // The block's own deadline, a cancellation or a run-level end stop the
                    // body here; the step runs again if the run is resumed.
                    self.check(deadline)?;
                    let status = step_status(&error);
                    let failure = match error {
                        StepError::Failed(failure) => failure,
                        StepError::TimedOut {
                            scope: Scope::Step, ..
                        } => Failure::new(error.to_string()),
                        other => return Err(other),
                    };
                    let ended = Ended {
                        status,
                        result: failure.result.clone().unwrap_or(status.placeholder()),
                    };
                    match self.failure_route(inner, steps, position, &mut jumps, &scoped) {
                        Ok(next) => (ended, next),
                        Err(why) => {
                            let message = match why {
                                Some(why) => format!("{}; {why}", failure.message),
                                None => failure.message.clone(),
                            };
                            let message = format!("step `{}`: {message}", inner.id);
                            view.record(&inner.id, &ended.result);
                            frame.insert(inner.id.clone(), ended.result.clone());
                            self.block_checkpoint(path, &inner.id, ended, None, Some(&message));
                            return Err(Failure {
                                message,
                                result: Some(Value::Object(frame)),
                                ..failure
                            }
                            .into());
                        }
                    }
                }
            };
            view.record(&inner.id, &ended.result);
            frame.insert(inner.id.clone(), ended.result.clone());
            for jumped in steps.get(position + 1..next).unwrap_or_default() {
                self.emit(Event::StepSkipped {
                    step: format!("{path}.{}", jumped.id),
                    reason: format!("branch `{}` went past it", inner.id),
                });
                let skipped = StepStatus::Skipped.placeholder();
                view.record(&jumped.id, &skipped);
                frame.insert(jumped.id.clone(), skipped);
            }
            self.block_checkpoint(path, &inner.id, ended, Some(next), None);
            position = next;
        }
        Ok(frame)
    }

    /// Where a body goes after `inner` failed: the next step (`continue`), a sibling
    /// (`goto`), or nowhere (`Err`, with why when a jump was refused).
    fn failure_route(
        &self,
        inner: &Step,
        steps: &[Step],
        position: usize,
        jumps: &mut HashMap<usize, u32>,
        locals: &Locals,
    ) -> Result<usize, Option<String>> {
        if inner.on_failure.continues() {
            return Ok(position + 1);
        }
        let Some(goto) = inner.on_failure.goto() else {
            return Err(None);
        };
        let Some(target) = steps.iter().position(|s| s.id == goto.goto) else {
            return Err(None);
        };
        let taken = jumps.entry(position).or_default();
        *taken = taken.saturating_add(1);
        if let Some(max) = &goto.max {
            let max = self
                .count(max, locals, "on_failure.max", 1..=MAX_JUMPS)
                .map_err(|bad| Some(bad.to_string()))?;
            if *taken > max {
                return Err(Some(format!(
                    "`on_failure` already went to `{}` {max} time(s)",
                    goto.goto
                )));
            }
        }
        Ok(target)
    }
}

/// Where a `branch` step at `position` of `steps` (the run's, or a body's) sends them: the
/// step its result names, past the last step for `end`, or the next step when no entry
/// matched (the validator refuses a target that is not a later step of the same list).
pub(super) fn branch_target(steps: &[Step], position: usize, result: &Value) -> usize {
    match result["goto"].as_str() {
        None => position + 1,
        Some(runbook_lang::BRANCH_END) => steps.len(),
        Some(id) => steps
            .iter()
            .position(|s| s.id == id)
            .filter(|&target| target > position)
            .unwrap_or(position + 1),
    }
}
