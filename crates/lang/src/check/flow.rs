//! The shape of the run: step ids (one namespace for `steps`, `finally` and blocks), and
//! which steps no path reaches.

use std::collections::HashMap;

use crate::locate::Part;
use crate::parse::Reporter;
use crate::within_limits;

use super::is_identifier;
use super::tree::StepTree;

/// Step ids (of `steps`, `finally` and every block, which share one namespace) and their
/// positions in `tree`; reports bad and duplicate ids.
pub(super) fn step_ids(reporter: &mut Reporter<'_>, tree: &StepTree<'_>) -> HashMap<String, usize> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, entry) in tree.entries.iter().enumerate() {
        let step = entry.step;
        // An outline without an id had a broken one, already reported.
        if step.id.is_empty() && entry.unparsed {
            continue;
        }
        let path = entry.path.key("id");
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
                .span(&tree.entries[*first].path.key("id"), Part::Value);
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
                "the first step with this id is on line {line}; ids must be unique, inside blocks too"
            ));
        } else {
            ids.insert(step.id.clone(), index);
        }
    }
    ids
}

/// Reports steps no path reaches: after an unconditional `fail` that does not jump, in
/// `steps` and in each block's body.
pub(super) fn check_reachability(reporter: &mut Reporter<'_>, tree: &StepTree<'_>) {
    // The steps of each list, in order: `steps` (not `finally`), and each block's body.
    let mut lists: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (index, entry) in tree.entries.iter().enumerate() {
        if entry.parent.is_some() || !entry.finally {
            lists.entry(entry.parent).or_default().push(index);
        }
    }
    let mut lists: Vec<Vec<usize>> = lists.into_values().collect();
    lists.sort_unstable();
    for members in lists {
        check_list_reachability(reporter, tree, &members);
    }
}

fn check_list_reachability(reporter: &mut Reporter<'_>, tree: &StepTree<'_>, members: &[usize]) {
    let count = members.len();
    let position_of: HashMap<usize, usize> = members
        .iter()
        .enumerate()
        .map(|(position, &index)| (index, position))
        .collect();
    let mut reachable = vec![false; count];
    let mut stack = vec![0usize];
    while let Some(position) = stack.pop() {
        if position >= count || reachable[position] {
            continue;
        }
        reachable[position] = true;
        let step = tree.entries[members[position]].step;
        let always_fails = step.fail.is_some() && step.when.is_none();
        if !always_fails || step.on_failure.continues() {
            stack.push(position + 1);
        }
        let target = step.on_failure.goto().and_then(|g| tree.ids.get(&g.goto));
        if let Some(&target) = target.and_then(|t| position_of.get(t)) {
            stack.push(target);
        }
    }
    if let Some(position) = reachable.iter().position(|reached| !reached) {
        let entry = &tree.entries[members[position]];
        reporter
            .error(
                &entry.path.key("id"),
                Part::Value,
                format!("step `{}` can never run", entry.step.id),
            )
            .help = Some(
            "the step before it always fails; give that step a `when`, or remove this one".into(),
        );
    }
}
