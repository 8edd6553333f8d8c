//! The names templates read: `inputs`, `steps` (earlier ones, and the fields their actions
//! return), `vars`, `env`, `run` and the scoped names, in steps and in `outputs`; templates
//! where nothing renders them.

use std::collections::{BTreeSet, HashMap};

use super::texts::{step_texts, value_texts, Role};
use super::tree::{Reader, StepTree};
use crate::locate::{Part, Path};
use crate::model::{Runbook, Step};
use crate::parse::Reporter;
use crate::results::{self, ResultShape};
use crate::suggest::{list_or_none, Suggester};
use crate::template::{self, Engine, RUN_FIELDS};

/// What names a template at some place in a step may read.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    runbook: &'a Runbook,
    tree: &'a StepTree<'a>,
    /// The step the template belongs to; `None` for `outputs`.
    step: Option<usize>,
    /// Where the template reads from.
    reader: Reader,
    item: bool,
    /// The `as` names of the `for_each` elements in scope.
    element_names: &'a [&'a str],
    node: bool,
    result: bool,
    /// Variables set by any `set` step, with the first step that sets each.
    vars: &'a HashMap<String, usize>,
}

impl<'a> Scope<'a> {
    /// What outputs see: every step and variable. Each step narrows it.
    pub(super) fn run_wide(
        runbook: &'a Runbook,
        tree: &'a StepTree<'a>,
        vars: &'a HashMap<String, usize>,
    ) -> Self {
        Self {
            runbook,
            tree,
            step: None,
            reader: tree.outputs_reader(),
            item: false,
            element_names: &[],
            node: false,
            result: false,
            vars,
        }
    }
}

pub(super) fn vars_set(tree: &StepTree<'_>) -> HashMap<String, usize> {
    let mut vars = HashMap::new();
    for (index, entry) in tree.entries.iter().enumerate() {
        if let Some(set) = &entry.step.set {
            for name in set.keys() {
                vars.entry(name.clone()).or_insert(index);
            }
        }
    }
    vars
}

pub(super) fn check_templates(
    reporter: &mut Reporter<'_>,
    engine: &Engine,
    run_wide: Scope<'_>,
    index: usize,
    step: &Step,
    path: &Path,
) {
    let tree = run_wide.tree;
    let at_step = tree.reader_at(index);
    let in_element = tree
        .blocks_enclosing(at_step)
        .any(|block| tree.step(block).is_some_and(|b| b.for_each.is_some()));
    let enclosing_names: Vec<&str> = tree
        .blocks_enclosing(at_step)
        .filter_map(|block| tree.step(block)?.element_name.as_deref())
        .collect();
    let mut own_names = enclosing_names.clone();
    own_names.extend(step.element_name.as_deref());
    for text in step_texts(step, path) {
        let reader = if text.after_body {
            tree.after_body(index)
        } else {
            at_step
        };
        let scope = |node, result| Scope {
            step: Some(index),
            reader,
            item: text.per_item || in_element,
            element_names: if text.per_item {
                &own_names
            } else {
                &enclosing_names
            },
            node,
            result,
            ..run_wide
        };
        match text.role {
            Role::Template => {
                check_string(
                    reporter,
                    engine,
                    &scope(false, false),
                    &text.at,
                    text.text,
                    false,
                );
            }
            Role::Condition { result, node } => {
                check_string(
                    reporter,
                    engine,
                    &scope(node, result),
                    &text.at,
                    text.text,
                    true,
                );
            }
            Role::AsWritten { what, help } => {
                check_not_rendered(reporter, &text.at, what, help, text.text);
            }
            Role::Name => {}
        }
    }
}

/// Text that is shown as written: a template in it would never be filled in.
pub(super) fn check_not_rendered(
    reporter: &mut Reporter<'_>,
    at: &Path,
    what: &str,
    help: &str,
    text: &str,
) {
    if template::shape(text) != template::Shape::Literal {
        reporter
            .error(
                at,
                Part::Value,
                format!("{what} is shown as written; the template in it is never rendered"),
            )
            .help = Some(help.into());
    }
}

