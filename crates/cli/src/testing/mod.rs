//! `runbook test`: runs test files (`*.test.yaml`), each a runbook with inputs and a sandbox
//! scenario on virtual time, and checks what the run came to. One line per test, then
//! `N passed, N failed`; a failed expectation is reported at its `file:line:col`.

mod check;
pub mod file;
mod replay;

use std::path::{Path, PathBuf};
use std::time::Instant;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::exit;
use file::Loaded;

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Test files, or directories searched for *.test.yaml and *.test.yml.
    #[arg(required_unless_present = "from_run")]
    pub paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Instead of testing, write a test that replays this recorded run (its id, or a unique
    /// prefix; from the run store of --state-dir / --store): the answers it got, rebuilt from
    /// its journal, and what it came to.
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["paths", "junit"])]
    pub from_run: Option<String>,
    /// Where --from-run writes the test (standard output when absent).
    #[arg(short, long, value_name = "FILE", requires = "from_run")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: crate::store_select::StoreArgs,
}

/// What became of one test file.
struct Outcome {
    path: PathBuf,
    name: String,
    took: std::time::Duration,
    /// Empty when it passed.
    failures: Vec<String>,
}

pub async fn test(args: &TestArgs) -> u8 {
    if let Some(run_id) = &args.from_run {
        return match from_run(args, run_id).await {
            Ok(()) => exit::SUCCESS,
            Err(problem) => {
                errln!("error: {problem}");
                exit::INVALID
            }
        };
    }
    let files = match find(&args.paths) {
        Ok(files) if files.is_empty() => {
            errln!("error: no test files (*.test.yaml) under the paths given");
            return exit::INVALID;
        }
        Ok(files) => files,
        Err(problem) => {
            errln!("error: {problem}");
            return exit::INVALID;
        }
    };
    let mut outcomes = Vec::new();
    let mut unreadable = 0;
    for path in files {
        let began = Instant::now();
        let loaded = match Loaded::read(&path) {
            Ok(loaded) => loaded,
            Err(problem) => {
                unreadable += 1;
                outcomes.push(Outcome {
                    name: path.display().to_string(),
                    path,
                    took: began.elapsed(),
                    failures: vec![problem],
                });
                continue;
            }
        };
        let failures = check::run(&loaded)
            .await
            .into_iter()
            .map(|failure| format!("{}: {}", failure.at, failure.message))
            .collect();
        outcomes.push(Outcome {
            name: loaded.file.test.clone(),
            path,
            took: began.elapsed(),
            failures,
        });
    }
    for outcome in &outcomes {
        let verdict = if outcome.failures.is_empty() {
            "PASS"
        } else {
            "FAIL"
        };
        outln!(
            "{verdict:>8} [{:>8.3}s] {}: {}",
            outcome.took.as_secs_f64(),
            outcome.path.display(),
            outcome.name
        );
        for failure in &outcome.failures {
            outln!("         {failure}");
        }
    }
    let failed = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    outln!("{} passed, {failed} failed", outcomes.len() - failed);
    if let Some(junit) = &args.junit {
        if let Err(problem) = write_junit(junit, &outcomes) {
            errln!("error: cannot write {}: {problem}", junit.display());
            return exit::INVALID;
        }
    }
    match (unreadable, failed) {
        (0, 0) => exit::SUCCESS,
        (0, _) => exit::STEP_FAILED,
        _ => exit::INVALID,
    }
}

/// Writes the replay test of a recorded run.
async fn from_run(args: &TestArgs, run_id: &str) -> Result<(), String> {
    let store = crate::store_select::open(&args.store)
        .await
        .map_err(|unopened| unopened.message)?;
    let record = crate::runs_cmd::find(&*store, run_id).await?;
    let events = store
        .events(&record.run_id)
        .await
        .map_err(|e| e.to_string())?;
    let (state, exit_code) = crate::runs_cmd::final_state(&events).ok_or_else(|| {
        format!(
            "run {} has not finished: only a finished run can be replayed",
            record.run_id
        )
    })?;
    let path = std::fs::canonicalize(&record.runbook_path)
        .map_err(|e| format!("cannot find the run's runbook {}: {e}", record.runbook_path))?;
    let runbook = crate::validate::load(&path)?;
    let text = replay::test_file(
        &runbook,
        &path.display().to_string(),
        &record.inputs,
        &events,
        &state,
        exit_code,
    )?;
    match &args.output {
        Some(file) => {
            std::fs::write(file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))
        }
        None => {
            crate::out::stdout_text(format_args!("{text}"));
            Ok(())
        }
    }
}

/// The test files named, and those under the directories named.
fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        crate::files::collect(path, &file::is_test_file, &mut files)?;
    }
    Ok(files)
}

fn write_junit(path: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    let mut suite = TestSuite::new("runbook test");
    for outcome in outcomes {
        let status = if outcome.failures.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(outcome.failures.join("\n"));
            status
        };
        let mut case = TestCase::new(outcome.name.as_str(), status);
        case.set_classname(outcome.path.display().to_string());
        case.set_time(outcome.took);
        suite.add_test_case(case);
    }
    let mut report = Report::new("runbook");
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(|e| e.to_string())?;
    std::fs::write(path, xml).map_err(|e| e.to_string())
}
