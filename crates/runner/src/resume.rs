//! Resuming a run from its journal.
//!
//! The journal a run leaves is a prefix of what it did: events are appended in order, and the
//! intent of every request that changes something is on disk, with everything before it,
//! before the request goes out. So replaying the journal gives the run as it stood at some
//! moment, and every change it may have made after that moment has an intent in it.
//!
//! - A [`Checkpoint`] closes each step: its state, the variables it set, where the run goes
//!   next and the run-level fields. Folding the checkpoints restores finished steps without
//!   running them again.
//! - What follows the last checkpoint belongs to the step that was interrupted: its intents,
//!   the executions it started, its retries and node actions. That step runs again, and each
//!   change it is about to make first consults this [`Ledger`]: a recorded answer is used, an
//!   intent with no answer is reconciled through the API (`reconcile.rs`) instead of being
//!   sent again.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::Event;
use crate::state::{
    Decision, HandledFailure, Intent, RunState, RunStatus, StartedExecution, StepState, StepStatus,
    UnknownOutcome,
};

/// Which list of steps the run is in, and the index of the next step to run there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub phase: Phase,
    pub index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Steps,
    Finally,
}

impl Position {
    pub const START: Self = Self {
        phase: Phase::Steps,
        index: 0,
    };
}

/// The end of a step (or, with no `step`, of the main steps): written to the journal so a
/// resumed run neither repeats the step nor loses what it computed. Every value in it is
/// redacted, like the state. The run emits it borrowing its state (a step's result may be
/// large, and most observers only serialise it); read back from a journal it owns its values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename = "checkpoint")]
pub struct Checkpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Cow<'a, StepState>>,
    /// The variables set since the previous checkpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, Cow<'a, Value>>,
    pub next: Position,
    pub status: RunStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handled_failure: Option<HandledFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finally_error: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Cow<'a, Map<String, Value>>,
}

/// The end of a step inside a block, in one element's or pass's body: written to the
/// journal so a resumed run goes on inside the body without running the step again. Unlike
/// a [`Checkpoint`] it moves no position and settles no ledger: the block's other elements
/// may still be running, with requests in flight. Its values are redacted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename = "block_checkpoint")]
pub struct BlockCheckpoint {
    /// The element or pass, by path: `batch[2]`, or `batch` for a block that does not loop.
    pub body: String,
    /// The step of the body that ended (its id in the body).
    pub step: String,
    pub status: StepStatus,
    /// What `steps.<step>` reads in the rest of the body.
    pub result: Value,
    /// The index in the body of the step to run next; `None` when the body failed here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The variables set since the last [`Checkpoint`] (which records them again).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, Value>,
}

/// One element's or pass's body as its block checkpoints left it.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyRecord {
    /// What `steps.<id>` reads in the body, for the steps that ended.
    pub(crate) frame: Map<String, Value>,
    /// Where the body goes on; `None` when it failed.
    pub(crate) next: Option<usize>,
    pub(crate) error: Option<String>,
}

/// The bodies the interrupted step's blocks ran, by path.
pub(crate) type BodyRecords = HashMap<String, BodyRecord>;

/// A run read back from its journal, ready to go on: give it to [`crate::Runner::resume`].
#[derive(Debug)]
pub struct Resume {
    /// When the run first started (RFC 3339): its deadline counts from here.
    pub started_at: String,
    /// What a person decided about the change the run stopped at, if it stopped for one.
    pub decision: Option<Decision>,
    pub(crate) checkpoints: Vec<Checkpoint<'static>>,
    pub(crate) position: Position,
    pub(crate) executions: Vec<StartedExecution>,
    pub(crate) unknown_outcomes: Vec<UnknownOutcome>,
    pub(crate) ledger: LedgerEntries,
    pub(crate) bodies: BodyRecords,
    /// Variables set inside blocks since the last checkpoint.
    block_vars: Map<String, Value>,
}

/// What the journal holds after the last checkpoint, by step and `for_each` element.
pub(crate) type LedgerEntries = HashMap<(String, Option<usize>), Element>;

/// One step element's record after the last checkpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    /// Changes sent whose answer the journal does not hold, oldest first.
    pub(crate) unanswered: VecDeque<Intent>,
    /// Every change sent, answered or not, oldest first (a wait's node actions).
    pub(crate) sent: Vec<Intent>,
    /// The execution a start of this element returned.
    pub(crate) started: Option<StartedExecution>,
    /// Attempts that failed and were retried.
    pub(crate) retries: u32,
    /// When the element began (the journal's `ts`).
    pub(crate) began_at: Option<String>,
}

/// Operations whose answer the journal records as `execution_started`.
const STARTS: &[&str] = &[
    "ExecuteWorkflow",
    "StartWorkflowExecution",
    "StartSyncWorkflowExecution",
];

