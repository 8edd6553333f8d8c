//! `runbook report RUN_ID|FILE --format md|html|junit [-o OUT]`: what a run did, to attach to
//! a ticket or a CI job's summary — a run recorded in the run store (its final state and the
//! journal's polls, retries and node actions), or the JSON `runbook run --output json`
//! prints. The runner redacts the state and every event before anyone sees them, so no
//! secret reaches a report and nothing here redacts.

mod html;
mod junit;
mod markdown;

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use runbook_runner::{Event, RunState, RunStatus, StepState, StepStatus};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::exit;
use crate::store_select::{self, StoreArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown: fits `$GITHUB_STEP_SUMMARY` (at most 1 MiB).
    Md,
    /// One self-contained HTML file with a timeline of the steps, polls, retries and node
    /// actions.
    Html,
    /// JUnit XML: one test case per step.
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run in the run store (its id, or a unique prefix), or a file with what
    /// `runbook run --output json` printed (or its `run` object alone). A path that exists
    /// is read as a file.
    #[arg(value_name = "RUN_ID|FILE")]
    source: String,
    #[arg(long, value_enum, default_value = "md")]
    format: ReportFormat,
    /// Write the report here instead of to stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// A run as `runbook run --output json` prints it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Printed {
    Summary { exit_code: u8, run: Box<RunState> },
    State(Box<RunState>),
}

/// The run, the exit code it ended with when known, and what the journal recorded within
/// its steps (nothing, for a run read from a file).
pub struct Finished {
    pub run: RunState,
    pub exit_code: Option<u8>,
    pub marks: Vec<Mark>,
}

/// A moment within a step that the journal recorded.
pub struct Mark {
    pub step: String,
    pub at: OffsetDateTime,
    pub kind: MarkKind,
    /// What happened, for the reader.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Poll,
    Retry,
    NodeAction,
}

pub async fn report(args: &ReportArgs) -> u8 {
    let path = std::path::Path::new(&args.source);
    let finished = if path.exists() {
        match load(path) {
            Ok(finished) => finished,
            Err(message) => {
                errln!("error: {}: {message}", path.display());
                errln!("  = help: give the JSON that `runbook run … --output json` prints, or a run id from `runbook runs list`");
                return exit::INVALID;
            }
        }
    } else {
        match recorded(&args.store, &args.source).await {
            Ok(finished) => finished,
            Err((message, code)) => {
                errln!("error: {message}");
                errln!("  = help: `{}` is no file here; as a run id, see `runbook runs list` (with the same --state-dir or --store)", args.source);
                return code;
            }
        }
    };
    let text = match args.format {
        ReportFormat::Md => markdown::render(&finished),
        ReportFormat::Html => html::render(&finished),
        ReportFormat::Junit => match junit::render(&finished) {
            Ok(text) => text,
            Err(error) => {
                errln!("error: cannot write the JUnit report: {error}");
                return exit::INVALID;
            }
        },
    };
    match &args.output {
        None => {
            outln!("{}", text.trim_end());
            exit::SUCCESS
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => exit::SUCCESS,
            Err(error) => {
                errln!("error: cannot write {}: {error}", path.display());
                exit::INVALID
            }
        },
    }
}

fn load(path: &std::path::Path) -> Result<Finished, String> {
    let text = crate::files::read_text(path, &crate::files::RUN_STATE)?;
    match serde_json::from_str::<Printed>(&text) {
        Ok(Printed::Summary { exit_code, run }) => Ok(Finished {
            run: *run,
            exit_code: Some(exit_code),
            marks: Vec::new(),
        }),
        Ok(Printed::State(run)) => Ok(Finished {
            run: *run,
            exit_code: None,
            marks: Vec::new(),
        }),
        Err(error) => Err(format!("not a run's JSON: {error}")),
    }
}

