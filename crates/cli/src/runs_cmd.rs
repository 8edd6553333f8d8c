//! `runbook runs …`: the run history in the run store — list, show, replay the journal, prune.

use std::time::Duration;

use clap::{Args, Subcommand};
use runbook_runner::{Event, RunState};
use runbook_store::{RunFilter, RunRecord, RunStore};
use serde_json::Value;

use crate::exit;
use crate::report::{self, LogFormat, OutputFormat};
use crate::store_select::{self, StoreArgs};

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: RunsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List {
        /// Only runs of the runbook with this `name`.
        #[arg(long)]
        runbook: Option<String>,
        /// Only runs with this status: running, succeeded, failed, timed_out, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// One run: its steps, attempts, polls, the executions it started, timings and error.
    Show {
        /// The run id, or a unique prefix of it.
        run_id: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Replay a run's journal as its log.
    Logs {
        /// The run id, or a unique prefix of it.
        run_id: String,
        /// `plain` lines, or `json` (the journal's entries as stored).
        #[arg(long, value_enum, default_value_t = LogFormat::Plain)]
        log_format: LogFormat,
    },
    /// Delete finished runs (and their journals) older than a duration; running ones stay.
    Prune {
        /// e.g. `30d`.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
}

pub async fn runs(args: RunsArgs) -> u8 {
    let store = match store_select::open(&args.store).await {
        Ok(store) => store,
        Err(problem) => {
            errln!("error: {}", problem.message);
            return problem.code;
        }
    };
    let outcome = match args.command {
        RunsCommand::List {
            runbook,
            status,
            limit,
            output,
        } => {
            let filter = RunFilter {
                runbook_name: runbook,
                status,
                limit: Some(limit),
                ..RunFilter::default()
            };
            list(&*store, &filter, output).await
        }
        RunsCommand::Show { run_id, output } => show(&*store, &run_id, output).await,
        RunsCommand::Logs { run_id, log_format } => logs(&*store, &run_id, log_format).await,
        RunsCommand::Prune { older_than } => prune(&*store, older_than).await,
    };
    match outcome {
        Ok(()) => exit::SUCCESS,
        Err(problem) => {
            errln!("error: {problem}");
            exit::INVALID
        }
    }
}

async fn list(
    store: &dyn RunStore,
    filter: &RunFilter,
    output: OutputFormat,
) -> Result<(), String> {
    let runs = store.list_runs(filter).await.map_err(|e| e.to_string())?;
    if output == OutputFormat::Json {
        let text = serde_json::to_string_pretty(&runs).map_err(|e| e.to_string())?;
        outln!("{text}");
        return Ok(());
    }
    if runs.is_empty() {
        outln!("no runs");
        return Ok(());
    }
    for run in &runs {
        outln!("{}", line(run));
    }
    Ok(())
}

/// One run in a line: id, status, exit code, runbook, start, host and pid.
fn line(run: &RunRecord) -> String {
    let code = run
        .exit_code
        .map_or_else(|| "-".to_owned(), |code| code.to_string());
    format!(
        "{}  {:<10} {:>3}  {}  {}  {} pid {}",
        run.run_id, run.status, code, run.runbook_name, run.started_at, run.host, run.pid
    )
}

pub(crate) async fn find(store: &dyn RunStore, run_id: &str) -> Result<RunRecord, String> {
    store
        .get_run(run_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no run `{run_id}` in the store (see `runbook runs list`)"))
}

/// The state the journal's last entry recorded, when the run finished, with the results it
/// left to the steps' last checkpoints (`results_in_checkpoints`) put back.
pub(crate) fn final_state(events: &[Value]) -> Option<(RunState, u8)> {
    let at = events.iter().rposition(|e| e["event"] == "final_state")?;
    let entry = &events[at];
    let mut state: RunState = serde_json::from_value(entry["state"].clone()).ok()?;
    if let Some(steps) = entry["results_in_checkpoints"].as_array() {
        let mut results: std::collections::HashMap<&str, Option<&Value>> = steps
            .iter()
            .filter_map(|id| Some((id.as_str()?, None)))
            .collect();
        for checkpoint in events[..at].iter().filter(|e| e["event"] == "checkpoint") {
            if let Some(result) = checkpoint["step"]
                .as_str()
                .and_then(|step| results.get_mut(step))
            {
                *result = checkpoint["state"].get("result");
            }
        }
        // A listed step no checkpoint holds a result for (a journal cut short by hand) keeps
        // none: the rest of the state still reads.
        for (id, result) in results {
            if let (Some(step), Some(result)) = (state.steps.get_mut(id), result) {
                step.result = Some(result.clone());
            }
        }
    }
    // Put back the runbook's order, which reading the JSON sorted away (journals written
    // before `step_order` keep name order).
    if let Some(order) = entry["step_order"].as_array() {
        let rank: std::collections::HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .filter_map(|(at, id)| Some((id.as_str()?, at)))
            .collect();
        state
            .steps
            .sort_by_cached_key(|id, _| rank.get(id.as_str()).copied().unwrap_or(usize::MAX));
    }
    let code = entry["exit_code"]
        .as_u64()
        .and_then(|c| u8::try_from(c).ok())?;
    Some((state, code))
}

async fn show(store: &dyn RunStore, run_id: &str, output: OutputFormat) -> Result<(), String> {
    let run = find(store, run_id).await?;
    let events = store.events(&run.run_id).await.map_err(|e| e.to_string())?;
    let finished = final_state(&events);
    if output == OutputFormat::Json {
        let value = serde_json::json!({
            "run": run,
            "state": finished.as_ref().map(|(state, _)| state),
            "events": events.len(),
        });
        let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
        outln!("{text}");
        return Ok(());
    }
    outln!("{}", line(&run));
    outln!(
        "runbook {} ({}), lock {}{}",
        run.runbook_path,
        run.runbook_digest,
        run.lock_key.as_deref().unwrap_or("none"),
        run.fire_key
            .as_deref()
            .map(|fire| format!(", fire {fire}"))
            .unwrap_or_default()
    );
    match finished {
        Some((state, code)) => outln!("{}", report::text_summary(&state, code, &|_| "")),
        None => outln!(
            "the run has no final state: it is running, or its process died ({} journal entries; `runbook runs logs {}` shows them)",
            events.len(),
            run.run_id
        ),
    }
    Ok(())
}

async fn logs(store: &dyn RunStore, run_id: &str, format: LogFormat) -> Result<(), String> {
    let run = find(store, run_id).await?;
    let events = store.events(&run.run_id).await.map_err(|e| e.to_string())?;
    for entry in &events {
        if format == LogFormat::Json {
            outln!("{entry}");
            continue;
        }
        let ts = entry["ts"].as_str().unwrap_or_default();
        let ts = ts.split('.').next().unwrap_or(ts);
        let ts = if ts.ends_with('Z') {
            ts.to_owned()
        } else {
            format!("{ts}Z")
        };
        if entry["event"] == "intent" {
            outln!(
                "{ts}       {}: sending {} {}",
                entry["step"].as_str().unwrap_or_default(),
                entry["service"].as_str().unwrap_or_default(),
                entry["operation"].as_str().unwrap_or_default()
            );
            continue;
        }
        let Ok(event) = serde_json::from_value::<Event>(entry.clone()) else {
            continue;
        };
        let text = report::plain_text(&event);
        for line in [text.line, text.quiet_line].into_iter().flatten() {
            outln!("{ts} {line}");
        }
    }
    Ok(())
}

async fn prune(store: &dyn RunStore, older_than: Duration) -> Result<(), String> {
    let cutoff = time::OffsetDateTime::now_utc() - older_than;
    let deleted = store
        .prune(&runbook_runner::rfc3339(cutoff))
        .await
        .map_err(|e| e.to_string())?;
    outln!(
        "pruned {deleted} run(s) finished before {}",
        runbook_runner::rfc3339(cutoff)
    );
    Ok(())
}
