//! The `finally` steps: run after the others whatever happened (success, failure, timeout,
//! cancellation), on a deadline of their own, cancelled only by the abort token (a second
//! signal). A failure they do not handle turns a succeeded run into a failed one and leaves
//! any other outcome as it was.

use std::sync::atomic::Ordering;

use crate::event::Event;
use crate::failure::{Scope, StepError};
use crate::runner::{Deadline, Run};
use crate::state::{RunStatus, StepStatus};

impl Run<'_> {
    pub(crate) async fn run_finally(&self) {
        let steps = &self.runbook().finally;
        if steps.is_empty() {
            return;
        }
        self.in_finally.store(true, Ordering::SeqCst);
        let status = self.read_state(|state| state.status);
        self.emit(Event::FinallyStarted {
            status,
            steps: steps.len(),
        });
        let began = self.now();
        let deadline = Deadline {
            at: Some(began.saturating_add(self.runbook().finally_timeout())),
            scope: Scope::Finally,
            since: began,
        };
        for step in steps {
            let outcome = match self.check(deadline) {
                Err(error) => Err(error),
                Ok(()) => match self.should_run(step) {
                    Ok(true) => self.run_step(step, deadline).await,
                    Ok(false) => {
                        self.skip(step);
                        continue;
                    }
                    Err(error) => {
                        let message = error.to_string();
                        self.mark(&step.id, StepStatus::Failed, None, Some(message));
                        Err(error)
                    }
                },
            };
            let Err(error) = outcome else {
                continue;
            };
            let fatal = matches!(
                error,
                StepError::Cancelled
                    | StepError::TimedOut {
                        scope: Scope::Finally,
                        ..
                    }
            );
            if step.on_failure.continues() && !fatal {
                continue;
            }
            self.fail_finally(&step.id, &error);
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