/// A run from the run store: the final state its journal ends with, and the marks.
async fn recorded(store: &StoreArgs, run_id: &str) -> Result<Finished, (String, u8)> {
    let store = store_select::open(store)
        .await
        .map_err(|problem| (problem.message, problem.code))?;
    let invalid = |message: String| (message, exit::INVALID);
    let record = crate::runs_cmd::find(&*store, run_id)
        .await
        .map_err(invalid)?;
    let events = store
        .events(&record.run_id)
        .await
        .map_err(|error| invalid(error.to_string()))?;
    let Some((run, exit_code)) = crate::runs_cmd::final_state(&events) else {
        return Err(invalid(format!(
            "run `{}` has no final state: it is running, or its process died (`runbook runs logs {}` shows its journal)",
            record.run_id, record.run_id
        )));
    };
    Ok(Finished {
        run,
        exit_code: Some(exit_code),
        marks: events.iter().filter_map(mark).collect(),
    })
}

/// The mark a journal entry makes on the timeline, if any.
fn mark(entry: &Value) -> Option<Mark> {
    let at = parse_time(entry["ts"].as_str()?)?;
    let name = crate::report::element;
    let (step, kind, text) = match serde_json::from_value::<Event>(entry.clone()).ok()? {
        Event::Poll {
            step,
            index,
            poll,
            status,
            ..
        } => {
            let text = format!("{}: poll {poll}, {status}", name(&step, index));
            (step, MarkKind::Poll, text)
        }
        Event::Retry {
            step,
            index,
            attempt,
            reason,
            ..
        } => {
            let text = format!(
                "{}: attempt {attempt} failed, retrying: {reason}",
                name(&step, index)
            );
            (step, MarkKind::Retry, text)
        }
        Event::NodeAction {
            step,
            index,
            node,
            action,
            ..
        } => {
            let text = format!("{}: {action} node {node}", name(&step, index));
            (step, MarkKind::NodeAction, text)
        }
        _ => return None,
    };
    // A block's or a sub-runbook's inner step is drawn on the bar of the step that holds
    // it; the text names it by its path.
    Some(Mark {
        step: runbook_runner::owner(&step).to_owned(),
        at,
        kind,
        text,
    })
}

/// An RFC 3339 time, as the state and the journal write them.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The run's facts, in the order the reports list them: what it is, when, how it ended.
pub(crate) fn facts(finished: &Finished) -> Vec<(&'static str, String)> {
    let run = &finished.run;
    let mut facts = vec![
        ("run id", run.run_id.clone()),
        ("started", run.started_at.clone()),
    ];
    if let Some(at) = &run.finished_at {
        facts.push(("finished", at.clone()));
    }
    if let Some(code) = finished.exit_code {
        facts.push(("exit code", code.to_string()));
    }
    if let Some(step) = &run.current_step {
        if run.status != RunStatus::Succeeded {
            facts.push(("stopped at", step.clone()));
        }
    }
    if let Some(error) = &run.error {
        facts.push(("error", error.clone()));
    }
    if let Some(error) = &run.finally_error {
        facts.push(("finally", error.clone()));
    }
    facts
}

/// A step's status as the reports say it.
pub(crate) fn status_text(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Pending => "not reached",
        other => other.name(),
    }
}

/// How long a step took (`1.5 s`), or nothing for one that did not run.
pub(crate) fn step_took(step: &StepState) -> String {
    took(step.started_at.as_deref(), step.finished_at.as_deref())
        .map(|d| format!("{:.1} s", d.as_secs_f64()))
        .unwrap_or_default()
}

/// How long a step took, from its RFC 3339 start and end.
pub(crate) fn took(started: Option<&str>, finished: Option<&str>) -> Option<Duration> {
    let (start, end) = (parse_time(started?)?, parse_time(finished?)?);
    Duration::try_from(end - start).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inner_steps_poll_is_marked_on_the_step_that_holds_it_and_named_by_its_path() {
        let poll = |step: &str| {
            let mut entry = serde_json::to_value(Event::Poll {
                step: step.to_owned(),
                index: None,
                poll: 3,
                status: "executing".into(),
                elapsed_ms: 2000,
            })
            .unwrap_or_default();
            entry["ts"] = Value::String("2026-12-03T20:00:00Z".into());
            mark(&entry)
        };
        let inner = poll("patch[1].patch").map(|m| (m.step, m.text));
        assert_eq!(
            inner,
            Some((
                "patch".to_owned(),
                "patch[1].patch: poll 3, executing".to_owned()
            ))
        );
        assert_eq!(poll("deploy").map(|m| m.step), Some("deploy".to_owned()));
    }
}
