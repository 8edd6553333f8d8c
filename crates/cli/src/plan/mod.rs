//! `runbook plan FILE`: what a run would do, for review before it runs — every step with its
//! action, the operation it sends, its parameters as far as the inputs decide them, whether it
//! changes something, its guards and where it goes next — as text, JSON or a Mermaid graph;
//! and the pins (`-o`) that `runbook run --plan` holds a scheduled run to.

mod pin;
mod render;

use std::path::PathBuf;

use clap::ValueEnum;
use runbook_lang::template::preview::Preview;
use runbook_lang::{Action, FailureKeyword, OnFailure, Runbook, Step, SubRunbook, Templated};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::exit;
pub use pin::{check as check_pins, runbook_digest, Pins};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The runbook file.
    pub file: PathBuf,
    /// An input, as NAME=VALUE (repeatable); VALUE is parsed by the input's type.
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// A YAML or JSON file of inputs (`-i` wins over it).
    #[arg(long = "inputs", value_name = "FILE")]
    pub inputs_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also write the plan's pins (the digests of the runbook, its non-secret inputs and the
    /// API spec) to FILE, for `runbook run --plan FILE`.
    #[arg(short = 'o', long = "pin", value_name = "FILE")]
    pub pin: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For a pull-request comment.
    Text,
    Json,
    /// A Mermaid `flowchart`, which GitHub renders.
    Mermaid,
}

/// What a run of the runbook would do.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub runbook: String,
    pub file: String,
    /// The inputs after defaults; secret ones as `***`.
    pub inputs: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<Value>,
    pub steps: Vec<PlannedStep>,
    pub finally: Vec<PlannedStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finally_timeout: Option<String>,
    pub outputs: Map<String, Value>,
    pub pins: Pins,
}

#[derive(Debug, Serialize)]
pub struct PlannedStep {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: &'static str,
    /// `mutating` (starts or changes something in the cloud), `read-only` (reads it) or
    /// `local` (runs in the runner alone).
    pub effect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// The action's fields, rendered as far as the inputs decide them.
    pub params: Value,
    pub guards: Map<String, Value>,
    /// Where the run goes from this step.
    pub next: Vec<Edge>,
    /// A block's steps, in order; their edges stay in the body, whose end is `end`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<PlannedStep>,
}

#[derive(Debug, Serialize)]
pub struct Operation {
    pub id: &'static str,
    pub method: &'static str,
    pub path: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Edge {
    /// `done` (the step ran or was skipped), `failed`, or `branch` (an entry of a `branch`
    /// step, taken when `when` holds or always without one).
    pub on: &'static str,
    /// A step id, `finally`, or `end`.
    pub to: String,
    /// How many times a jump may be taken: a count, or a template previewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// `runbook plan`.
pub fn plan(args: &PlanArgs) -> u8 {
    let (runbook, text) = match crate::validate::load_with_text(&args.file) {
        Ok(loaded) => loaded,
        Err(not_loaded) => {
            errln!("{}", not_loaded.text);
            return exit::INVALID;
        }
    };
    let inputs = match crate::run::resolve_inputs(
        &runbook,
        &Map::new(),
        args.inputs_file.as_deref(),
        &args.inputs,
    ) {
        Ok(inputs) => inputs,
        Err(problems) => {
            for problem in problems {
                errln!("error: {problem}");
            }
            return exit::INVALID;
        }
    };
    let pins = Pins::of(&runbook, &text, &inputs);
    if let Some(path) = &args.pin {
        if let Err(problem) = pins.write(path) {
            errln!("error: {problem}");
            return exit::INVALID;
        }
    }
    let plan = build(&runbook, &args.file.display().to_string(), &inputs, pins);
    let shown = match args.format {
        PlanFormat::Text => render::text(&plan),
        PlanFormat::Json => serde_json::to_string_pretty(&plan).unwrap_or_default(),
        PlanFormat::Mermaid => render::mermaid(&plan),
    };
    outln!("{shown}");
    exit::SUCCESS
}

/// The plan of `runbook` with `inputs` (resolved, defaults applied).
pub fn build(runbook: &Runbook, file: &str, inputs: &Map<String, Value>, pins: Pins) -> Plan {
    let shown = runbook_runner::inputs::shown(runbook, inputs);
    let preview = Preview::new(&shown);
    let after_steps = if runbook.finally.is_empty() {
        "end"
    } else {
        "finally"
    };
    let planned = |steps: &[Step], after: &str| planned(steps, after, &preview);
    Plan {
        runbook: runbook.name.clone(),
        file: file.to_owned(),
        inputs: shown.clone(),
        timeout: runbook.timeout.map(|t| t.to_string()),
        lock: runbook
            .lock
            .as_ref()
            .and_then(|lock| serde_json::to_value(lock).ok())
            .map(|lock| preview.value(&lock)),
        steps: planned(&runbook.steps, after_steps),
        finally: planned(&runbook.finally, "end"),
        finally_timeout: (!runbook.finally.is_empty())
            .then(|| runbook_lang::duration::format(runbook.finally_timeout())),
        outputs: runbook
            .outputs
            .iter()
            .map(|(name, value)| (name.clone(), preview.value(value)))
            .collect(),
        pins,
    }
}

/// Each of `steps` planned, going on to `after` when they end.
fn planned(steps: &[Step], after: &str, preview: &Preview) -> Vec<PlannedStep> {
    steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let next = steps.get(index + 1).map_or(after, |s| s.id.as_str());
            plan_step(step, next, after, preview)
        })
        .collect()
}

