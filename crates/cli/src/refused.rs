//! What a run that did not start, or stopped because it lost its lock, prints — and its
//! exit code.

use runbook_lang::Runbook;

use crate::durable;
use crate::exit;
use crate::lease::Holding;
use crate::report::OutputFormat;

/// What a run that did not start prints, and its exit code.
pub fn refusal(runbook: &Runbook, refused: durable::Refused, output: OutputFormat) -> u8 {
    match refused {
        durable::Refused::Held { key, holder } => {
            let text = format!(
                "{}: skipped: lock `{key}` is held by run {} (pid {} on {}, since {}); exit {}: try again later",
                runbook.name, holder.run_id, holder.pid, holder.host, holder.since, exit::SKIPPED
            );
            errln!("{text}");
            if output == OutputFormat::Json {
                let value = serde_json::json!({
                    "exit_code": exit::SKIPPED,
                    "skipped": {"lock": key, "holder": holder},
                });
                outln!("{value}");
            }
            exit::SKIPPED
        }
        durable::Refused::Unfinished {
            run,
            why,
            executions,
        } => {
            let started: Vec<String> = executions
                .iter()
                .map(|e| {
                    format!(
                        "{} {} execution {} (step {})",
                        e.service, e.workflow_id, e.execution_id, e.step
                    )
                })
                .collect();
            let started = if started.is_empty() {
                "it started no execution".to_owned()
            } else {
                format!("it started: {}", started.join("; "))
            };
            errln!(
                "{}: run {} (started {} on {}) did not finish, and this command cannot resume it safely: {why}; {started}. Exit {}: to go on with it, run `runbook resume {}` with the runbook and inputs it started with; to start afresh, check those executions and run this command again with --new (the old run is marked abandoned)",
                runbook.name, run.run_id, run.started_at, run.host, exit::NEEDS_DECISION, run.run_id
            );
            if output == OutputFormat::Json {
                let value = serde_json::json!({
                    "exit_code": exit::NEEDS_DECISION,
                    "unfinished": {"run_id": run.run_id, "reason": why, "executions": executions},
                });
                outln!("{value}");
            }
            exit::NEEDS_DECISION
        }
        durable::Refused::FireTaken(why) => {
            errln!("{}: skipped: {why}; exit {}", runbook.name, exit::SKIPPED);
            if output == OutputFormat::Json {
                let value =
                    serde_json::json!({"exit_code": exit::SKIPPED, "skipped": {"fire": why}});
                outln!("{value}");
            }
            exit::SKIPPED
        }
        durable::Refused::Unavailable(problem) => {
            errln!("error: {problem}; exit {}: try again later", exit::SKIPPED);
            exit::SKIPPED
        }
        durable::Refused::Cancelled => exit::CANCELLED,
        durable::Refused::Failed(problem) => {
            errln!("error: {problem}");
            exit::INVALID
        }
    }
}

/// A run that lost its lock stopped at once: says so, and why.
pub fn lost_lock(runbook: &Runbook, run_id: &str, holding: &Holding) {
    errln!(
        "{}: run {run_id} lost its lock `{}` ({}); it stopped at once, without `finally`: whoever holds the lock now resumes the run. Exit {}",
        runbook.name,
        holding.key(),
        holding.why_lost().unwrap_or_default(),
        exit::SKIPPED
    );
}
