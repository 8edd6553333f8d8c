//! `runbook resume RUN_ID`: go on with an unfinished run explicitly — after `runbook run`
//! refused to guess (exit 4), or to give the decision a lost request needs (`--adopt`,
//! `--start`).

use std::path::PathBuf;

use clap::Args;
use runbook_runner::Decision;
use serde_json::Value;

use crate::durable::Mode;
use crate::exit;
use crate::run::{RunArgs, RunOptions};
use crate::store_select::{self, Unopened};

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run's id, or a unique prefix of it (`runbook runs list` shows them).
    pub run_id: String,
    /// The request the run stopped at started this execution: follow it.
    #[arg(long, value_name = "EXECUTION_ID", conflicts_with = "start")]
    pub adopt: Option<String>,
    /// The request the run stopped at did not take effect: send it again.
    #[arg(long)]
    pub start: bool,
    /// The runbook file, when it is no longer where the run started it (its text must be
    /// the same). Inputs: the run's own, except secrets, which are never stored — give them
    /// again with `-i` (or the inputs file).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub options: RunOptions,
}

pub async fn resume(args: ResumeArgs) -> u8 {
    let record = match find(&args).await {
        Ok(record) => record,
        Err(problem) => {
            let format = args.options.log_format;
            return crate::refused::not_started(format, crate::refused::NotStarted::store(problem));
        }
    };
    // The inputs it ran with, except secrets (stored as `***`), which the command gives.
    let recorded_inputs = match &record.inputs {
        Value::Object(inputs) => inputs
            .iter()
            .filter(|(_, value)| value.as_str() != Some(runbook_runner::redact::MASK))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        _ => serde_json::Map::new(),
    };
    let decision = match (&args.adopt, args.start) {
        (Some(execution_id), _) => Some(Decision::Adopt(execution_id.clone())),
        (None, true) => Some(Decision::Start),
        (None, false) => None,
    };
    let run = RunArgs {
        file: args
            .file
            .unwrap_or_else(|| PathBuf::from(&record.runbook_path)),
        recorded_inputs,
        sandbox: false,
        scenario: None,
        real_time: false,
        seed: 1,
        new: false,
        plan: None,
        fire_key: None,
        fire_window: None,
        options: args.options,
    };
    let mode = Mode::Resume {
        run_id: record.run_id,
        decision,
    };
    crate::run::run_in(run, mode).await
}

async fn find(args: &ResumeArgs) -> Result<runbook_store::RunRecord, Unopened> {
    let store = store_select::open(&args.options.store).await?;
    match store.get_run(&args.run_id).await {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err(Unopened {
            message: format!(
                "no run {} in the run store at {}; `runbook runs list` shows the runs",
                args.run_id,
                store.location()
            ),
            code: exit::INVALID,
        }),
        Err(error) => Err(error.into()),
    }
}
