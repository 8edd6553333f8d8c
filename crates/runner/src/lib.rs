//! Runs runbooks (`runbook-lang`) against the generated client (`hwc-client`): steps in order,
//! templated fields, retries, deadlines, waits with node rules, fan-out, failure routing and
//! cancellation. Everything a run does is reported as [`Event`]s and kept in one
//! serialisable [`RunState`].
//!
//! The runner knows operations and models, never HTTP: requests, signing and transport
//! retries are the client's.

mod actions;
pub mod event;
pub mod failure;
mod fan_out;
mod finally;
mod in_flight;
pub mod inputs;
mod reconcile;
pub mod redact;
mod request;
pub mod resume;
mod runner;
pub mod state;
pub mod targets;
mod template_values;
mod wait;

pub use event::{Event, Observer};

/// The version of the JSON the runner's types are written as — the run state (`--output
/// json`), the log's events, and the journal, which holds the same events and the runner's
/// checkpoints — carried as `version` by each. Bumped when a shape changes so that an older
/// reader would misread it (a field removed, renamed or retyped, a meaning changed); a new
/// optional field or a new event does not bump it, and readers ignore what they do not know.
/// Version 2 added the checkpoints, which resuming needs.
pub const FORMAT_VERSION: u32 = 2;
pub use redact::Redactor;
pub use resume::{BlockCheckpoint, Checkpoint, Resume};
pub use runner::{
    owner, rfc3339, RunInput, Runner, Suspender, DEFAULT_GRACE, DEFAULT_RECONCILE_SKEW,
};
pub use state::{
    Decision, HandledFailure, Intent, NeedsDecision, RunState, RunStatus, StartedExecution,
    StepState, StepStatus, UnknownOutcome,
};
