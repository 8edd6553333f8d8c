//! Recording what happened: step statuses and results, started executions, unknown
//! outcomes, variables, and the checkpoints a resumed run goes on from.

use std::borrow::Cow;
use std::sync::PoisonError;

use serde_json::{Map, Value};

use crate::event::Event;
use crate::resume::{BlockCheckpoint, Checkpoint, Phase, Position};
use crate::state::{Intent, RunStatus, StartedExecution, StepStatus, UnknownOutcome};

use super::{Locals, Run};

impl Run {
    /// Recomputes a restored `set` step whose journaled values hold a masked secret: the
    /// journal never holds secrets, so what was derived from one is derived again from the
    /// secret inputs this process was given. Other steps' results keep the mask.
    pub(super) fn recompute(&self, id: &str) {
        let Some(step) = self.runbook.all_steps().find(|step| step.id == id) else {
            return;
        };
        let (Some(runbook_lang::Action::Set(values)), None) = (step.action(), &step.for_each)
        else {
            return;
        };
        let mut vars = Map::new();
        for (name, value) in values {
            // These templates rendered before the crash; one that fails now (another secret
            // was given) leaves the masked values, and a step reading them fails visibly.
            let Ok(rendered) = self.render(value, &Locals::default(), &format!("set `{name}`"))
            else {
                return;
            };
            vars.insert(name.clone(), rendered);
        }
        self.template_values
            .record_result(id, &Value::Object(vars.clone()));
        self.set_vars(vars);
    }

    /// The node actions a resumed wait had sent before the crash.
    pub(crate) fn node_actions_sent(&self, step: &str, index: Option<usize>) -> Vec<Intent> {
        self.ledger.sent(
            step,
            index,
            hwc_client::catalogue::START_PAUSING_WORKFLOW_EXECUTIONS.id,
        )
    }

    /// Records a started execution and logs it the moment its id arrives.
    pub(crate) fn record_execution(&self, execution: StartedExecution) {
        // A resumed run that adopts an execution its journal already holds records it once.
        let shown_id = self.redactor.text(&execution.execution_id);
        if self.read_state(|state| state.executions.iter().any(|e| e.execution_id == shown_id)) {
            return;
        }
        let execution = StartedExecution {
            workflow_id: self.redactor.text(&execution.workflow_id),
            execution_id: self.redactor.text(&execution.execution_id),
            ..execution
        };
        self.emit(Event::ExecutionStarted {
            step: execution.step.clone(),
            index: execution.index,
            service: execution.service.clone(),
            workflow_id: execution.workflow_id.clone(),
            execution_id: execution.execution_id.clone(),
            target: execution.target.clone(),
        });
        self.with_state(|state| state.executions.push(execution));
    }

    pub(crate) fn record_unknown(&self, outcome: UnknownOutcome) {
        let outcome = outcome.redacted(&self.redactor);
        self.emit(Event::OutcomeUnknown {
            outcome: outcome.clone(),
        });
        self.with_state(|state| state.unknown_outcomes.push(outcome));
    }

    pub(crate) fn count_poll(&self, step: &str) -> u32 {
        self.with_state(|state| {
            state
                .steps
                .get_mut(super::block::owner(step))
                .map_or(0, |s| {
                    s.polls = s.polls.saturating_add(1);
                    s.polls
                })
        })
    }

    pub(crate) fn set_vars(&self, vars: Map<String, Value>) {
        self.changed_vars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(vars.keys().cloned());
        self.template_values.set_vars(&vars);
        let shown: Map<String, Value> = vars
            .into_iter()
            .map(|(name, value)| (name, self.redactor.value(value)))
            .collect();
        self.with_state(|state| state.vars.extend(shown));
    }

    /// Records the end of `step` (or, with none, the run-level state alone) for a resumed
    /// run: the step's state, the variables set since the last checkpoint, and what comes
    /// next.
    pub(crate) fn checkpoint(&self, step: Option<&str>, next: Position) {
        let changed = std::mem::take(
            &mut *self
                .changed_vars
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        // Built and observed under the state's lock, borrowing the step's result and the
        // variables rather than copying them.
        self.read_state(|state| {
            let checkpoint = Checkpoint {
                step: step.map(str::to_owned),
                state: step.and_then(|id| state.steps.get(id)).map(Cow::Borrowed),
                vars: changed
                    .iter()
                    .filter_map(|name| Some((name.clone(), Cow::Borrowed(state.vars.get(name)?))))
                    .collect(),
                next,
                status: state.status,
                current_step: state.current_step.clone(),
                error: state.error.clone(),
                handled_failure: state.handled_failure.clone(),
                finally_error: state.finally_error.clone(),
                outputs: Cow::Borrowed(&state.outputs),
            };
            self.runner.observer.checkpoint(&checkpoint);
        });
    }

    /// Records the end of `step` in the body at `body` (see [`BlockCheckpoint`]); the
    /// variables set since the last checkpoint go with it, and with that checkpoint again.
    pub(super) fn block_checkpoint(
        &self,
        body: &str,
        step: &str,
        ended: super::block::Ended,
        next: Option<usize>,
        error: Option<&str>,
    ) {
        let changed = self
            .changed_vars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let vars = self.read_state(|state| {
            changed
                .iter()
                .filter_map(|name| Some((name.clone(), state.vars.get(name)?.clone())))
                .collect()
        });
        self.runner.observer.block_checkpoint(&BlockCheckpoint {
            body: body.to_owned(),
            step: step.to_owned(),
            status: ended.status,
            result: self.redactor.value(ended.result),
            next,
            error: error.map(|error| self.redactor.text(error)),
            vars,
        });
    }

    /// The main steps are over (the run succeeded, or stopped at a step): recorded unless
    /// the run was suspended, in which case it goes on from its last checkpoint.
    pub(super) fn end_of_steps(&self) {
        let (status, stopped_at) =
            self.read_state(|state| (state.status, state.current_step.clone()));
        if status == RunStatus::Suspended {
            return;
        }
        let step = match status {
            RunStatus::Succeeded => None,
            _ => stopped_at,
        };
        self.checkpoint(
            step.as_deref(),
            Position {
                phase: Phase::Finally,
                index: 0,
            },
        );
    }

    pub(crate) fn mark(
        &self,
        id: &str,
        status: StepStatus,
        result: Option<Value>,
        error: Option<String>,
    ) {
        let now = self.timestamp();
        self.template_values.record_status(id, status);
        let clean = result
            .as_ref()
            .is_some_and(|result| self.template_values.record_result(id, result));
        let result = result.map(|result| {
            if clean {
                result
            } else {
                self.redactor.value(result)
            }
        });
        let error = error.map(|error| self.redactor.text(&error));
        self.with_state(|state| {
            if let Some(step) = state.steps.get_mut(id) {
                step.status = status;
                if status == StepStatus::Running {
                    step.started_at = Some(now);
                    step.finished_at = None;
                    step.error = None;
                } else {
                    step.finished_at = Some(now);
                }
                if result.is_some() {
                    step.result = result;
                }
                // The error is the last pass's: a step a loop skips after it failed has none.
                step.error = error;
            }
        });
    }
}