impl Resume {
    /// Reads a journal: its entries in order, as the journal writer appended them (each
    /// with an `event` tag and a `ts`). Entries it does not know are skipped, so a journal
    /// with more kinds of entries still resumes.
    pub fn from_journal(started_at: String, entries: &[Value]) -> Result<Self, String> {
        let mut resume = Self {
            started_at,
            decision: None,
            checkpoints: Vec::new(),
            position: Position::START,
            executions: Vec::new(),
            unknown_outcomes: Vec::new(),
            ledger: HashMap::new(),
            bodies: HashMap::new(),
            block_vars: Map::new(),
        };
        for (seq, entry) in entries.iter().enumerate() {
            let tag = entry.get("event").and_then(Value::as_str).unwrap_or("");
            let unreadable = |error: serde_json::Error| {
                format!("journal entry {} (`{tag}`) is unreadable: {error}", seq + 1)
            };
            match tag {
                "checkpoint" => {
                    let checkpoint: Checkpoint<'static> =
                        serde_json::from_value(entry.clone()).map_err(unreadable)?;
                    resume.position = checkpoint.next;
                    resume.ledger.clear();
                    resume.bodies.clear();
                    resume.block_vars.clear();
                    resume.checkpoints.push(checkpoint);
                }
                "block_checkpoint" => {
                    let checkpoint: BlockCheckpoint =
                        serde_json::from_value(entry.clone()).map_err(unreadable)?;
                    let body = resume.bodies.entry(checkpoint.body).or_default();
                    body.frame.insert(checkpoint.step, checkpoint.result);
                    body.next = checkpoint.next;
                    body.error = checkpoint.error;
                    resume.block_vars.extend(checkpoint.vars);
                }
                "intent" => {
                    let intent: Intent =
                        serde_json::from_value(entry.clone()).map_err(unreadable)?;
                    let element = resume
                        .ledger
                        .entry((intent.step.clone(), intent.index))
                        .or_default();
                    element.sent.push(intent.clone());
                    element.unanswered.push_back(intent);
                }
                "execution_started" | "step_started" | "retry" | "outcome_unknown"
                | "outcome_reconciled" => {
                    let event: Event = serde_json::from_value(entry.clone()).map_err(unreadable)?;
                    let ts = entry.get("ts").and_then(Value::as_str);
                    resume.replay_event(event, ts);
                }
                _ => {}
            }
        }
        Ok(resume)
    }

    fn replay_event(&mut self, event: Event, ts: Option<&str>) {
        match event {
            Event::ExecutionStarted {
                step,
                index,
                service,
                workflow_id,
                execution_id,
                target,
            } => {
                let execution = StartedExecution {
                    step: step.clone(),
                    index,
                    service,
                    workflow_id,
                    execution_id,
                    target,
                };
                if !self
                    .executions
                    .iter()
                    .any(|e| e.execution_id == execution.execution_id)
                {
                    self.executions.push(execution.clone());
                }
                let element = self.ledger.entry((step, index)).or_default();
                if let Some(at) = element
                    .unanswered
                    .iter()
                    .rposition(|intent| STARTS.contains(&intent.operation.as_str()))
                {
                    element.unanswered.remove(at);
                }
                element.started = Some(execution);
            }
            Event::StepStarted { step, index, .. } => {
                let element = self.ledger.entry((step, index)).or_default();
                element.began_at = ts.map(str::to_owned);
            }
            Event::Retry { step, index, .. } => {
                self.ledger.entry((step, index)).or_default().retries += 1;
            }
            Event::OutcomeUnknown { outcome } => self.unknown_outcomes.push(outcome),
            Event::OutcomeReconciled { step, index, .. } => self
                .unknown_outcomes
                .retain(|o| !(o.step == step && o.index == index)),
            _ => {}
        }
    }

    /// The step the run goes on at (its id), or `None` when only the end is left.
    pub fn next_step<'r>(&self, runbook: &'r runbook_lang::Runbook) -> Option<&'r str> {
        let steps = match self.position.phase {
            Phase::Steps => &runbook.steps,
            Phase::Finally => &runbook.finally,
        };
        match steps.get(self.position.index) {
            Some(step) => Some(&step.id),
            // The main steps are over; `finally` comes next.
            None if self.position.phase == Phase::Steps => {
                runbook.finally.first().map(|s| s.id.as_str())
            }
            None => None,
        }
    }

    /// The executions the run started, as its journal recorded them.
    pub fn executions(&self) -> &[StartedExecution] {
        &self.executions
    }

    /// Applies the checkpoints to a fresh state, and hands over what the run goes on with.
    pub(crate) fn restore(self, state: &mut RunState) -> Restored {
        let mut restored = Restored {
            vars: Map::new(),
            results: Map::new(),
            masked: Vec::new(),
            position: self.position,
            decision: self.decision,
            ledger: Ledger::new(HashMap::new(), HashMap::new()),
        };
        for checkpoint in self.checkpoints {
            if let (Some(id), Some(step)) = (&checkpoint.step, &checkpoint.state) {
                if let Some(result) = &step.result {
                    if result.to_string().contains(crate::redact::MASK) {
                        restored.masked.push(id.clone());
                    }
                    restored.results.insert(id.clone(), result.clone());
                }
                if let Some(slot) = state.steps.get_mut(id) {
                    *slot = step.clone().into_owned();
                }
            }
            restored.vars.extend(
                checkpoint
                    .vars
                    .into_iter()
                    .map(|(name, value)| (name, value.into_owned())),
            );
            state.status = checkpoint.status;
            state.current_step = checkpoint.current_step;
            state.error = checkpoint.error;
            state.handled_failure = checkpoint.handled_failure;
            state.finally_error = checkpoint.finally_error;
            if !checkpoint.outputs.is_empty() {
                state.outputs = checkpoint.outputs.into_owned();
            }
        }
        restored.vars.extend(self.block_vars);
        state.started_at = self.started_at;
        state.vars = restored.vars.clone();
        state.executions = self.executions;
        // The interrupted step's unknown outcomes are settled as it runs again.
        state.unknown_outcomes = self
            .unknown_outcomes
            .into_iter()
            .filter(|o| !self.ledger.contains_key(&(o.step.clone(), o.index)))
            .collect();
        restored.ledger = Ledger::new(self.ledger, self.bodies);
        restored
    }
}