/// Checks one runbook string: its syntax, then every name it reads against `scope`.
fn check_string(
    reporter: &mut Reporter<'_>,
    engine: &Engine,
    scope: &Scope<'_>,
    at: &Path,
    text: &str,
    is_condition: bool,
) {
    let (references, kind) = if is_condition {
        (engine.condition_references(text), "condition")
    } else {
        (engine.references(text), "template")
    };
    match references {
        Ok(names) => check_names(reporter, scope, at, &names),
        Err(error) => {
            reporter.error(at, Part::Value, format!("invalid {kind}: {error}"));
        }
    }
}

pub(super) fn check_outputs(reporter: &mut Reporter<'_>, engine: &Engine, scope: Scope<'_>) {
    for (name, value) in &scope.runbook.outputs {
        for text in value_texts(Path::root().key("outputs").key(name.clone()), value) {
            check_string(reporter, engine, &scope, &text.at, text.text, false);
        }
    }
}

fn check_names(
    reporter: &mut Reporter<'_>,
    scope: &Scope<'_>,
    at: &Path,
    names: &BTreeSet<String>,
) {
    for name in names {
        if let Some((message, help)) = check_name(scope, name, &mut reporter.suggester) {
            reporter.error(at, Part::Value, message).help = help;
        }
    }
}

fn check_name(
    scope: &Scope<'_>,
    name: &str,
    suggester: &mut Suggester,
) -> Option<(String, Option<String>)> {
    let mut parts = name.split('.');
    let root = parts.next().unwrap_or_default();
    let field = parts.next();
    let runbook = scope.runbook;
    match root {
        "inputs" => {
            let field = field?;
            if runbook.inputs.contains_key(field) {
                return None;
            }
            let known: Vec<&str> = runbook.inputs.keys().map(String::as_str).collect();
            Some((
                format!("`inputs.{field}` is not a declared input"),
                suggester.did_you_mean(field, known.iter().copied()).or_else(|| {
                    Some(format!(
                        "declare it under `inputs:` (declared: {})",
                        list_or_none(&known)
                    ))
                }),
            ))
        }
        "steps" => {
            let field = field?;
            let tree = scope.tree;
            let Some(&target) = tree.ids.get(field) else {
                let known = tree.entries.iter().map(|entry| entry.step.id.as_str());
                return Some((
                    format!("`steps.{field}`: there is no step `{field}`"),
                    suggester.did_you_mean(field, known),
                ));
            };
            let reader = scope.reader;
            if let Some(block) = tree.hidden_by(target, reader).and_then(|b| tree.step(b)) {
                let id = &block.id;
                let read = if block.for_each.is_some() || block.repeat.is_some() {
                    format!("`steps.{id}[0].{field}` (one map per element or pass)")
                } else {
                    format!("`steps.{id}.{field}`")
                };
                return Some((
                    format!("`steps.{field}` is inside block `{id}`, and its ids are its own"),
                    Some(format!("once the block has ended, read {read}")),
                ));
            }
            if tree.encloses(target, reader) {
                return Some((
                    format!("`steps.{field}` is the block this is in; its result exists once it has ended"),
                    Some("inside a block, read its steps as `steps.<id>`".into()),
                ));
            }
            match scope.step {
                // Only outputs check with no current step; they are computed before `finally`.
                None if tree.is_finally(target) => Some((
                    format!("`steps.{field}` is a `finally` step, which runs after outputs are computed"),
                    None,
                )),
                Some(current) if target == current => Some((
                    format!("step `{field}` cannot read its own result"),
                    Some("in `until`, the latest result is `result`".into()),
                )),
                Some(_) if target >= reader.before => Some((
                    format!("`steps.{field}` is read before step `{field}` runs"),
                    Some("a step can read the results of the steps above it".into()),
                )),
                _ => {
                    let result_field = parts.next()?;
                    let step = tree.step(target)?;
                    check_result_field(step, result_field, suggester)
                }
            }
        }
        "vars" => {
            let field = field?;
            match (scope.vars.get(field), scope.step) {
                (None, _) => Some((
                    format!("`vars.{field}` is never set"),
                    Some(format!(
                        "set it with a `set:` step above this one, e.g. `set: {{{field}: ...}}`"
                    )),
                )),
                (Some(&setter), None) if scope.tree.is_finally(setter) => Some((
                    format!("`vars.{field}` is set in `finally`, which runs after outputs are computed"),
                    None,
                )),
                (Some(&setter), Some(current))
                    if setter > current
                        && setter >= scope.reader.before =>
                {
                    Some((
                    format!("`vars.{field}` is read before the step that sets it"),
                    None,
                    ))
                }
                _ => None,
            }
        }
        "env" => {
            let field = field?;
            if runbook.env.iter().any(|var| var.name == field) {
                None
            } else {
                Some((
                    format!("`env.{field}` is not in the runbook's `env` allow-list"),
                    Some(format!("add `{field}` to `env:` at the top of the runbook")),
                ))
            }
        }
        "run" => {
            let field = field?;
            if RUN_FIELDS.contains(&field) {
                None
            } else {
                Some((
                    format!("`run.{field}` does not exist"),
                    Some(format!("`run` has: {}", RUN_FIELDS.join(", "))),
                ))
            }
        }
        "item" | "index" if scope.item => None,
        name if scope.element_names.contains(&name) => None,
        "item" | "index"
            if scope
                .step
                .and_then(|i| scope.tree.step(i))
                .is_some_and(|step| step.for_each.is_some()) =>
        {
            Some((
                format!("`{root}` is not available here"),
                Some("`when`, `for_each`, `timeout`, `concurrency`, `max_errors` and a jump's `max` are evaluated once for the step; use `item` in the action's fields".into()),
            ))
        }
        "item" | "index" => Some((
            format!("`{root}` exists only in a step with `for_each`"),
            None,
        )),
        "node" if scope.node => None,
        "node" => Some((
            "`node` exists only in `when_node_fails` / `when_node_pauses` rules".into(),
            None,
        )),
        "result" if scope.result => None,
        "result" => Some(("`result` exists only in `until` conditions".into(), None)),
        name if template::is_function(name) => None,
        other if element_name_of(scope.tree, other).is_some() => {
            let owner = element_name_of(scope.tree, other)?;
            Some((
                format!("`{other}` names the element of `{}`, and exists only inside it", owner.id),
                Some(if owner.body.is_some() {
                    format!("read it in the steps of block `{}`", owner.id)
                } else {
                    format!("read it in the fields of step `{}`", owner.id)
                }),
            ))
        }
        other => Some((
            format!("unknown name `{other}`"),
            Some(format!("templates read {}", template::ROOTS.join(", "))),
        )),
    }
}

