//! The checks of a `runbook:` step against the sub-runbook it runs: the inputs it gives
//! (every required one, none the child lacks, literals of the declared type), what the child
//! may not do as one step of another run, and what the step refuses that other steps take.

use crate::locate::{Part, Path};
use crate::model::{Runbook, Step, SubRunbook, Target};
use crate::parse::Reporter;
use crate::template;

pub(super) fn check_sub_runbook(reporter: &mut Reporter<'_>, step: &Step, path: &Path) {
    let Some(sub) = &step.runbook else {
        return;
    };
    let at = path.key("runbook");
    if step.retry.is_some() {
        reporter
            .error(
                &path.key("retry"),
                Part::Key,
                "a sub-runbook is not retried",
            )
            .help =
            Some("give its steps `retry`; a step run again would run the whole child again".into());
    }
    if step.target.is_some() {
        reporter
            .error(
                &path.key("target"),
                Part::Key,
                "a sub-runbook step sends no request itself",
            )
            .help = Some("put `target` on the child's steps that call the API".into());
    }
    let Some(child) = sub.child() else {
        return;
    };
    check_inputs(reporter, sub, child, &at);
    let name = sub.shown_name();
    if let Some(setter) = first_setter(child) {
        reporter
            .error(
                &at.key("path"),
                Part::Value,
                format!(
                    "`{name}` sets variables (step `{}`), and a sub-runbook cannot: the run's variables are its parent's",
                    setter.id
                ),
            )
            .help = Some(
            "give values back through the child's `outputs`, read as `steps.<id>.<output>`"
                .into(),
        );
    }
    let ignored = [
        (
            child.lock.is_some(),
            "lock",
            "the runbook that runs it holds the run's lock",
        ),
        (
            child.target != Target::default(),
            "target",
            "the run's target governs; a step of the child may still name its own `target`",
        ),
    ];
    for (written, key, why) in ignored {
        if written {
            reporter.warning(
                &at.key("path"),
                Part::Value,
                format!("`{name}`'s `{key}` is ignored when it runs as a sub-runbook: {why}"),
            );
        }
    }
}

fn check_inputs(reporter: &mut Reporter<'_>, sub: &SubRunbook, child: &Runbook, at: &Path) {
    let name = sub.shown_name();
    let declared: Vec<&str> = child.inputs.keys().map(String::as_str).collect();
    for (input, value) in &sub.inputs {
        let input_at = at.key("inputs").key(input.clone());
        let Some(spec) = child.inputs.get(input) else {
            let help = match reporter
                .suggester
                .did_you_mean(input, declared.iter().copied())
            {
                Some(meant) => meant,
                None if declared.is_empty() => format!("`{name}` declares no inputs"),
                None => format!("`{name}` declares: {}", declared.join(", ")),
            };
            reporter
                .error(
                    &input_at,
                    Part::Key,
                    format!("`{name}` has no input `{input}`"),
                )
                .help = Some(help);
            continue;
        };
        let literal = match value {
            serde_json::Value::String(text) => template::shape(text) == template::Shape::Literal,
            _ => true,
        };
        if literal && !spec.kind.accepts(value) {
            reporter.error(
                &input_at,
                Part::Value,
                format!(
                    "input `{input}` of `{name}` is of type {}; this value is not",
                    spec.kind.name()
                ),
            );
        }
    }
    let missing: Vec<&str> = child
        .inputs
        .iter()
        .filter(|(input, spec)| {
            spec.required && spec.default.is_none() && !sub.inputs.contains_key(*input)
        })
        .map(|(input, _)| input.as_str())
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|input| format!("`{input}`"))
            .collect::<Vec<_>>()
            .join(", ");
        reporter
            .error(
                &at.key("path"),
                Part::Value,
                format!("`{name}` requires {list}, which this step does not give"),
            )
            .help = Some(format!(
            "give {} under `runbook.inputs`",
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
}

/// The child's first step that sets variables, its blocks' and `finally` included.
fn first_setter(child: &Runbook) -> Option<&Step> {
    fn find(steps: &[Step]) -> Option<&Step> {
        steps.iter().find_map(|step| {
            if step.set.is_some() {
                return Some(step);
            }
            step.body.as_deref().and_then(find)
        })
    }
    find(&child.steps).or_else(|| find(&child.finally))
}