/// What a resumed run goes on with, besides its restored state.
pub(crate) struct Restored {
    /// The variables and step results templates read: the journal's values, secrets masked.
    pub(crate) vars: Map<String, Value>,
    pub(crate) results: Map<String, Value>,
    /// The restored steps whose result holds a masked secret, in the order they finished.
    pub(crate) masked: Vec<String>,
    pub(crate) position: Position,
    pub(crate) decision: Option<Decision>,
    pub(crate) ledger: Ledger,
}

/// The interrupted step's record, consumed as the step runs again.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    elements: Mutex<LedgerEntries>,
    bodies: Mutex<BodyRecords>,
}

impl Ledger {
    pub(crate) fn new(entries: LedgerEntries, bodies: BodyRecords) -> Self {
        Self {
            elements: Mutex::new(entries),
            bodies: Mutex::new(bodies),
        }
    }

    /// How far the body at `path` had gone before the crash, taken once.
    pub(crate) fn take_body(&self, path: &str) -> Option<BodyRecord> {
        self.bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(path)
    }

    /// Whether the journal holds the body at `path` (a pass already run: no pause before it).
    pub(crate) fn has_body(&self, path: &str) -> bool {
        self.bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(path)
    }

    fn with<R>(
        &self,
        step: &str,
        index: Option<usize>,
        read: impl FnOnce(&mut Element) -> R,
    ) -> Option<R> {
        let mut elements = self.elements.lock().unwrap_or_else(PoisonError::into_inner);
        elements.get_mut(&(step.to_owned(), index)).map(read)
    }

    /// The execution a start of this element returned before the crash, taken once: the
    /// start is not sent again.
    pub(crate) fn take_started(
        &self,
        step: &str,
        index: Option<usize>,
    ) -> Option<StartedExecution> {
        self.with(step, index, |element| element.started.take())
            .flatten()
    }

    /// The oldest intent of `operation` this element sent with no answer on record, taken
    /// once: the change may or may not have taken effect.
    pub(crate) fn take_unanswered(
        &self,
        step: &str,
        index: Option<usize>,
        operation: &str,
    ) -> Option<Intent> {
        self.with(step, index, |element| {
            let at = element
                .unanswered
                .iter()
                .position(|intent| intent.operation == operation)?;
            element.unanswered.remove(at)
        })
        .flatten()
    }

    /// The changes of `operation` this element sent before the crash (a wait's node
    /// actions), taken once.
    pub(crate) fn sent(&self, step: &str, index: Option<usize>, operation: &str) -> Vec<Intent> {
        self.with(step, index, |element| {
            let (taken, kept) = std::mem::take(&mut element.sent)
                .into_iter()
                .partition(|intent| intent.operation == operation);
            element.sent = kept;
            element.unanswered.retain(|i| i.operation != operation);
            taken
        })
        .unwrap_or_default()
    }

    /// When the newest change after the last checkpoint was sent: a request the dead
    /// process had in flight may still land until a moment after it.
    pub(crate) fn last_sent_at(&self) -> Option<String> {
        let elements = self.elements.lock().unwrap_or_else(PoisonError::into_inner);
        elements
            .values()
            .flat_map(|element| element.sent.iter().map(|intent| intent.at.clone()))
            .max()
    }

    pub(crate) fn retries(&self, step: &str, index: Option<usize>) -> u32 {
        self.with(step, index, |element| std::mem::take(&mut element.retries))
            .unwrap_or(0)
    }

    /// When the element began, taken once (the step's deadline counts from there).
    pub(crate) fn began_at(&self, step: &str) -> Option<String> {
        let elements = self.elements.lock().unwrap_or_else(PoisonError::into_inner);
        elements
            .iter()
            .filter(|((id, _), _)| id == step)
            .filter_map(|(_, element)| element.began_at.clone())
            .min()
    }
}
