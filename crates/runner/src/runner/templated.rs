//! Durations and counts a runbook may write as templates (`sleep`, `timeout`, `concurrency`):
//! rendered when they are needed and held to the bounds the validator holds a literal to, so
//! a value out of bounds fails the step, naming the field, instead of running unbounded.

use std::ops::RangeInclusive;
use std::time::Duration;

use runbook_lang::{DurationText, ErrorBudget, Templated};
use serde_json::Value;

use crate::failure::{Failure, StepError};

use super::{Locals, Run};

impl Run {
    /// A duration: the literal, or the template rendered to a duration as a runbook writes
    /// one (`30s`, `5m`; at most `MAX_DURATION`).
    pub(crate) fn duration(
        &self,
        field: &Templated<DurationText>,
        locals: &Locals,
        what: &str,
    ) -> Result<Duration, StepError> {
        let text = match field {
            Templated::Literal(duration) => return Ok(duration.0),
            Templated::Template(text) => text,
        };
        let rendered = self.render(&Value::String(text.clone()), locals, what)?;
        runbook_lang::duration::parse(&as_written(&rendered))
            .map_err(|not| Failure::new(format!("{what}: {}; {}", not.message, not.help)).into())
    }

    /// A count: the literal, or the template rendered to a whole number within `range`.
    pub(crate) fn count(
        &self,
        field: &Templated<u32>,
        locals: &Locals,
        what: &str,
        range: RangeInclusive<u32>,
    ) -> Result<u32, StepError> {
        let text = match field {
            Templated::Literal(count) => return Ok(*count),
            Templated::Template(text) => text,
        };
        let rendered = self.render(&Value::String(text.clone()), locals, what)?;
        let count = match &rendered {
            Value::Number(number) => number.as_u64(),
            Value::String(written) => written.trim().parse::<u64>().ok(),
            _ => None,
        };
        count
            .and_then(|count| u32::try_from(count).ok())
            .filter(|count| range.contains(count))
            .ok_or_else(|| {
                Failure::new(format!(
                    "{what}: `{}` is not a whole number from {} to {}",
                    as_written(&rendered),
                    range.start(),
                    range.end()
                ))
                .into()
            })
    }

    /// An error budget: the literal, or the template rendered to a count or a percentage as
    /// `max_errors` accepts one.
    pub(crate) fn error_budget(
        &self,
        field: &Templated<ErrorBudget>,
        locals: &Locals,
    ) -> Result<ErrorBudget, StepError> {
        let text = match field {
            Templated::Literal(budget) => return Ok(*budget),
            Templated::Template(text) => text,
        };
        let rendered = self.render(&Value::String(text.clone()), locals, "max_errors")?;
        // A count rendered from a template reads as text; the budget's own parser decides.
        let given = match &rendered {
            Value::String(written) => match written.trim().parse::<u64>() {
                Ok(count) => Value::from(count),
                Err(_) => rendered.clone(),
            },
            other => other.clone(),
        };
        serde_json::from_value::<ErrorBudget>(given)
            .map_err(|error| Failure::new(format!("max_errors: {error}")).into())
    }
}

/// A rendered value as a runbook would have written it: a string as it is, anything else as
/// JSON.
pub(crate) fn as_written(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
