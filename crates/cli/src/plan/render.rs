//! A plan as text (for a pull-request comment) and as a Mermaid flowchart.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

use super::{Plan, PlannedStep};

/// A value as a reviewer reads it: text bare, anything else as JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plan for `{}` ({})", plan.runbook, plan.file);
    if !plan.inputs.is_empty() {
        let inputs: Vec<String> = plan
            .inputs
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        let _ = writeln!(out, "inputs: {}", inputs.join(", "));
    }
    if let Some(timeout) = &plan.timeout {
        let _ = writeln!(out, "timeout: {timeout}");
    }
    if let Some(lock) = &plan.lock {
        let _ = writeln!(out, "lock: {lock}");
    }
    let _ = writeln!(out, "\nsteps:");
    let mut number = 0;
    for step in &plan.steps {
        number += 1;
        step_text(&mut out, &number.to_string(), step);
    }
    if !plan.finally.is_empty() {
        let _ = writeln!(
            out,
            "\nfinally (always, within {}):",
            plan.finally_timeout.as_deref().unwrap_or("")
        );
        for step in &plan.finally {
            number += 1;
            step_text(&mut out, &number.to_string(), step);
        }
    }
    if !plan.outputs.is_empty() {
        let _ = writeln!(out, "\noutputs:");
        for (name, value) in &plan.outputs {
            let _ = writeln!(out, "  {name}: {}", show(value));
        }
    }
    let mut changing = Vec::new();
    for step in plan.steps.iter().chain(&plan.finally) {
        mutating_paths(step, "", &mut changing);
    }
    let _ = writeln!(
        out,
        "\n{} step{} start or change something in the cloud{}{}",
        changing.len(),
        if changing.len() == 1 { "" } else { "s" },
        if changing.is_empty() { "." } else { ": " },
        changing.join(", ")
    );
    let pins = &plan.pins;
    let _ = write!(
        out,
        "pins: runbook {}, inputs {}, spec {}",
        pins.runbook_sha256, pins.inputs_sha256, pins.spec_sha256
    );
    out
}

/// The steps that change something themselves (not the blocks around them), by path.
fn mutating_paths(step: &PlannedStep, prefix: &str, out: &mut Vec<String>) {
    let path = format!("{prefix}{}", step.id);
    if step.body.is_empty() {
        if step.effect == "mutating" {
            out.push(path);
        }
        return;
    }
    for inner in &step.body {
        mutating_paths(inner, &format!("{path}."), out);
    }
}

fn step_text(out: &mut String, number: &str, step: &PlannedStep) {
    let effect = match step.effect {
        "mutating" => "MUTATING",
        other => other,
    };
    // A block's steps are numbered under it (`2.1`) and indented by their depth.
    let depth = number.matches('.').count();
    let indent = "    ".repeat(depth);
    let _ = write!(
        out,
        "{indent}{number:>3}. {}  {}  {effect}",
        step.id, step.action
    );
    if let Some(op) = &step.operation {
        let _ = write!(out, "  {} {} ({})", op.method, op.path, op.id);
    }
    out.push('\n');
    let detail = format!("{indent}       ");
    if let Some(name) = &step.name {
        let _ = writeln!(out, "{detail}name: {name}");
    }
    match &step.params {
        Value::Object(fields) => {
            for (key, value) in fields {
                let _ = writeln!(out, "{detail}{key}: {}", show(value));
            }
        }
        Value::Null => {}
        other => {
            let _ = writeln!(out, "{detail}{}: {}", step.action, show(other));
        }
    }
    for (guard, value) in &step.guards {
        if guard == "on_failure" {
            continue;
        }
        let _ = writeln!(out, "{detail}{guard}: {}", show(value));
    }
    let edges: Vec<String> = step
        .next
        .iter()
        .map(|edge| {
            let max = edge
                .max
                .as_ref()
                .map(|m| format!(" (at most {} times)", show(m)))
                .unwrap_or_default();
            match (edge.on, &edge.when) {
                ("done", _) => format!("then → {}", edge.to),
                ("branch", Some(when)) => format!("if {when} → {}", edge.to),
                ("branch", None) => format!("else → {}", edge.to),
                _ => format!("on failure → {}{max}", edge.to),
            }
        })
        .collect();
    let _ = writeln!(out, "{detail}{}", edges.join("; "));
    for (index, inner) in step.body.iter().enumerate() {
        step_text(out, &format!("{number}.{}", index + 1), inner);
    }
}

