//! What a run reports as it goes: one event per step start, poll, node action, retry, log
//! and finish. Observers turn them into progress, plain lines or JSON lines.

use serde::Serialize;

use crate::state::{RunState, RunStatus, StepStatus};

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
