//! The documented exit codes (README, `runbook --help`).

use runbook_runner::RunStatus;

pub const SUCCESS: u8 = 0;
/// A step failed and the run stopped (or failed at the end).
pub const STEP_FAILED: u8 = 1;
/// The runbook, its inputs, the command line or the configuration (credentials, region) is
/// invalid; nothing was run.
pub const INVALID: u8 = 2;
/// The run's or a step's deadline passed.
pub const TIMED_OUT: u8 = 3;
/// Another run holds the runbook's lock: nothing ran; try again later (`EX_TEMPFAIL`, so a
/// cron wrapper can tell "skipped" from "failed").
pub const SKIPPED: u8 = 75;
/// SIGINT or SIGTERM stopped the run (128 + SIGINT, as shells report it).
pub const CANCELLED: u8 = 130;

pub fn for_status(status: RunStatus) -> u8 {
    match status {
        RunStatus::Succeeded => SUCCESS,
        RunStatus::Failed | RunStatus::Running => STEP_FAILED,
        RunStatus::TimedOut => TIMED_OUT,
        RunStatus::Cancelled => CANCELLED,
    }
}
