//! What a run reports as it goes: one event per step start, poll, node action, retry, log
//! and finish. Observers turn them into progress, plain lines or JSON lines.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::redact::Redactor;
use futures_util::future::BoxFuture;

use crate::resume::{BlockCheckpoint, Checkpoint};
use crate::state::{Intent, RunState, RunStatus, StepStatus, UnknownOutcome};

/// Serialised with its `event` tag, as the JSON log and the journal hold it; read back to
/// replay a journal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        runbook: String,
        steps: usize,
    },
    /// A run read back from its journal goes on (`step` is where, when a step is left).
    RunResumed {
        run_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// Executions it had started, which it follows instead of starting again.
        executions: usize,
    },
    StepStarted {
        step: String,
        /// The step's `name`, or its id.
        label: String,
        action: String,
        /// The `for_each` element, when the step fans out.
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        /// A `for_each` step (no `index`): how many elements its list has. Each element
        /// then starts with its own `index`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<usize>,
    },
    StepSkipped {
        step: String,
        reason: String,
    },
    Poll {
        step: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        poll: u32,
        status: String,
        elapsed_ms: u64,
    },
    /// A wait restarted, skipped or continued a node.
    NodeAction {
        step: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        node: String,
        action: String,
        /// For restarts: how many this node has had, this one included.
        count: u32,
    },
    Retry {
        step: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        /// The attempt that failed.
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
    Log {
        step: String,
        message: String,
    },
    /// A start answered with its execution id: logged the moment it arrives.
    ExecutionStarted {
        step: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        service: String,
        workflow_id: String,
        execution_id: String,
        /// Where it started, when its step named a `target`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<crate::state::TargetSpec>,
    },
    /// The run was cancelled while a request that changes something was in flight; its
    /// answer is awaited for up to `grace_ms` so its outcome is not lost.
    AwaitingAnswer {
        step: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        operation: String,
        grace_ms: u64,
    },
    /// A request that changes something may or may not have taken effect.
    OutcomeUnknown {
        #[serde(flatten)]
        outcome: UnknownOutcome,
    },
    /// A change whose outcome was unknown was looked up through the API: `decision` says
    /// what was found: `applied` (its result is used; an adopted execution follows as
    /// `execution_started`) or `not_applied` (it is sent).
    OutcomeReconciled {
        step: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        operation: String,
        decision: String,
        detail: String,
    },
    /// The `finally` steps begin; `status` is how the run ended.
    FinallyStarted {
        status: RunStatus,
        steps: usize,
    },
    /// A step (or, with an `index`, one of its elements) ended.
    StepFinished {
        step: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        status: StepStatus,
        elapsed_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    RunFinished {
        status: RunStatus,
        elapsed_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

impl Event {
    /// The run the event names in its own fields (`run_started`, `run_resumed`); a log line
    /// of any other event gets the run id added.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Self::RunStarted { run_id, .. } | Self::RunResumed { run_id, .. } => Some(run_id),
            Self::StepStarted { .. }
            | Self::StepSkipped { .. }
            | Self::Poll { .. }
            | Self::NodeAction { .. }
            | Self::Retry { .. }
            | Self::Log { .. }
            | Self::ExecutionStarted { .. }
            | Self::AwaitingAnswer { .. }
            | Self::OutcomeUnknown { .. }
            | Self::OutcomeReconciled { .. }
            | Self::FinallyStarted { .. }
            | Self::StepFinished { .. }
            | Self::RunFinished { .. } => None,
        }
    }

    /// The event as observers see it: every value that could hold a secret passes through
    /// `redactor`; names the program makes (the tag, step ids, indexes, statuses, counts,
    /// operation and service names) are kept as they are.
    pub(crate) fn redacted(self, redactor: &Redactor) -> Self {
        let text = |text: String| redactor.text(&text);
        match self {
            Self::RunStarted {
                run_id,
                runbook,
                steps,
            } => Self::RunStarted {
                run_id,
                runbook: text(runbook),
                steps,
            },
            Self::StepStarted { .. } | Self::FinallyStarted { .. } | Self::RunResumed { .. } => {
                self
            }
            Self::OutcomeReconciled {
                step,
                index,
                operation,
                decision,
                detail,
            } => Self::OutcomeReconciled {
                step,
                index,
                operation,
                decision,
                detail: text(detail),
            },
            Self::StepSkipped { step, reason } => Self::StepSkipped {
                step,
                reason: text(reason),
            },
            Self::Poll {
                step,
                index,
                poll,
                status,
                elapsed_ms,
            } => Self::Poll {
                step,
                index,
                poll,
                status: text(status),
                elapsed_ms,
            },
            Self::NodeAction {
                step,
                index,
                node,
                action,
                count,
            } => Self::NodeAction {
                step,
                index,
                node: text(node),
                action,
                count,
            },
            Self::Retry {
                step,
                index,
                attempt,
                delay_ms,
                reason,
            } => Self::Retry {
                step,
                index,
                attempt,
                delay_ms,
                reason: text(reason),
            },
            Self::Log { step, message } => Self::Log {
                step,
                message: text(message),
            },
            Self::ExecutionStarted {
                step,
                index,
                service,
                workflow_id,
                execution_id,
                target,
            } => Self::ExecutionStarted {
                step,
                index,
                service,
                workflow_id: text(workflow_id),
                execution_id: text(execution_id),
                target,
            },
            Self::AwaitingAnswer { .. } => self,
            Self::OutcomeUnknown { outcome } => Self::OutcomeUnknown {
                outcome: outcome.redacted(redactor),
            },
            Self::StepFinished {
                step,
                index,
                status,
                elapsed_ms,
                error,
            } => Self::StepFinished {
                step,
                index,
                status,
                elapsed_ms,
                error: error.map(text),
            },
            Self::RunFinished {
                status,
                elapsed_ms,
                step,
                error,
            } => Self::RunFinished {
                status,
                elapsed_ms,
                step,
                error: error.map(text),
            },
        }
    }
}

/// Receives a run's events and state changes.
///
/// Observers see only redacted events and states: no secret, and nothing computed from one.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);

    /// Called before a request that starts or changes something is sent; the request waits
    /// for it and is not sent when it fails. A journal writes the intent durably here.
    fn before_change(&self, _intent: &Intent) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Called after every transition with the whole state (for journals).
    fn state(&self, _state: &RunState) {}

    /// Called when a step ends (redacted): a journal records it so a resumed run can go on
    /// from there. A step's result in the state changes only just before its `step_finished`
    /// event with no `index`, so a checkpoint of the step that came after that event holds the
    /// result the run ends with, unless the step starts again.
    fn checkpoint(&self, _checkpoint: &Checkpoint<'_>) {}

    /// Called when a step inside a block ends (redacted): a journal records it so a resumed
    /// run goes on inside the block.
    fn block_checkpoint(&self, _checkpoint: &BlockCheckpoint) {}

    /// The executions of `workflow_id` that other runs started and recorded since `since`
    /// (RFC 3339): reconciling a lost start ignores them. A run store answers this.
    fn known_executions(
        &self,
        _workflow_id: &str,
        _since: &str,
    ) -> BoxFuture<'_, Result<Vec<String>, String>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
}
