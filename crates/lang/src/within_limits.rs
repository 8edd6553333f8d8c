//! The limits a runbook writes down itself (counts, names, concurrency, poll delays), each
//! reported where it is written. What only a run can know (how many items a template gives
//! `for_each`, how large a `set` value renders) the runner checks.

use crate::limits::{
    MAX_CONCURRENCY, MAX_FOR_EACH_ITEMS, MAX_JUMPS, MAX_NAME_CHARS, MAX_RETRY_ATTEMPTS,
    MIN_POLL_DELAY,
};
use crate::locate::{Part, Path};
use crate::model::{Action, NodeRule, Poll, Runbook, Step, Templated};
use crate::parse::Reporter;

/// Whether `name` (a step id, input, variable or output) is short enough; reports it if not.
pub(crate) fn check_name(reporter: &mut Reporter<'_>, path: &Path, part: Part, name: &str) -> bool {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        reporter.error(
            path,
            part,
            format!("a name of {chars} characters; at most {MAX_NAME_CHARS}"),
        );
        return false;
    }
    true
}

/// The header's names.
pub(crate) fn check_header(reporter: &mut Reporter<'_>, runbook: &Runbook) {
    for name in runbook.inputs.keys() {
        let path = Path::root().key("inputs").key(name.clone());
        check_name(reporter, &path, Part::Key, name);
    }
    for name in runbook.outputs.keys() {
        let path = Path::root().key("outputs").key(name.clone());
        check_name(reporter, &path, Part::Key, name);
    }
}

/// One step's counts, names and delays.
pub(crate) fn check_step(reporter: &mut Reporter<'_>, step: &Step, path: &Path) {
    if let Some(set) = &step.set {
        for name in set.keys() {
            check_name(
                reporter,
                &path.key("set").key(name.clone()),
                Part::Key,
                name,
            );
        }
    }
    if let Some(&concurrency) = step.concurrency.as_ref().and_then(Templated::literal) {
        at_most(
            reporter,
            &path.key("concurrency"),
            "concurrency",
            concurrency,
            MAX_CONCURRENCY,
        );
    }
    if let Some(items) = step.for_each.as_ref().and_then(|v| v.as_array()) {
        if items.len() > MAX_FOR_EACH_ITEMS {
            reporter.error(
                &path.key("for_each"),
                Part::Key,
                format!(
                    "`for_each` over {} items; at most {MAX_FOR_EACH_ITEMS}",
                    items.len()
                ),
            );
        }
    }
    if let Some(&attempts) = step.retry.as_ref().and_then(|r| r.attempts.literal()) {
        let at = path.key("retry").key("attempts");
        at_most(
            reporter,
            &at,
            "retry.attempts",
            attempts,
            MAX_RETRY_ATTEMPTS,
        );
    }
    if let Some(max) = step
        .on_failure
        .goto()
        .and_then(|goto| goto.max.as_ref()?.literal())
    {
        let at = path.key("on_failure").key("max");
        at_most(reporter, &at, "on_failure.max", *max, MAX_JUMPS);
    }
    for action in step.actions() {
        let waiting = match action {
            Action::AomWait(wait) => wait.waiting(),
            Action::AomRun(run) => run.waiting(),
            _ => continue,
        };
        let at = path.key(action.key());
        check_rules(
            reporter,
            &at.key("when_node_fails"),
            waiting.when_node_fails,
        );
        check_rules(
            reporter,
            &at.key("when_node_pauses"),
            waiting.when_node_pauses,
        );
    }
}

fn check_rules(reporter: &mut Reporter<'_>, path: &Path, rules: &[NodeRule]) {
    for (index, rule) in rules.iter().enumerate() {
        if let Some(max) = rule.max.as_ref().and_then(Templated::literal) {
            at_most(
                reporter,
                &path.index(index).key("max"),
                "max",
                *max,
                MAX_JUMPS,
            );
        }
    }
}

/// A poll delay shorter than [`MIN_POLL_DELAY`]; part of the checks of every wait's `poll`.
pub(crate) fn check_poll(reporter: &mut Reporter<'_>, path: &Path, poll: &Poll) {
    for (key, delay) in [("min", &poll.min), ("max", &poll.max)] {
        let Some(delay) = delay.literal() else {
            continue;
        };
        if !delay.0.is_zero() && delay.0 < MIN_POLL_DELAY {
            reporter.error(
                &path.key(key),
                Part::Value,
                format!(
                    "a poll delay of {delay}; at least {}",
                    crate::duration::format(MIN_POLL_DELAY)
                ),
            );
        }
    }
}

fn at_most(reporter: &mut Reporter<'_>, path: &Path, what: &str, value: u32, max: u32) {
    if value > max {
        reporter.error(
            path,
            Part::Value,
            format!("`{what}: {value}`; at most {max}"),
        );
    }
}
