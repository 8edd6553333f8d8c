//! `for_each`: one step's elements as tasks, at most `concurrency` at once, with the error
//! budget (`max_errors`, `fail_fast`) deciding when to stop launching and whether the step
//! failed.
//!
//! Each element is a task of its own (on a multi-thread runtime they spread over its workers;
//! the CLI runs on one thread, where a fan-out's work is small next to its waiting), and a
//! slot goes to the next element the moment one finishes, whatever the elements before it are
//! doing;
//! the results keep the list's order. Each element is also a participant of virtual time,
//! so elements that wait overlap there as they would in real time.

use std::sync::Arc;

use runbook_lang::limits::{MAX_CONCURRENCY, MAX_FOR_EACH_ITEMS};
use runbook_lang::{ErrorBudget, Step};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::runner::{Deadline, Locals, Run};

impl Run {
    pub(crate) async fn fan_out(
        &self,
        step: &Step,
        list: &Value,
        deadline: Deadline,
        locals: &Locals,
    ) -> Result<Value, StepError> {
        let items = match self.render(list, locals, "for_each")? {
            Value::Array(items) => items,
            other => {
                return Err(Failure::new(format!(
                    "for_each: expected a list, got {}",
                    runbook_lang::template::json_type(&other)
                ))
                .into())
            }
        };
        if items.len() > MAX_FOR_EACH_ITEMS {
            return Err(Failure::new(format!(
                "for_each: the list has {} items, more than the limit of {MAX_FOR_EACH_ITEMS}",
                items.len()
            ))
            .into());
        }
        self.with_state(|state| {
            if let Some(recorded) = state.steps.get_mut(&step.id) {
                recorded.items = Some(items.len());
            }
        });
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            label: step.label().to_owned(),
            action: step.action().map_or("", |a| a.key()).to_owned(),
            index: None,
            items: Some(items.len()),
        });
        let concurrency = match &step.concurrency {
            None => 1,
            Some(concurrency) => {
                self.count(concurrency, locals, "concurrency", 1..=MAX_CONCURRENCY)?
            }
        };
        let concurrency = usize::try_from(concurrency.max(1)).unwrap_or(usize::MAX);
        let written = match &step.max_errors {
            None => None,
            Some(budget) => Some(self.error_budget(budget, locals)?),
        };
        let budget = Budget {
            allowed: written.map_or(0, |budget| budget.allowed(items.len())),
            written,
            fail_fast: step.fail_fast,
        };
        let results = self
            .elements(step, items, concurrency, budget, deadline, locals)
            .await;
        combine(results, budget)
    }

    /// Runs one task per element, at most `concurrency` at once, and gives back their
    /// outcomes in the list's order; under `fail_fast`, the elements never launched once
    /// the budget was spent are `NotLaunched`.
    async fn elements(
        &self,
        step: &Step,
        items: Vec<Value>,
        concurrency: usize,
        budget: Budget,
        deadline: Deadline,
        locals: &Locals,
    ) -> Vec<Outcome> {
        let Some(run) = self.shared() else {
            return vec![Outcome::Ran(Err(StepError::Cancelled))];
        };
        let step = Arc::new(step.clone());
        let mut outcomes: Vec<Option<Result<Value, StepError>>> = Vec::new();
        outcomes.resize_with(items.len(), || None);
        let mut waiting = items.into_iter().enumerate();
        let mut failed = 0usize;
        // Dropped with the step (an abort), the set aborts the elements still running.
        let mut running = JoinSet::new();
        loop {
            while running.len() < concurrency && !(budget.fail_fast && failed > budget.allowed) {
                let Some((index, item)) = waiting.next() else {
                    break;
                };
                let (element, step) = (Arc::clone(&run), Arc::clone(&step));
                let mut locals = locals.clone();
                if let Some(name) = &step.element_name {
                    locals.push((name.clone().into(), item.clone()));
                }
                locals.push(("item".into(), item));
                locals.push(("index".into(), Value::from(index)));
                running.spawn(run.participate(async move {
                    let outcome = element.attempts(&step, Some(index), locals, deadline).await;
                    // The outcome is on its way to this loop, which is not yet awake: virtual
                    // time must not move before it has been counted and its slot refilled.
                    (index, outcome, element.hold_time())
                }));
            }
            match running.join_next().await {
                None => break,
                Some(Ok((index, outcome, _handed_over))) => {
                    failed += usize::from(outcome.is_err());
                    outcomes[index] = Some(outcome);
                }
                // An element that panicked panics the step, as it would run inline.
                Some(Err(error)) if error.is_panic() => {
                    std::panic::resume_unwind(error.into_panic())
                }
                Some(Err(_)) => {}
            }
        }
        let stopped_launching = waiting.len() > 0;
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Some(outcome) => Outcome::Ran(outcome),
                None if stopped_launching => Outcome::NotLaunched,
                None => Outcome::Ran(Err(StepError::Cancelled)),
            })
            .collect()
    }
}

/// One element's end.
enum Outcome {
    Ran(Result<Value, StepError>),
    /// `fail_fast` stopped launching before this element's turn.
    NotLaunched,
}

/// `max_errors` and `fail_fast`, with the budget worked out for this list.
#[derive(Clone, Copy)]
struct Budget {
    /// Failed elements the step tolerates.
    allowed: usize,
    /// As the runbook wrote it, for messages.
    written: Option<ErrorBudget>,
    fail_fast: bool,
}

/// The step's result: every element's value in order (`null` for one that failed or was
/// never launched), or the failure that says most about the run. Failures within the budget
/// leave the step succeeded.
fn combine(outcomes: Vec<Outcome>, budget: Budget) -> Result<Value, StepError> {
    let mut values = Vec::with_capacity(outcomes.len());
    let mut first_error: Option<StepError> = None;
    let (mut failed, mut not_launched) = (0usize, 0usize);
    for outcome in outcomes {
        match outcome {
            Outcome::Ran(Ok(value)) => values.push(value),
            Outcome::NotLaunched => {
                not_launched += 1;
                values.push(Value::Null);
            }
            Outcome::Ran(Err(error)) => {
                values.push(Value::Null);
                failed += 1;
                // Cancellation and timeouts say more about the run than one failure.
                let worse = matches!(
                    (&first_error, &error),
                    (None, _)
                        | (
                            Some(StepError::Failed(_)),
                            StepError::Cancelled | StepError::TimedOut { .. },
                        )
                        | (Some(_), StepError::Suspended(_))
                );
                if worse {
                    first_error = Some(error);
                }
            }
        }
    }
    match first_error {
        None => Ok(Value::Array(values)),
        Some(StepError::Failed(_)) if failed <= budget.allowed => Ok(Value::Array(values)),
        Some(StepError::Failed(mut failure)) => {
            if budget.written.is_some() || budget.fail_fast {
                let budget_text = match budget.written {
                    Some(written @ ErrorBudget::Percent(_)) => {
                        format!("{written} of {}: {}", values.len(), budget.allowed)
                    }
                    _ => budget.allowed.to_string(),
                };
                let stopped = if not_launched > 0 {
                    format!("; {not_launched} not launched (fail_fast)")
                } else {
                    String::new()
                };
                failure.message = format!(
                    "{failed} of {} elements failed, more than max_errors ({budget_text}){stopped}; the first: {}",
                    values.len(),
                    failure.message
                );
            }
            failure.result = Some(Value::Array(values));
            Err(StepError::Failed(failure))
        }
        Some(error) => Err(error),
    }
}
