//! A `runbook:` step: the child's steps run as a body of their own, sealed from the parent
//! (they read the child's `inputs` and steps, never the parent's), then its `finally`, and
//! its `outputs` are the step's result. Its steps run under the step's path
//! (`patch[1].drain`), so the journal, the ledger and reconciliation treat them as a
//! block's: a resumed run goes on inside the child without running a finished step again.

use futures_util::future::BoxFuture;
use runbook_lang::{Runbook, Step, SubRunbook};
use serde_json::{json, Map, Value};

use crate::failure::{Failure, Scope, StepError};
use crate::inputs::Given;

use super::block::with_frame;
use super::{Deadline, Locals, Run};

impl Run {
    /// One run of the child (once per `for_each` element).
    pub(crate) fn sub_runbook<'a>(
        &'a self,
        step: &'a Step,
        sub: &'a SubRunbook,
        index: Option<usize>,
        locals: &'a Locals,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        Box::pin(async move {
            let Some(child) = sub.child() else {
                return Err(StepError::Runbook(format!(
                    "the sub-runbook `{}` was not read with this runbook",
                    sub.path
                )));
            };
            let path = match index {
                Some(index) => format!("{}[{index}]", step.id),
                None => step.id.clone(),
            };
            let name = sub.shown_name();
            let inputs = self.child_inputs(sub, child, locals)?;
            let sealed = Locals::sealed(vec![
                ("inputs".into(), Value::Object(inputs)),
                ("vars".into(), json!({})),
            ]);
            let steps_deadline = match child.timeout {
                Some(timeout) => {
                    let now = self.now();
                    let at = now.saturating_add(timeout.0);
                    match deadline.at {
                        Some(sooner) if sooner <= at => deadline,
                        _ => Deadline {
                            at: Some(at),
                            scope: Scope::Step,
                            since: now,
                            target: deadline.target,
                        },
                    }
                }
                None => deadline,
            };
            // What ended the child's steps, if not success: its `finally` runs either way.
            let (frame, ended) = match self
                .body(&path, &child.steps, &sealed, steps_deadline)
                .await
            {
                Ok(frame) => (frame, None),
                Err(StepError::Failed(mut failure)) => {
                    let frame = match failure.result.take() {
                        Some(Value::Object(frame)) => frame,
                        _ => Map::new(),
                    };
                    let failure = Failure::new(format!("`{name}`: {}", failure.message));
                    (frame, Some(StepError::from(failure)))
                }
                // Kept as it is, so the run reports a timeout as a timeout.
                Err(
                    timed_out @ StepError::TimedOut {
                        scope: Scope::Step, ..
                    },
                ) => (Map::new(), Some(timed_out)),
                Err(other) => return Err(other),
            };
            if !child.finally.is_empty() {
                let error = ended.as_ref().map(ToString::to_string);
                let mut names = sealed.names.clone();
                names.push(("run".into(), self.child_run(child, error.as_deref())));
                let within = with_frame(&Locals::sealed(names), &frame);
                let began = self.now();
                let finally_deadline = Deadline {
                    at: Some(began.saturating_add(child.finally_timeout())),
                    scope: Scope::Finally,
                    since: began,
                    target: deadline.target,
                };
                let finally_path = format!("{path}.finally");
                match self
                    .body(&finally_path, &child.finally, &within, finally_deadline)
                    .await
                {
                    Ok(_) => {}
                    // A child that succeeded fails with its `finally`; one that failed
                    // reports what ended it.
                    Err(error @ (StepError::Failed(_) | StepError::TimedOut { .. })) => {
                        if ended.is_none() {
                            return Err(
                                Failure::new(format!("`{name}`: `finally`: {error}")).into()
                            );
                        }
                    }
                    Err(other) => return Err(other),
                }
            }
            if let Some(error) = ended {
                return Err(error);
            }
            let within = with_frame(&sealed, &frame);
            let mut outputs = Map::new();
            for (output, value) in &child.outputs {
                let what = format!("`{name}` output `{output}`");
                outputs.insert(output.clone(), self.render(value, &within, &what)?);
            }
            Ok(Value::Object(outputs))
        })
    }

    /// The child's inputs: the step's, rendered with the parent's names, then typed,
    /// defaulted and checked as a run's are. A secret input's value is redacted from here on.
    fn child_inputs(
        &self,
        sub: &SubRunbook,
        child: &Runbook,
        locals: &Locals,
    ) -> Result<Map<String, Value>, StepError> {
        let mut given = Vec::with_capacity(sub.inputs.len());
        for (input, value) in &sub.inputs {
            let value = self.render(value, locals, &format!("runbook.inputs.{input}"))?;
            given.push((input.clone(), Given::Value(value)));
        }
        let inputs = crate::inputs::resolve(child, given).map_err(|problems| {
            Failure::new(format!("`{}`: {}", sub.shown_name(), problems.join("; ")))
        })?;
        for (input, spec) in &child.inputs {
            if spec.secret {
                if let Some(value) = inputs.get(input) {
                    self.redactor.add_value(value);
                }
            }
        }
        Ok(inputs)
    }

    /// What the child's `finally` reads as `run`: the run's, with the child's outcome.
    fn child_run(&self, child: &Runbook, failed: Option<&str>) -> Value {
        self.read_state(|state| {
            json!({
                "id": state.run_id,
                "name": child.name,
                "started_at": state.started_at,
                "status": if failed.is_some() { "failed" } else { "succeeded" },
                "failed_step": Value::Null,
                "error": failed,
            })
        })
    }
}
