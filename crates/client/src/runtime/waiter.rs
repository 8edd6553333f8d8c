//! Smithy-style waiters: poll an operation until an acceptor matches its output, with a
//! mandatory maximum wait, the poll delay every wait uses (`poll_delay`: a tenth of the time
//! waited, between the spec's minimum and maximum, jittered) and a last poll at the deadline.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use super::backoff::poll_delay;
use super::environment::Environment;
use super::error::ApiError;
use super::request::ApiResponse;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptorState {
    Success,
    Failure,
    Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// The path selects one string equal to `expected`.
    StringEquals,
    /// Any value the path selects equals `expected`.
    AnyStringEquals,
    /// The path selects at least one value and all equal `expected`.
    AllStringEquals,
}

#[derive(Debug)]
pub struct Acceptor {
    pub state: AcceptorState,
    /// A dot path into the output; `field[]` projects over an array.
    pub path: &'static str,
    pub comparator: Comparator,
    pub expected: &'static str,
}

impl Acceptor {
    pub fn matches(&self, output: &serde_json::Value) -> bool {
        let selected = select(output, self.path);
        let is_expected = |v: &&serde_json::Value| v.as_str() == Some(self.expected);
        match self.comparator {
            Comparator::StringEquals => selected.len() == 1 && selected.iter().all(is_expected),
            Comparator::AnyStringEquals => selected.iter().any(is_expected),
            Comparator::AllStringEquals => !selected.is_empty() && selected.iter().all(is_expected),
        }
    }
}

#[derive(Debug)]
pub struct WaiterSpec {
    pub name: &'static str,
    pub operation_id: &'static str,
    pub description: &'static str,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub acceptors: &'static [Acceptor],
}

impl WaiterSpec {
    /// The state of the first acceptor that matches, if any.
    pub fn evaluate(&self, output: &serde_json::Value) -> Option<&Acceptor> {
        self.acceptors.iter().find(|a| a.matches(output))
    }

    /// The values of the output's `path` at which this waiter stops, each with the state it
    /// stops in: the `expected` of every `stringEquals` acceptor on `path` that says success
    /// or failure, in spec order. Any other value keeps it polling (a `retry` acceptor says so
    /// explicitly). For a waiter on an execution's `status` these are the statuses the spec
    /// calls terminal, and callers that poll on their own (the runner's wait steps) read them
    /// here rather than keeping a copy.
    ///
    /// Derived from the generated acceptors rather than emitted beside them: a second
    /// generated list could only repeat them, and might one day disagree.
    pub fn stops_at<'s>(
        &'s self,
        path: &'s str,
    ) -> impl Iterator<Item = (&'static str, AcceptorState)> + 's {
        self.acceptors
            .iter()
            .filter(move |a| {
                a.path == path
                    && a.comparator == Comparator::StringEquals
                    && a.state != AcceptorState::Retry
            })
            .map(|a| (a.expected, a.state))
    }

    /// The values of `path` that end this waiter, success and failure alike (`stops_at`
    /// without the state): for an execution's `status`, its terminal statuses.
    pub fn terminal_values<'s>(&'s self, path: &'s str) -> impl Iterator<Item = &'static str> + 's {
        self.stops_at(path).map(|(value, _)| value)
    }
}

/// Selects values by a dot path; `items[]` projects the rest of the path over an array.
pub fn select<'v>(value: &'v serde_json::Value, path: &str) -> Vec<&'v serde_json::Value> {
    let mut current = vec![value];
    for segment in path.split('.') {
        let (name, project) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        current = current
            .into_iter()
            .filter_map(|v| {
                if name.is_empty() {
                    Some(v)
                } else {
                    v.get(name)
                }
            })
            .flat_map(|v| match (project, v) {
                (true, serde_json::Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                (true, _) => Vec::new(),
                (false, v) => vec![v],
            })
            .collect();
    }
    current
}

