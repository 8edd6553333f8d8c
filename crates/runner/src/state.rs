//! A run's state in one serialisable structure, updated at every transition. A journal can
//! write it out after each change, and a resumed run can read which executions it started.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    TimedOut,
    Cancelled,
}

impl StepStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One step's progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepState {
    pub status: StepStatus,
    /// Attempts made (retries included), summed over `for_each` elements.
    pub attempts: u32,
    /// Status polls made by a wait.
    pub polls: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// What later steps read as `steps.<id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times this step's `on_failure: {goto}` was taken.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gotos_taken: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl StepState {
    fn pending() -> Self {
        Self {
            status: StepStatus::Pending,
            attempts: 0,
            polls: 0,
            started_at: None,
            finished_at: None,
            result: None,
            error: None,
            gotos_taken: 0,
        }
    }
}

/// An execution the run started: what a resumed run re-attaches to instead of starting again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedExecution {
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// `aom` or `functiongraph`.
    pub service: String,
    pub workflow_id: String,
    pub execution_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandledFailure {
    pub step: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    pub runbook: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub status: RunStatus,
    /// The inputs, with secret ones as `***`.
    pub inputs: Map<String, Value>,
    pub vars: Map<String, Value>,
    /// Every step, in runbook order.
    pub steps: IndexMap<String, StepState>,
    /// The step running now, or where the run stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    pub executions: Vec<StartedExecution>,
    /// The last failure `on_failure` routed (`continue` or `goto`); templates read it as
    /// `run.failed_step` and `run.error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handled_failure: Option<HandledFailure>,
    /// Computed when the run succeeds.
    pub outputs: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunState {
    pub fn new(
        run_id: String,
        runbook: &runbook_lang::Runbook,
        started_at: String,
        shown_inputs: Map<String, Value>,
    ) -> Self {
        Self {
            run_id,
            runbook: runbook.name.clone(),
            started_at,
            finished_at: None,
            status: RunStatus::Running,
            inputs: shown_inputs,
            vars: Map::new(),
            steps: runbook
                .steps
                .iter()
                .map(|step| (step.id.clone(), StepState::pending()))
                .collect(),
            current_step: None,
            executions: Vec::new(),
            handled_failure: None,
            outputs: Map::new(),
            error: None,
        }
    }

    /// `steps.<id>` for templates: the result of every step that has one.
    pub fn step_results(&self) -> Map<String, Value> {
        self.steps
            .iter()
            .filter_map(|(id, step)| step.result.clone().map(|r| (id.clone(), r)))
            .collect()
    }
}
