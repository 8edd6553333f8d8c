//! A run's state in one serialisable structure, updated at every transition. A journal can
//! write it out after each change, and a resumed run can read which executions it started.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    /// Stopped so it can be resumed: by SIGTERM, or because resuming it safely needs a
    /// decision ([`RunState::needs_decision`]). The store keeps it unfinished.
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Suspended => "suspended",
        }
    }
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StepState {
    pub status: StepStatus,
    /// Attempts made (retries included), summed over `for_each` elements; a block's count
    /// those of the steps inside it, and its elements'.
    pub attempts: u32,
    /// Status polls made by a wait (a block's: by the waits inside it).
    pub polls: u32,
    /// A `for_each` step: how many elements its list had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
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

impl StepStatus {
    /// What `steps.<id>` reads for a step with no result: `{"status": …}`, where a step
    /// that never ran is `not_run`.
    pub fn placeholder(self) -> Value {
        let status = match self {
            StepStatus::Pending => "not_run",
            other => other.name(),
        };
        serde_json::json!({ "status": status })
    }
}

impl StepState {
    fn pending() -> Self {
        Self {
            status: StepStatus::Pending,
            attempts: 0,
            polls: 0,
            items: None,
            started_at: None,
            finished_at: None,
            result: None,
            error: None,
            gotos_taken: 0,
        }
    }
}

/// An execution the run started: what a resumed run re-attaches to instead of starting again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StartedExecution {
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// `aom` or `functiongraph`.
    pub service: String,
    pub workflow_id: String,
    pub execution_id: String,
    /// Where the request went, when its step named a `target`; absent: the run's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
}

/// A step's `target`, rendered: each field checked, `None` where the run's applies. Never a
/// secret: `credentials` names the environment variables, not their values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct TargetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The prefix of the environment variables that hold the keys (`PROD_EU`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

impl TargetSpec {
    /// ` in project …` for a line about a request that went to `target`; empty for one that
    /// went to the run's own target.
    pub fn suffix(target: Option<&TargetSpec>) -> String {
        target
            .map(|target| format!(" {}", target.describe()))
            .unwrap_or_default()
    }

    /// `in project …` (and region, keys) for a line about a request that went there.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(project_id) = &self.project_id {
            parts.push(format!("project {project_id}"));
        }
        if let Some(region) = &self.region {
            parts.push(format!("region {region}"));
        }
        if let Some(credentials) = &self.credentials {
            parts.push(format!("credentials {credentials}_*"));
        }
        format!("in {}", parts.join(", "))
    }
}

/// A request that starts or changes something, sent but with no answer that says whether it
/// took effect (a lost answer, a timeout, a 5xx, or a cancellation that outlasted the grace).
/// Someone must look before the run is repeated: resending could apply it twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnknownOutcome {
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// `aom` or `functiongraph`.
    pub service: String,
    /// The operation sent, e.g. `ExecuteWorkflow`.
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// When the request was sent (the run's clock).
    pub sent_at: String,
    /// From the answer's headers, when they arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub reason: String,
    /// Where the request went, when its step named a `target`; absent: the run's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
}

impl UnknownOutcome {
    pub(crate) fn redacted(self, redactor: &crate::Redactor) -> Self {
        Self {
            workflow_id: redactor.optional_text(self.workflow_id.as_deref()),
            execution_id: redactor.optional_text(self.execution_id.as_deref()),
            request_id: redactor.optional_text(self.request_id.as_deref()),
            reason: redactor.text(&self.reason),
            ..self
        }
    }

    /// One line for people: what was sent, when, and what to check.
    pub fn describe(&self) -> String {
        let mut text = format!("{} {}", self.service, self.operation);
        if let Some(workflow_id) = &self.workflow_id {
            text.push_str(&format!(" of workflow {workflow_id}"));
        }
        if let Some(execution_id) = &self.execution_id {
            text.push_str(&format!(", execution {execution_id}"));
        }
        text.push_str(&format!(" (step {}", self.step));
        if let Some(index) = self.index {
            text.push_str(&format!("[{index}]"));
        }
        text.push(')');
        text.push_str(&TargetSpec::suffix(self.target.as_ref()));
        text.push_str(&format!(", sent at {}", self.sent_at));
        if let Some(request_id) = &self.request_id {
            text.push_str(&format!(", request id {request_id}"));
        }
        text.push_str(&format!(": {}", self.reason));
        text
    }
}

/// A request that starts or changes something, about to be sent: a journal records it
/// durably first, so a crash between sending and answering leaves a trace to reconcile.
/// Serialised with `"event": "intent"`, as the journal holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename = "intent")]
pub struct Intent {
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub service: String,
    pub operation: String,
    /// The rendered parameters, redacted.
    pub params: Value,
    pub at: String,
    /// Where the request went, when its step named a `target`; absent: the run's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HandledFailure {
    pub step: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
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
    /// Requests that may or may not have taken effect: check these before running again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_outcomes: Vec<UnknownOutcome>,
    /// The last failure `on_failure` routed (`continue` or `goto`); templates read it as
    /// `run.failed_step` and `run.error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handled_failure: Option<HandledFailure>,
    /// Computed when the run succeeds.
    pub outputs: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The failure of a `finally` step that `on_failure` did not handle. It turns a
    /// succeeded run into a failed one and leaves any other status as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finally_error: Option<String>,
    /// Why a suspended run cannot go on by itself, and what to decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_decision: Option<NeedsDecision>,
}

/// A change whose outcome is unknown and that the API could not settle: several executions
/// could be the one it started, or the operation cannot be looked up at all. A person
/// decides with `runbook resume RUN_ID --adopt EXECUTION_ID` or `--start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NeedsDecision {
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub service: String,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// The executions begun within the window, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// The window searched (RFC 3339), when executions were listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<(String, String)>,
    pub reason: String,
}

/// What a person decided about a [`NeedsDecision`]: the run resumes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// This execution is the one the lost request started.
    Adopt(String),
    /// The request did not take effect: send it again.
    Start,
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
                .all_steps()
                .map(|step| (step.id.clone(), StepState::pending()))
                .collect(),
            current_step: None,
            executions: Vec::new(),
            unknown_outcomes: Vec::new(),
            handled_failure: None,
            outputs: Map::new(),
            error: None,
            finally_error: None,
            needs_decision: None,
        }
    }
}