#[derive(Debug)]
pub struct WaiterOutcome<T> {
    /// The response that matched a success acceptor.
    pub response: ApiResponse<T>,
    pub polls: u32,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum WaiterError {
    #[error("waiter {waiter}: `{path}` reached `{value}`, a failure state, after {polls} poll(s)")]
    Failure {
        waiter: &'static str,
        path: &'static str,
        value: String,
        polls: u32,
        /// The output that matched the failure acceptor.
        output: serde_json::Value,
    },
    #[error("waiter {waiter}: no final state within {max_wait:?} ({polls} poll(s)); raise the maximum wait or look at the execution")]
    Timeout {
        waiter: &'static str,
        max_wait: Duration,
        polls: u32,
        /// The output of the last poll.
        last_output: Option<serde_json::Value>,
    },
    #[error("waiter {waiter}: polling failed after {polls} poll(s): {source}")]
    Api {
        waiter: &'static str,
        polls: u32,
        #[source]
        source: ApiError,
    },
    #[error("waiter {waiter}: the maximum wait must be longer than zero")]
    NoMaxWait { waiter: &'static str },
}

/// Polls until an acceptor says success (`Ok`) or failure, the deadline passes, or a poll
/// fails. The first poll happens at once; the last one happens at the deadline.
pub async fn wait<T, F, Fut>(
    environment: &Environment,
    spec: &'static WaiterSpec,
    max_wait: Duration,
    mut poll: F,
) -> Result<WaiterOutcome<T>, WaiterError>
where
    T: Serialize,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ApiResponse<T>, ApiError>>,
{
    if max_wait.is_zero() {
        return Err(WaiterError::NoMaxWait { waiter: spec.name });
    }
    let started = environment.clock.elapsed();
    let deadline = started.saturating_add(max_wait);
    let mut polls = 0;
    loop {
        polls += 1;
        let response = poll().await.map_err(|source| WaiterError::Api {
            waiter: spec.name,
            polls,
            source,
        })?;
        let output = serde_json::to_value(&response.body).unwrap_or(serde_json::Value::Null);
        match spec.evaluate(&output) {
            Some(acceptor) if acceptor.state == AcceptorState::Success => {
                return Ok(WaiterOutcome {
                    response,
                    polls,
                    elapsed: environment.clock.elapsed().saturating_sub(started),
                });
            }
            Some(acceptor) if acceptor.state == AcceptorState::Failure => {
                let value = select(&output, acceptor.path)
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(WaiterError::Failure {
                    waiter: spec.name,
                    path: acceptor.path,
                    value,
                    polls,
                    output,
                });
            }
            _ => {}
        }
        let now = environment.clock.elapsed();
        if now >= deadline {
            return Err(WaiterError::Timeout {
                waiter: spec.name,
                max_wait,
                polls,
                last_output: Some(output),
            });
        }
        let delay = poll_delay(
            spec.min_delay,
            spec.max_delay,
            now.saturating_sub(started),
            environment.random.as_ref(),
        );
        environment.sleep(delay.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_walks_paths_and_projects_arrays() {
        let v = json!({"status": "executing", "list": [{"s": "a"}, {"s": "b"}, {"x": 1}]});
        assert_eq!(select(&v, "status"), vec![&json!("executing")]);
        assert_eq!(select(&v, "list[].s"), vec![&json!("a"), &json!("b")]);
        assert!(select(&v, "missing.deeper").is_empty());
        assert!(select(&v, "status[]").is_empty());
    }

    #[test]
    fn comparators() {
        let acceptor = |comparator, expected| Acceptor {
            state: AcceptorState::Success,
            path: "n[].s",
            comparator,
            expected,
        };
        let v = json!({"n": [{"s": "ok"}, {"s": "ok"}]});
        assert!(acceptor(Comparator::AllStringEquals, "ok").matches(&v));
        assert!(!acceptor(Comparator::StringEquals, "ok").matches(&v));
        assert!(acceptor(Comparator::AnyStringEquals, "ok")
            .matches(&json!({"n": [{"s": "no"}, {"s": "ok"}]})));
        assert!(!acceptor(Comparator::AllStringEquals, "ok").matches(&json!({"n": []})));
    }
}
