//! The Markdown report: a heading with the outcome, the run's facts, then tables of steps,
//! executions and unknown outcomes, and the outputs. It fits `$GITHUB_STEP_SUMMARY`, which
//! takes at most 1 MiB: long cells are cut, and past the budget the rest is left out with a
//! line that says so.

use std::fmt::Write;

use runbook_runner::targets::TargetSpec;
use runbook_runner::{RunStatus, StepStatus};

use super::{facts, status_text, step_took, Finished};
use crate::report::element;

/// GitHub refuses a step summary larger than 1 MiB; keep well inside it.
const BUDGET: usize = 900 * 1024;
/// The most characters of one table cell (an error message, an id).
const CELL_CHARS: usize = 300;
/// The most characters of the outputs' JSON.
const OUTPUTS_CHARS: usize = 64 * 1024;

pub fn render(finished: &Finished) -> String {
    let run = &finished.run;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {} `{}`: {}\n",
        outcome_mark(run.status),
        cell(&run.runbook),
        run.status.name()
    );
    out.push_str("| | |\n|---|---|\n");
    for (name, value) in facts(finished) {
        let _ = writeln!(out, "| {name} | {} |", cell(&value));
    }
    out.push_str("\n### Steps\n\n| step | status | took | attempts | polls | error |\n|---|---|---|---|---|---|\n");
    let total = run.steps.len();
    for (shown, (id, step)) in run.steps.iter().enumerate() {
        if out.len() > BUDGET {
            let _ = writeln!(
                out,
                "\n_{} more steps left out: the summary would pass 1 MiB._",
                total - shown
            );
            break;
        }
        let _ = writeln!(
            out,
            "| `{}` | {} {} | {} | {} | {} | {} |",
            cell(id),
            step_mark(step.status),
            status_text(step.status),
            step_took(step),
            step.attempts,
            step.polls,
            cell(step.error.as_deref().unwrap_or(""))
        );
    }

    if !run.executions.is_empty() && out.len() <= BUDGET {
        out.push_str("\n### Executions started\n\n| step | service | workflow | execution |\n|---|---|---|---|\n");
        for execution in &run.executions {
            let step = element(&execution.step, execution.index);
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` | `{}`{} |",
                cell(&step),
                execution.service,
                cell(&execution.workflow_id),
                cell(&execution.execution_id),
                cell(&TargetSpec::suffix(execution.target.as_ref()))
            );
            if out.len() > BUDGET {
                out.push_str("\n_More executions left out: the summary would pass 1 MiB._\n");
                break;
            }
        }
    }

    if !run.unknown_outcomes.is_empty() {
        out.push_str("\n### ⚠️ Outcome unknown: check these before running again\n\n| step | operation | workflow | sent at |\n|---|---|---|---|\n");
        for unknown in run.unknown_outcomes.iter().take(100) {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | `{}` | {} |",
                cell(&unknown.step),
                cell(&unknown.operation),
                cell(unknown.workflow_id.as_deref().unwrap_or("")),
                cell(&unknown.sent_at)
            );
        }
    }

    if !run.outputs.is_empty() && out.len() <= BUDGET {
        let json = serde_json::to_string_pretty(&run.outputs).unwrap_or_default();
        let json = cut(&json, OUTPUTS_CHARS).replace("```", "`\u{200b}``");
        let _ = write!(out, "\n### Outputs\n\n```json\n{json}\n```\n");
    }
    out
}

fn outcome_mark(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "✅",
        RunStatus::Running | RunStatus::Suspended => "⏸️",
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Cancelled => "❌",
    }
}

fn step_mark(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "✅",
        StepStatus::Skipped | StepStatus::Pending => "⏭️",
        StepStatus::Running => "⏳",
        StepStatus::Failed | StepStatus::TimedOut | StepStatus::Cancelled => "❌",
    }
}

/// Text made safe for one table cell: one line, no `|` that would end the cell, cut short.
fn cell(text: &str) -> String {
    cut(text, CELL_CHARS)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