/// A sub-runbook's steps, then its `finally`, previewed with the inputs the step gives it as
/// far as the parent's inputs decide them (the rest is kept as written) and its defaults.
fn planned_child(sub: &SubRunbook, child: &Runbook, preview: &Preview) -> Vec<PlannedStep> {
    let mut inputs = Map::new();
    for (name, spec) in &child.inputs {
        let shown = match sub.inputs.get(name) {
            Some(given) => preview.value(given),
            None => spec.default.clone().unwrap_or(Value::Null),
        };
        // Still a template, or a placeholder for what only the run will know (`<item.name>`):
        // left out, so the child's templates that read it are shown as written.
        let written = shown.to_string();
        if !written.contains("{{") && !written.contains("\"<") {
            inputs.insert(name.clone(), shown);
        }
    }
    let shown = runbook_runner::inputs::shown(child, &inputs);
    let preview = Preview::new(&shown);
    let after_steps = if child.finally.is_empty() {
        "end"
    } else {
        "finally"
    };
    let mut steps = planned(&child.steps, after_steps, &preview);
    steps.extend(planned(&child.finally, "end", &preview));
    steps
}

/// A literal as it is written, a template previewed.
fn previewed<T: Serialize>(field: &Templated<T>, preview: &Preview) -> Value {
    match field {
        Templated::Literal(_) => json!(field),
        Templated::Template(text) => preview.value(&Value::String(text.clone())),
    }
}

fn plan_step(step: &Step, next: &str, on_abort: &str, preview: &Preview) -> PlannedStep {
    let action = step.action();
    let key = action.as_ref().map_or("", Action::key);
    let operation = action.as_ref().and_then(Action::headline_operation);
    let body = match action {
        Some(Action::Block(steps)) => planned(steps, "end", preview),
        Some(Action::Runbook(sub)) => sub
            .child()
            .map_or_else(Vec::new, |child| planned_child(sub, child, preview)),
        _ => Vec::new(),
    };
    let effect = match (&action, operation) {
        (Some(action), _) if action.is_mutating() => "mutating",
        _ if body.iter().any(|inner| inner.effect == "mutating") => "mutating",
        (_, Some(_)) => "read-only",
        _ if body.iter().any(|inner| inner.effect == "read-only") => "read-only",
        _ => "local",
    };
    let params = match action {
        Some(Action::Block(_)) => Value::Null,
        _ => serde_json::to_value(step)
            .ok()
            .and_then(|mut fields| fields.get_mut(key).map(Value::take))
            .map(|fields| preview.value(&fields))
            .unwrap_or(Value::Null),
    };
    let mut guards = Map::new();
    if let Some(when) = &step.when {
        guards.insert("when".into(), Value::String(when.0.clone()));
    }
    if let Some(for_each) = &step.for_each {
        guards.insert("for_each".into(), preview.value(for_each));
        guards.insert(
            "concurrency".into(),
            match &step.concurrency {
                None => Value::from(1),
                Some(concurrency) => previewed(concurrency, preview),
            },
        );
        if let Some(budget) = &step.max_errors {
            guards.insert("max_errors".into(), previewed(budget, preview));
        }
        if step.fail_fast {
            guards.insert("fail_fast".into(), Value::Bool(true));
        }
    }
    if let Some(name) = &step.element_name {
        guards.insert("as".into(), Value::String(name.clone()));
    }
    if let Some(repeat) = &step.repeat {
        if let Ok(repeat) = serde_json::to_value(repeat) {
            guards.insert("repeat".into(), preview.value(&repeat));
        }
    }
    if let Some(target) = &step.target {
        if let Ok(target) = serde_json::to_value(target) {
            guards.insert("target".into(), preview.value(&target));
        }
    }
    if let Some(retry) = &step.retry {
        if let Ok(retry) = serde_json::to_value(retry) {
            guards.insert("retry".into(), retry);
        }
    }
    match &step.timeout {
        None => {}
        Some(Templated::Literal(timeout)) => {
            guards.insert("timeout".into(), Value::String(timeout.to_string()));
        }
        Some(Templated::Template(text)) => {
            guards.insert(
                "timeout".into(),
                preview.value(&Value::String(text.clone())),
            );
        }
    }
    let mut edges = Vec::new();
    let arms = step.branch.as_deref().unwrap_or_default();
    for arm in arms {
        edges.push(Edge {
            on: "branch",
            to: if arm.goto == runbook_lang::BRANCH_END {
                on_abort.to_owned()
            } else {
                arm.goto.clone()
            },
            max: None,
            when: arm.when.as_ref().map(|when| when.0.clone()),
        });
    }
    // No entry without `when`: with none taken, the run goes on to the next step.
    if arms.iter().all(|arm| arm.when.is_some()) {
        edges.push(Edge {
            on: "done",
            to: next.to_owned(),
            max: None,
            when: None,
        });
    }
    match &step.on_failure {
        OnFailure::Keyword(FailureKeyword::Continue) => edges.push(Edge {
            on: "failed",
            to: next.to_owned(),
            max: None,
            when: None,
        }),
        OnFailure::Keyword(_) => edges.push(Edge {
            on: "failed",
            to: on_abort.to_owned(),
            max: None,
            when: None,
        }),
        OnFailure::Goto(goto) => edges.push(Edge {
            on: "failed",
            to: goto.goto.clone(),
            max: goto.max.as_ref().map(|max| previewed(max, preview)),
            when: None,
        }),
    }
    if let Ok(on_failure) = serde_json::to_value(&step.on_failure) {
        guards.insert("on_failure".into(), on_failure);
    }
    PlannedStep {
        id: step.id.clone(),
        name: step.name.clone(),
        action: key,
        effect,
        operation: operation.map(|op| Operation {
            id: op.id,
            method: op.method.as_str(),
            path: op.path,
        }),
        params,
        guards,
        next: edges,
        body,
    }
}