/// Text inside a Mermaid `["…"]` label.
fn label(text: &str) -> String {
    text.replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('\n', " ")
}

pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    let mut node_of: HashMap<&str, String> = HashMap::new();
    for (index, step) in plan.steps.iter().enumerate() {
        node_of.insert(&step.id, format!("s{index}"));
    }
    for (index, step) in plan.finally.iter().enumerate() {
        node_of.insert(&step.id, format!("f{index}"));
    }
    let target = |to: &str| -> String {
        match to {
            "end" => "run_end".to_owned(),
            "finally" => node_of
                .get(plan.finally[0].id.as_str())
                .cloned()
                .unwrap_or_default(),
            id => node_of
                .get(id)
                .cloned()
                .unwrap_or_else(|| "run_end".to_owned()),
        }
    };
    let node = |out: &mut String, step: &PlannedStep, indent: &str| {
        let mut text = format!("{}<br/>{}", label(&step.id), step.action);
        if let Some(op) = &step.operation {
            let _ = write!(text, " · {}", op.id);
        }
        if step.effect == "mutating" {
            text.push_str("<br/>MUTATING");
        }
        if let Some(when) = step.guards.get("when") {
            let _ = write!(text, "<br/>when {}", label(&show(when)));
        }
        if step.guards.contains_key("for_each") {
            text.push_str("<br/>for each item");
        }
        if let Some(first) = step.body.first() {
            // A block is one node: its steps are listed by the text and JSON plans.
            let _ = write!(
                text,
                "<br/>{} steps: {} …",
                step.body.len(),
                label(&first.id)
            );
        }
        let _ = writeln!(out, "{indent}{}[\"{text}\"]", node_of[step.id.as_str()]);
    };
    let _ = writeln!(out, "  run_start([\"start\"])");
    for step in &plan.steps {
        node(&mut out, step, "  ");
    }
    if !plan.finally.is_empty() {
        let _ = writeln!(out, "  subgraph finally_steps[\"finally\"]");
        for step in &plan.finally {
            node(&mut out, step, "    ");
        }
        let _ = writeln!(out, "  end");
    }
    let _ = writeln!(out, "  run_end([\"end\"])");
    let first = plan
        .steps
        .first()
        .map_or("run_end".to_owned(), |s| target(&s.id));
    let _ = writeln!(out, "  run_start --> {first}");
    for step in plan.steps.iter().chain(&plan.finally) {
        let from = &node_of[step.id.as_str()];
        for edge in &step.next {
            let to = target(&edge.to);
            if edge.on == "done" {
                let _ = writeln!(out, "  {from} --> {to}");
            } else if edge.on == "branch" {
                let when = edge.when.as_deref().unwrap_or("else");
                let _ = writeln!(out, "  {from} -->|\"{}\"| {to}", label(when));
            } else {
                let max = edge
                    .max
                    .as_ref()
                    .map(|m| format!(", at most {}×", label(&show(m))))
                    .unwrap_or_default();
                let _ = writeln!(out, "  {from} -.->|\"failed{max}\"| {to}");
            }
        }
    }
    let changing: Vec<&str> = plan
        .steps
        .iter()
        .chain(&plan.finally)
        .filter(|step| step.effect == "mutating")
        .map(|step| node_of[step.id.as_str()].as_str())
        .collect();
    if !changing.is_empty() {
        let _ = writeln!(out, "  classDef mutating fill:#fde2e1,stroke:#c0392b");
        let _ = writeln!(out, "  class {} mutating", changing.join(","));
    }
    out.trim_end().to_owned()
}
