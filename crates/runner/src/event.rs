//! What a run reports as it goes: one event per step start, poll, node action, retry, log
//! and finish. Observers turn them into progress, plain lines or JSON lines.

use serde::Serialize;

use crate::state::{RunState, RunStatus, StepStatus, UnknownOutcome};

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        runbook: String,
        steps: usize,
    },
    StepStarted {
        step: String,
        /// The step's `name`, or its id.
        label: String,
        action: String,
        /// The `for_each` element, when the step fans out.
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
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
    /// The `finally` steps begin; `status` is how the run ended.
    FinallyStarted {
        status: RunStatus,
        steps: usize,
    },
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

/// Receives a run's events and state changes.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);

    /// Called after every transition with the whole state (for journals).
    fn state(&self, _state: &RunState) {}
}