/// `steps.<id>.<field>` against what the step's action returns. `steps.<id>['field']` is
/// not checked: the way to read a field the API may add before the spec says so.
fn check_result_field(
    step: &Step,
    field: &str,
    suggester: &mut Suggester,
) -> Option<(String, Option<String>)> {
    let shape = results::of_step(step);
    if shape.has(field) {
        return None;
    }
    let id = &step.id;
    let escape = format!("a field the API may add is read as `steps.{id}['{field}']`");
    match shape {
        ResultShape::List => Some((
            format!("`steps.{id}` is a list (one result per `for_each` item); it has no `{field}`"),
            Some(format!(
                "read one item's with `steps.{id}[0].{field}`, or all with `steps.{id} | map(attribute='{field}')`"
            )),
        )),
        ResultShape::Fields(fields) => {
            let mut known = fields.clone();
            known.push(results::ALWAYS);
            if let Some(sub) = &step.runbook {
                // Outputs are the child's to declare: no field appears unannounced.
                let help = suggester
                    .did_you_mean(field, known.iter().copied())
                    .unwrap_or_else(|| format!("its outputs: {}", fields.join(", ")));
                return Some((
                    format!(
                        "`steps.{id}.{field}`: `{}` declares no output `{field}`",
                        sub.shown_name()
                    ),
                    Some(help),
                ));
            }
            let help = match suggester.did_you_mean(field, known.iter().copied()) {
                Some(meant) => format!("{meant} ({escape})"),
                None => format!("its result has: {} ({escape})", known.join(", ")),
            };
            let action = step.action().map_or("", |action| action.key());
            Some((
                format!("`steps.{id}.{field}`: the result of `{action}` has no `{field}`"),
                Some(help),
            ))
        }
        ResultShape::Open => None,
    }
}

/// The step whose `for_each` names its element `name` (`as: name`), if one does.
fn element_name_of<'a>(tree: &StepTree<'a>, name: &str) -> Option<&'a Step> {
    tree.entries
        .iter()
        .map(|entry| entry.step)
        .find(|step| step.element_name.as_deref() == Some(name))
}
