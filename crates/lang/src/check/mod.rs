//! The semantic checks serde cannot do, by concern: the header (`header.rs`), ids and
//! reachability (`flow.rs`), each step's action, statuses, jumps and limits (`step.rs`), every
//! string of a step and what the runner does with it (`texts.rs`), and the names templates
//! read (`references.rs`).

use crate::model::Runbook;
use crate::parse::Reporter;
use crate::template::Engine;
use crate::within_limits;

mod flow;
mod header;
mod references;
mod step;
mod texts;

pub(crate) use header::check_partial;

use flow::{check_reachability, step_ids, step_path};
use references::{check_outputs, check_templates, vars_set, Scope};
use step::check_step;

use hwc_client::models::{
    AomExecutionStatus, FunctionGraphExecutionStatus, FunctionGraphSyncExecutionStatus,
};

const AOM_STATUSES: &[&str] = AomExecutionStatus::KNOWN;
const FUNCTIONGRAPH_STATUSES: &[&str] = FunctionGraphExecutionStatus::KNOWN;
const FUNCTIONGRAPH_SYNC_STATUSES: &[&str] = FunctionGraphSyncExecutionStatus::KNOWN;

/// Every check. `unparsed` lists the steps (by index in `steps` then `finally`) that did not
/// parse and stand in as outlines: they are not checked themselves, and what depends on
/// every step being known (reachability) is left for the next pass.
pub(crate) fn check(reporter: &mut Reporter<'_>, runbook: &Runbook, unparsed: &[usize]) {
    check_partial(reporter, runbook);
    let ids = step_ids(reporter, runbook, unparsed);
    let engine = Engine::default();
    let vars = vars_set(runbook);
    let run_wide = Scope::run_wide(runbook, &ids, &vars);
    for (index, step) in runbook.all_steps().enumerate() {
        if unparsed.contains(&index) {
            continue;
        }
        let path = step_path(runbook, index);
        check_step(reporter, runbook, &ids, index, step, &path);
        within_limits::check_step(reporter, step, &path);
        check_templates(reporter, &engine, run_wide, index, step, &path);
    }
    check_outputs(reporter, &engine, run_wide);
    if unparsed.is_empty() {
        check_reachability(reporter, runbook, &ids);
    }
}

pub(super) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
