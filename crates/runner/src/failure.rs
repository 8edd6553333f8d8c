//! Why a step did not succeed, with what a user needs to act: the HTTP status, error_code and
//! request id of API failures, and a hint at what to do next.

use std::fmt;
use std::time::Duration;

use hwc_client::runtime::{ApiError, InvokeError, TransportErrorKind};
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum StepError {
    Failed(Failure),
    /// `detail` says where things stood (e.g. the execution's last status).
    TimedOut {
        scope: Scope,
        after: Duration,
        detail: Option<String>,
    },
    Cancelled,
    /// The run stops so it can be resumed: SIGTERM, or a change whose outcome only a person
    /// can settle (the state's `needs_decision` says which).
    Suspended(String),
    /// The runbook itself is wrong in a way only running it shows: a `when` that cannot be
    /// evaluated. No `on_failure` handles it: a `goto` would meet the same mistake on every
    /// pass, and `continue` would hide it; the runbook has to be fixed.
    Runbook(String),
}

/// Whose deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Step,
    Run,
    /// The `finally` steps' own deadline (`finally_timeout`).
    Finally,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(failure) => f.write_str(&failure.message),
            Self::TimedOut {
                scope,
                after,
                detail,
            } => {
                let whose = match scope {
                    Scope::Step => "step",
                    Scope::Run => "run",
                    Scope::Finally => "`finally`",
                };
                write!(
                    f,
                    "{whose} timed out after {}",
                    humantime::format_duration(*after)
                )?;
                if let Some(detail) = detail {
                    write!(f, " ({detail})")?;
                }
                Ok(())
            }
            Self::Cancelled => f.write_str("cancelled"),
            Self::Suspended(reason) => write!(f, "suspended: {reason}"),
            Self::Runbook(message) => f.write_str(message),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    pub status: Option<u16>,
    pub error_code: Option<String>,
    /// The same request might succeed later (429, 5xx, timeouts, connection errors).
    pub retryable: bool,
    /// A request that changes something may have taken effect although it failed (a 5xx, a
    /// timeout, a lost answer), so resending it could apply it twice. Always false for reads
    /// and for failures that prove nothing was applied (4xx, 429, no connection).
    pub may_have_taken_effect: bool,
    /// A result to record even though the step failed (a sync run that ended as `fail`).
    pub result: Option<Value>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: None,
            error_code: None,
            retryable: false,
            may_have_taken_effect: false,
            result: None,
        }
    }

    pub fn with_result(mut self, result: Value) -> Self {
        self.result = Some(result);
        self
    }

    /// An API failure; `changes` says whether the request starts or changes something, which
    /// decides what the message says about its effect and whether a retry is safe.
    pub fn from_api(error: &ApiError, changes: bool) -> Self {
        let may_have_taken_effect = changes && error.may_have_taken_effect();
        let mut message = error.to_string();
        if let Some(hint) = hint(error, changes) {
            message.push_str("; ");
            message.push_str(hint);
        }
        Self {
            message,
            status: error.status(),
            error_code: error.error_code().map(str::to_owned),
            retryable: error.is_retryable(),
            may_have_taken_effect,
            result: None,
        }
    }

    pub fn from_invoke(error: &InvokeError, changes: bool) -> Self {
        match error {
            InvokeError::Api(api) => Self::from_api(api, changes),
            other => Self::new(other.to_string()),
        }
    }
}

impl From<Failure> for StepError {
    fn from(failure: Failure) -> Self {
        Self::Failed(failure)
    }
}

/// What to do next. For a request that changes something, the hint says first whether it may
/// have taken effect, and suggests `retry:` only where resending cannot apply it twice.
fn hint(error: &ApiError, changes: bool) -> Option<&'static str> {
    const MAY_HAVE_TAKEN_EFFECT: &str = "the request may have taken effect: check the workflow's executions before running it again (resending could start or change it twice)";
    if changes {
        if let ApiError::Transport { kind, .. } = error {
            return Some(match kind {
                TransportErrorKind::Connect => {
                    "the connection was never made, so the request had no effect; `retry:` is safe"
                }
                _ => MAY_HAVE_TAKEN_EFFECT,
            });
        }
        if let ApiError::Decode { .. } = error {
            return Some(MAY_HAVE_TAKEN_EFFECT);
        }
    }
    match error.status()? {
        400 => Some("the service rejected the parameters; check the ids and values the step sends"),
        401 => {
            Some("check the credentials (HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK) and the clock")
        }
        403 => Some(
            "the credentials may not use this project; check the project id and IAM permissions",
        ),
        404 => Some("check the workflow or execution id, the project id and the region"),
        429 if changes => Some(
            "the service is throttling and did not apply the request; `retry:` is safe, or run less at once",
        ),
        429 => Some("the service is throttling; add `retry:` to the step or run less at once"),
        500..=599 if changes => Some(MAY_HAVE_TAKEN_EFFECT),
        500..=599 => Some("a service error; add `retry:` to the step if it is transient"),
        _ => None,
    }
}
