//! The `finally` steps: run after the others whatever happened (success, failure, timeout,
//! cancellation), on a deadline of their own, cancelled only by the abort token (a second
//! signal). A failure they do not handle turns a succeeded run into a failed one and leaves
//! any other outcome as it was.

use std::sync::atomic::Ordering;

use crate::event::Event;
use crate::failure::{Scope, StepError};
use crate::resume::{Phase, Position};
use crate::runner::{Deadline, Locals, Run};
use crate::state::{RunStatus, StepStatus};
use crate::targets::TargetRef;

impl Run {
    /// Runs the `finally` steps from `first` (a resumed run goes on where it was).
    pub(crate) async fn run_finally(&self, first: usize) {
        let steps = &self.runbook().finally;
        if steps.len() <= first {
            return;
        }
        self.in_finally.store(true, Ordering::SeqCst);
        let status = self.read_state(|state| state.status);
        self.emit(Event::FinallyStarted {
            status,
            steps: steps.len() - first,
        });
        let began = self.now();
        let deadline = Deadline {
            at: Some(began.saturating_add(self.runbook().finally_timeout())),
            scope: Scope::Finally,
            since: began,
            target: TargetRef::default(),
        };
        for (index, step) in steps.iter().enumerate().skip(first) {
            let next = Position {
                phase: Phase::Finally,
                index: index + 1,
            };
            let outcome = match self.yield_and_check(deadline).await {
                Err(error) => Err(error),
                Ok(()) => match self.should_run(step, &Locals::default()) {
                    Ok(true) => self
                        .run_step(step, deadline, &Locals::default())
                        .await
                        .map(drop),
                    Ok(false) => {
                        self.skip(step);
                        self.checkpoint(Some(&step.id), next);
                        continue;
                    }
                    Err(error) => {
                        let message = error.to_string();
                        self.mark(&step.id, StepStatus::Failed, None, Some(message));
                        Err(error)
                    }
                },
            };
            let error = match outcome {
                Ok(()) => {
                    self.checkpoint(Some(&step.id), next);
                    continue;
                }
                // A change only a person can settle: the run stops here, resumable.
                Err(StepError::Suspended(reason)) => {
                    self.stop(step, StepError::Suspended(reason));
                    return;
                }
                Err(error) => error,
            };
            let fatal = matches!(
                error,
                StepError::Cancelled
                    | StepError::Runbook(_)
                    | StepError::TimedOut {
                        scope: Scope::Finally,
                        ..
                    }
            );
            if step.on_failure.continues() && !fatal {
                self.checkpoint(Some(&step.id), next);
                continue;
            }
            self.fail_finally(&step.id, &error);
            self.checkpoint(
                Some(&step.id),
                Position {
                    phase: Phase::Finally,
                    index: steps.len(),
                },
            );
            return;
        }
    }

    /// Records a `finally` failure nothing handled.
    fn fail_finally(&self, step: &str, error: &StepError) {
        let message = self
            .redactor()
            .text(&format!("`finally` step `{step}`: {error}"));
        self.with_state(|state| {
            if state.status == RunStatus::Succeeded {
                state.status = RunStatus::Failed;
                state.error = Some(message.clone());
                state.current_step = Some(step.to_owned());
            }
            state.finally_error = Some(message);
        });
    }
}
