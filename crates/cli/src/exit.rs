//! The documented exit codes (README, `runbook --help`).

use runbook_runner::{RunState, RunStatus};

/// The exit code of a run that ended (or stopped) in `state`.
pub fn for_state(state: &RunState) -> u8 {
    match (state.status, &state.needs_decision) {
        (RunStatus::Suspended, Some(_)) => NEEDS_DECISION,
        (status, _) => for_status(status),
    }
}

pub const SUCCESS: u8 = 0;
/// A step failed and the run stopped (or failed at the end).
pub const STEP_FAILED: u8 = 1;
/// The runbook, its inputs, the command line or the configuration (credentials, region) is
/// invalid; nothing was run.
pub const INVALID: u8 = 2;
/// The run's or a step's deadline passed.
pub const TIMED_OUT: u8 = 3;
/// An unfinished run cannot be resumed safely without a person: the runbook or its inputs
/// changed, its deadline passed, or a lost request's outcome cannot be settled through the
/// API. The message names the run, its executions, and the commands that decide.
pub const NEEDS_DECISION: u8 = 4;
/// Another run holds the runbook's lock: nothing ran; or SIGTERM suspended the run, and the
/// next invocation resumes it. Try again later (`EX_TEMPFAIL`, so a cron wrapper can tell
/// "skipped" from "failed").
pub const SKIPPED: u8 = 75;
/// SIGINT or SIGTERM stopped the run (128 + SIGINT, as shells report it).
pub const CANCELLED: u8 = 130;
/// Stdout was closed by its reader (`| head`): the rest was not printed (128 + SIGPIPE, as
/// shells report a process that SIGPIPE ended).
pub const PIPE_CLOSED: u8 = 141;

pub fn for_status(status: RunStatus) -> u8 {
    match status {
        RunStatus::Succeeded => SUCCESS,
        RunStatus::Failed | RunStatus::Running => STEP_FAILED,
        RunStatus::TimedOut => TIMED_OUT,
        RunStatus::Cancelled => CANCELLED,
        RunStatus::Suspended => SKIPPED,
    }
}
