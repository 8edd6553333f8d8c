//! The order of the steps: each in turn, `when`, `on_failure` routing (continue, goto,
//! stop), the outputs, and the end of the run.

use std::sync::atomic::Ordering;

use runbook_lang::limits::MAX_JUMPS;
use runbook_lang::Step;
use serde_json::{Map, Value};

use crate::event::Event;
use crate::failure::{Failure, Scope, StepError};
use crate::resume::{Phase, Position};
use crate::state::{HandledFailure, RunStatus, StepStatus};

use super::attempts::step_status;
use super::block::branch_target;
use super::{Locals, Run};

impl Run {
    pub(super) async fn run_steps(&self, first: usize) {
        let steps = &self.runbook.steps;
        let run_deadline = self.run_deadline();
        let mut index = first;
        while index < steps.len() {
            let step = &steps[index];
            self.with_state(|state| state.current_step = Some(step.id.clone()));
            let outcome = match self.yield_and_check(run_deadline).await {
                Err(error) => {
                    self.stopped_before(step, &error);
                    Err(error)
                }
                Ok(()) => match self.should_run(step, &Locals::default()) {
                    Ok(true) => self
                        .run_step(step, run_deadline, &Locals::default())
                        .await
                        .map(drop),
                    Ok(false) => {
                        self.skip(step);
                        Ok(())
                    }
                    Err(error) => {
                        self.mark(&step.id, StepStatus::Failed, None, Some(error.to_string()));
                        Err(error)
                    }
                },
            };
            let branched = outcome.is_ok() && step.branch.is_some();
            let next = match outcome {
                Ok(()) if branched => Some(self.branch_target(index, step)),
                Ok(()) => Some(index + 1),
                Err(error) => self.route_failure(index, step, error),
            };
            let Some(next) = next else {
                // A run that stops here goes to `finally` (the end-of-steps checkpoint
                // records the step), unless it was suspended: then the step runs again.
                return;
            };
            let position = Position {
                phase: Phase::Steps,
                index: next,
            };
            self.checkpoint(Some(&step.id), position);
            if branched {
                for jumped in steps.get(index + 1..next).unwrap_or_default() {
                    self.mark(&jumped.id, StepStatus::Skipped, None, None);
                    self.emit(Event::StepSkipped {
                        step: jumped.id.clone(),
                        reason: format!("branch `{}` went past it", step.id),
                    });
                    self.checkpoint(Some(&jumped.id), position);
                }
            }
            index = next;
        }
        self.with_state(|state| {
            state.status = RunStatus::Succeeded;
            state.current_step = None;
        });
    }

    /// Where a `branch` step that ran sends the run (see [`branch_target`]).
    fn branch_target(&self, index: usize, step: &Step) -> usize {
        let result =
            self.read_state(|state| state.steps.get(&step.id).and_then(|s| s.result.clone()));
        branch_target(
            &self.runbook.steps,
            index,
            result.as_ref().unwrap_or(&Value::Null),
        )
    }

    /// Marks a step whose `when` is false.
    pub(crate) fn skip(&self, step: &Step) {
        self.mark(&step.id, StepStatus::Skipped, None, None);
        self.emit(Event::StepSkipped {
            step: step.id.clone(),
            reason: format!(
                "`when: {}` is false",
                step.when.as_ref().map_or("", |w| &w.0)
            ),
        });
    }

