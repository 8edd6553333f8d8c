//! `runbook report FILE --format md|junit [-o OUT]`: what a run did, to attach to a ticket or
//! a CI job's summary, from the JSON `runbook run --output json` prints. The runner redacts
//! the state before anyone sees it, so no secret reaches a report and nothing here redacts.

mod junit;
mod markdown;

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use runbook_runner::RunState;
use serde::Deserialize;

use crate::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown: fits `$GITHUB_STEP_SUMMARY` (at most 1 MiB).
    Md,
    /// JUnit XML: one test case per step.
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// What `runbook run --output json` printed (or its `run` object alone).
    file: PathBuf,
    #[arg(long, value_enum, default_value = "md")]
    format: ReportFormat,
    /// Write the report here instead of to stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// A run as `runbook run --output json` prints it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Printed {
    Summary { exit_code: u8, run: Box<RunState> },
    State(Box<RunState>),
}

/// The run and, when the file has it, the exit code it ended with.
pub struct Finished {
    pub run: RunState,
    pub exit_code: Option<u8>,
}

pub fn report(args: &ReportArgs) -> u8 {
    let finished = match load(&args.file) {
        Ok(finished) => finished,
        Err(message) => {
            errln!("error: {}: {message}", args.file.display());
            errln!("  = help: give the JSON that `runbook run … --output json` prints");
            return exit::INVALID;
        }
    };
    let text = match args.format {
        ReportFormat::Md => markdown::render(&finished),
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
        }),
        Ok(Printed::State(run)) => Ok(Finished {
            run: *run,
            exit_code: None,
        }),
        Err(error) => Err(format!("not a run's JSON: {error}")),
    }
}

/// How long a step took, from its RFC 3339 start and end.
pub(crate) fn took(started: Option<&str>, finished: Option<&str>) -> Option<Duration> {
    let parse = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
    };
    let (start, end) = (parse(started?)?, parse(finished?)?);
    Duration::try_from(end - start).ok()
}
