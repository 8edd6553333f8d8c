//! The semantic checks serde cannot do, by concern: the header (`header.rs`), ids and
//! reachability (`flow.rs`), each step's action, statuses, jumps and limits (`step.rs`), every
//! string of a step and what the runner does with it (`texts.rs`), and the names templates
//! read (`references.rs`).

use crate::limits::MAX_STEPS;
use crate::model::Runbook;
use crate::parse::Reporter;
use crate::template::Engine;
use crate::within_limits;

mod block;
mod flow;
mod header;
mod references;
mod step;
mod sub;
mod texts;
mod tree;

pub(crate) use header::check_partial;

use flow::{check_reachability, step_ids};
use references::{check_outputs, check_templates, vars_set, Scope};
use step::check_step;
use tree::StepTree;

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
    let mut tree = StepTree::new(runbook, unparsed);
    // `parse` counted the steps of `steps` and `finally`; blocks' steps count too.
    if tree.entries.len() > MAX_STEPS {
        reporter.error(
            &crate::locate::Path::root().key("steps"),
            crate::locate::Part::Key,
            format!(
                "{} steps, counting those inside blocks; at most {MAX_STEPS}",
                tree.entries.len()
            ),
        );
        return;
    }
    let counted = crate::parse::steps_counted(runbook);
    if counted > MAX_STEPS {
        reporter.error(
            &crate::locate::Path::root().key("steps"),
            crate::locate::Part::Key,
            format!(
                "{counted} steps, counting the sub-runbooks' each time a step runs one; at most {MAX_STEPS}"
            ),
        );
        return;
    }
    tree.ids = step_ids(reporter, &tree);
    let engine = Engine::default();
    let vars = vars_set(&tree);
    let run_wide = Scope::run_wide(runbook, &tree, &vars);
    for (index, entry) in tree.entries.iter().enumerate() {
        if entry.unparsed {
            continue;
        }
        let (step, path) = (entry.step, &entry.path);
        check_step(reporter, runbook, &tree, index, step, path);
        within_limits::check_step(reporter, step, path);
        check_templates(reporter, &engine, run_wide, index, step, path);
    }
    check_outputs(reporter, &engine, run_wide);
    if unparsed.is_empty() {
        check_reachability(reporter, &tree);
    }
}

pub(super) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
