//! `for_each`: one step's elements as tasks, at most `concurrency` at once.
//!
//! Each element is a task of its own (on a multi-thread runtime they spread over its workers;
//! the CLI runs on one thread, where a fan-out's work is small next to its waiting), and a
//! slot goes to the next element the moment one finishes, whatever the elements before it are
//! doing;
//! the results keep the list's order. Each element is also a participant of virtual time,
//! so elements that wait overlap there as they would in real time.

use std::sync::Arc;

use runbook_lang::limits::MAX_FOR_EACH_ITEMS;
use runbook_lang::Step;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::event::Event;
use crate::failure::{Failure, StepError};
use crate::runner::{Deadline, Run};

impl Run {
    pub(crate) async fn fan_out(
        &self,
        step: &Step,
        list: &Value,
        deadline: Deadline,
    ) -> Result<Value, StepError> {
        let items = match self.render(list, &Vec::new(), "for_each")? {
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
        let concurrency = step.concurrency.unwrap_or(1).max(1) as usize;
        let results = self.elements(step, items, concurrency, deadline).await;
        combine(results)
    }

    /// Runs one task per element, at most `concurrency` at once, and gives back their
    /// outcomes in the list's order.
    async fn elements(
        &self,
        step: &Step,
        items: Vec<Value>,
        concurrency: usize,
        deadline: Deadline,
    ) -> Vec<Result<Value, StepError>> {
        let Some(run) = self.shared() else {
            return vec![Err(StepError::Cancelled)];
        };
        let step = Arc::new(step.clone());
        let mut outcomes: Vec<Option<Result<Value, StepError>>> = Vec::new();
        outcomes.resize_with(items.len(), || None);
        let mut waiting = items.into_iter().enumerate();
        // Dropped with the step (an abort), the set aborts the elements still running.
        let mut running = JoinSet::new();
        loop {
            while running.len() < concurrency {
                let Some((index, item)) = waiting.next() else {
                    break;
                };
                let (element, step) = (Arc::clone(&run), Arc::clone(&step));
                running.spawn(run.participate(async move {
                    let locals = vec![("item", item), ("index", Value::from(index))];
                    let outcome = element.attempts(&step, Some(index), locals, deadline).await;
                    // The outcome is on its way to this loop, which is not yet awake: virtual
                    // time must not move before it has been counted and its slot refilled.
                    (index, outcome, element.hold_time())
                }));
            }
            match running.join_next().await {
                None => break,
                Some(Ok((index, outcome, _handed_over))) => outcomes[index] = Some(outcome),
                // An element that panicked panics the step, as it would run inline.
                Some(Err(error)) if error.is_panic() => {
                    std::panic::resume_unwind(error.into_panic())
                }
                Some(Err(_)) => {}
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Err(StepError::Cancelled)))
            .collect()
    }
}

/// The step's result: every element's value in order (`null` for one that failed), or the
/// failure that says most about the run.
fn combine(results: Vec<Result<Value, StepError>>) -> Result<Value, StepError> {
    let mut values = Vec::with_capacity(results.len());
    let mut first_error: Option<StepError> = None;
    for result in results {
        match result {
            Ok(value) => values.push(value),
            Err(error) => {
                values.push(Value::Null);
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
        Some(StepError::Failed(mut failure)) => {
            failure.result = Some(Value::Array(values));
            Err(StepError::Failed(failure))
        }
        Some(error) => Err(error),
    }
}