    /// Where the run goes after `step` failed: the next index, or `None` to stop.
    pub(super) fn route_failure(
        &self,
        index: usize,
        step: &Step,
        error: StepError,
    ) -> Option<usize> {
        match &error {
            StepError::Cancelled
            | StepError::Suspended(_)
            | StepError::Runbook(_)
            | StepError::TimedOut {
                scope: Scope::Run, ..
            } => {
                self.stop(step, error);
                return None;
            }
            _ => {}
        }
        let handled = HandledFailure {
            step: step.id.clone(),
            error: self.redactor.text(&error.to_string()),
        };
        if step.on_failure.continues() {
            self.with_state(|state| state.handled_failure = Some(handled));
            return Some(index + 1);
        }
        if let Some(goto) = step.on_failure.goto() {
            let taken = self.with_state(|state| {
                state.steps.get_mut(&step.id).map_or(0, |s| {
                    s.gotos_taken = s.gotos_taken.saturating_add(1);
                    s.gotos_taken
                })
            });
            let target = self.runbook.steps.iter().position(|s| s.id == goto.goto);
            let max = match &goto.max {
                None => None,
                Some(max) => {
                    match self.count(max, &Locals::default(), "on_failure.max", 1..=MAX_JUMPS) {
                        Ok(max) => Some(max),
                        Err(bad) => {
                            let error = Failure::new(format!("{error}; {bad}"));
                            self.stop(step, StepError::Failed(error));
                            return None;
                        }
                    }
                }
            };
            match (target, max) {
                (Some(_), Some(max)) if taken > max => {
                    let error = StepError::Failed(Failure::new(format!(
                        "{error}; `on_failure` already went to `{}` {max} time(s)",
                        goto.goto
                    )));
                    self.stop(step, error);
                    return None;
                }
                (Some(target), _) => {
                    self.with_state(|state| state.handled_failure = Some(handled));
                    return Some(target);
                }
                (None, _) => {}
            }
        }
        self.stop(step, error);
        None
    }

    /// The run stops at `step` before it begins (cancelled, or past its deadline). A step an
    /// earlier pass of a `goto` loop ran is marked with how the run stopped, or the state
    /// would show that pass's outcome as its last; one that never ran stays pending, so
    /// `steps.<id>` reads `not_run`.
    pub(super) fn stopped_before(&self, step: &Step, error: &StepError) {
        let ran = self.read_state(|state| {
            state
                .steps
                .get(&step.id)
                .is_some_and(|s| s.status != StepStatus::Pending)
        });
        if ran {
            self.mark(&step.id, step_status(error), None, Some(error.to_string()));
        }
    }

    /// Ends the run at `step` with `error`.
    pub(crate) fn stop(&self, step: &Step, error: StepError) {
        let suspending = self.runner.suspending.load(Ordering::SeqCst);
        let status = match error {
            StepError::Suspended(_) => RunStatus::Suspended,
            StepError::Cancelled if suspending => RunStatus::Suspended,
            StepError::Cancelled => RunStatus::Cancelled,
            StepError::TimedOut { .. } => RunStatus::TimedOut,
            StepError::Failed(_) | StepError::Runbook(_) => RunStatus::Failed,
        };
        let message = self.redactor.text(&format!("step `{}`: {error}", step.id));
        self.with_state(|state| {
            state.status = status;
            state.current_step = Some(step.id.clone());
            state.error = Some(message);
        });
    }

    /// Outputs come before `finally`, so `finally` sees whether computing them failed.
    pub(super) fn compute_outputs_if_succeeded(&self) {
        let succeeded = self.read_state(|state| state.status == RunStatus::Succeeded);
        if succeeded {
            if let Err(error) = self.compute_outputs() {
                let message = self.redactor.text(&format!("outputs: {error}"));
                self.with_state(|state| {
                    state.status = RunStatus::Failed;
                    state.error = Some(message);
                });
            }
        }
    }

    pub(super) fn finish(&self) {
        let now = self.timestamp();
        let (status, step, error) = self.with_state(|state| {
            state.finished_at = Some(now);
            let step = match state.status {
                RunStatus::Succeeded => None,
                _ => state.current_step.clone(),
            };
            (state.status, step, state.error.clone())
        });
        self.emit(Event::RunFinished {
            status,
            elapsed_ms: self.elapsed_ms(self.started),
            step,
            error,
        });
    }

    pub(super) fn compute_outputs(&self) -> Result<(), StepError> {
        let mut outputs = Map::new();
        for (name, value) in &self.runbook.outputs {
            let value = self.render(value, &Locals::default(), &format!("output `{name}`"))?;
            outputs.insert(name.clone(), value);
        }
        let shown = match self.redactor.value(Value::Object(outputs)) {
            Value::Object(shown) => shown,
            _ => Map::new(),
        };
        self.with_state(|state| state.outputs = shown);
        Ok(())
    }
}
