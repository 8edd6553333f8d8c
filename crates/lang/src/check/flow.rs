//! The shape of the run: step ids (one namespace for `steps` and `finally`), where each step
//! is written, and which steps no path reaches.

use std::collections::HashMap;

use crate::locate::{Part, Path};
use crate::model::Runbook;
use crate::parse::Reporter;
use crate::within_limits;

use super::is_identifier;

/// Where the step at `index` of [`Runbook::all_steps`] is written.
pub(super) fn step_path(runbook: &Runbook, index: usize) -> Path {
    if runbook.is_finally(index) {
        Path::root()
            .key("finally")
            .index(index - runbook.steps.len())
    } else {
        Path::root().key("steps").index(index)
    }
}

/// Step ids (of `steps` and `finally`, which share one namespace) and their positions;
/// reports bad and duplicate ids.
pub(super) fn step_ids(
    reporter: &mut Reporter<'_>,
    runbook: &Runbook,
    unparsed: &[usize],
) -> HashMap<String, usize> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, step) in runbook.all_steps().enumerate() {
        // An outline without an id had a broken one, already reported.
        if step.id.is_empty() && unparsed.contains(&index) {
            continue;
        }
        let path = step_path(runbook, index).key("id");
        let short = within_limits::check_name(reporter, &path, Part::Value, &step.id);
        if short && !is_identifier(&step.id) {
            reporter
                .error(
                    &path,
                    Part::Value,
                    format!(
                        "step id `{}` cannot be read as `steps.{}`",
                        step.id, step.id
                    ),
                )
                .help = Some("use letters, digits and `_`, starting with a letter".into());
        }
        if let Some(first) = ids.get(&step.id) {
            let first_line = reporter
                .locations()
                .span(&step_path(runbook, *first).key("id"), Part::Value);
            let (line, _) = reporter
                .locations()
                .lines()
                .line_col(&reporter.source.text, first_line.start);
            reporter
                .error(
                    &path,
                    Part::Value,
                    format!("duplicate step id `{}`", step.id),
                )
                .help = Some(format!(
                "the first step with this id is on line {line}; ids must be unique"
            ));
        } else {
            ids.insert(step.id.clone(), index);
        }
    }
    ids
}

/// Reports steps no path reaches: after an unconditional `fail` that does not jump.
pub(super) fn check_reachability(
    reporter: &mut Reporter<'_>,
    runbook: &Runbook,
    ids: &HashMap<String, usize>,
) {
    let count = runbook.steps.len();
    let mut reachable = vec![false; count];
    let mut stack = vec![0usize];
    while let Some(index) = stack.pop() {
        if index >= count || reachable[index] {
            continue;
        }
        reachable[index] = true;
        let step = &runbook.steps[index];
        let always_fails = step.fail.is_some() && step.when.is_none();
        if !always_fails || step.on_failure.continues() {
            stack.push(index + 1);
        }
        if let Some(target) = step.on_failure.goto().and_then(|g| ids.get(&g.goto)) {
            stack.push(*target);
        }
    }
    for (index, step) in runbook.steps.iter().enumerate() {
        if !reachable[index] {
            reporter
                .error(
                    &Path::root().key("steps").index(index).key("id"),
                    Part::Value,
                    format!("step `{}` can never run", step.id),
                )
                .help = Some(
                "the step before it always fails; give that step a `when`, or remove this one"
                    .into(),
            );
            break;
        }
    }
}
