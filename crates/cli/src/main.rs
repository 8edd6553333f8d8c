//! `runbook`: run, validate and describe runbooks, and serve the sandbox.

// `println!` and `eprintln!` panic when the reader has gone away (`| head`): write through
// `outln!` / `errln!` (out.rs) instead.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

// First: its macros (`outln!`, `errln!`) are used by every module after it.
#[macro_use]
mod out;

mod connect;
mod durable;
mod exit;
mod files;
mod fire;
mod journal;
mod lease;
mod live;
mod man;
mod plan;
mod refused;
mod report;
mod reports;
mod resume_cmd;
mod run;
mod runs_cmd;
mod sandbox_cmd;
mod signals;
mod step_targets;
mod store_cmd;
mod store_select;
mod testing;
mod validate;

/// The version and the commit it was built from (`build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("RUNBOOK_COMMIT"),
    ")"
);

/// Declarative runbooks for Huawei Cloud's workflow APIs (AOM automation workflows and
/// FunctionGraph workflows).
///
/// Try one without a cloud account:
///   runbook run runbooks/canonical.yaml --sandbox
///
/// Exit codes: 0 success, 1 a step failed, 2 invalid runbook / inputs / usage / configuration,
/// 3 timed out, 4 a person must decide (see the message), 75 try later (another run holds the
/// lock or has this schedule fire, the run was suspended or lost its lock, or the run store
/// cannot be reached), 130 cancelled (SIGINT), 141 stdout closed by its reader (`| head`).
#[derive(Debug, Parser)]
#[command(name = "runbook", version = VERSION, about, long_about, verbatim_doc_comment)]
struct Cli {
    /// The exit code for "try later" (skipped: another run holds the lock or has this
    /// schedule fire; suspended; lost the lock; the store cannot be reached). Kubernetes Jobs
    /// set 0: a pod whose failure a podFailurePolicy ignores is replaced at once, and the
    /// replacement would be skipped again and again.
    #[arg(long, global = true, value_name = "CODE", env = "RUNBOOK_TRY_LATER_EXIT_CODE", default_value_t = exit::SKIPPED)]
    try_later_exit_code: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a runbook against Huawei Cloud, or against the local sandbox with --sandbox.
    ///
    /// With a run store, an unfinished run of the same runbook and lock whose process is
    /// gone (SIGKILL, a crash, SIGTERM) is resumed instead of started again.
    Run(run::RunArgs),
    /// Resume an unfinished run by id, e.g. with the decision a lost request needs.
    Resume(resume_cmd::ResumeArgs),
    /// Show what a run would do, for review before it runs: every step, the operation it
    /// sends, its parameters as far as the inputs decide them, what it changes, its guards
    /// and where it goes next (text, JSON or a Mermaid flowchart). With -o, pin the plan for
    /// `runbook run --plan`.
    Plan(plan::PlanArgs),
    /// Test runbooks: run each test file's runbook on simulated time against an in-process
    /// sandbox with the file's inputs and scenario, and check its expectations.
    ///
    /// One line per test, then `N passed, N failed`; a failed expectation is reported at its
    /// file:line:col. Exits 0 when every test passes, 1 when one fails, 2 when a test file
    /// cannot be read.
    Test(testing::TestArgs),
    /// Check runbook files (or directories of them) without running anything.
    ///
    /// Reports every problem at once, each as file:line:col with the offending line and a
    /// caret. Exits 2 when any file has a problem, 0 otherwise.
    Validate {
        /// Runbook files, or directories searched for *.yaml and *.yml.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of runbook files (for editors and CI).
    ///
    /// runbooks/schema.json holds the same schema; point your editor at it with
    /// `# yaml-language-server: $schema=./schema.json` on a runbook's first line.
    Schema {
        /// Print the parameters schema of one operation (for `call` steps) instead.
        #[arg(long, value_name = "OPERATION_ID", conflicts_with = "of")]
        operation: Option<String>,
        /// Which schema: of a runbook, of what `run --output json` prints, or of a line of
        /// `--log-format json` (each carries `version`; schemas/ holds the last two).
        #[arg(long, value_enum, default_value = "runbook")]
        of: SchemaOf,
    },
    /// The local emulator of the workflow endpoints.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// The run history in the run store: list, show, logs, prune.
    Runs(runs_cmd::RunsArgs),
    /// The run store itself: migrate its schema.
    Store(store_cmd::StoreCmdArgs),
    /// A report of a finished run, for a ticket or a CI job's summary: Markdown, an HTML
    /// timeline or JUnit XML, of a run in the run store or of the JSON `runbook run --output
    /// json` prints.
    ///
    /// GitHub Actions: `runbook report run.json >> "$GITHUB_STEP_SUMMARY"`
    /// A recorded run:  `runbook report 01a2… --format html -o run.html`
    #[command(verbatim_doc_comment)]
    Report(reports::ReportArgs),
    /// Print a shell completion script.
    ///
    /// bash: `runbook completions bash > ~/.local/share/bash-completion/completions/runbook`
    /// zsh: `runbook completions zsh > "${fpath[1]}/_runbook"`
    /// fish: `runbook completions fish > ~/.config/fish/completions/runbook.fish`
    /// PowerShell: `runbook completions powershell >> $PROFILE`
    #[command(verbatim_doc_comment)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages into a directory (for packagers; `man/` holds the same pages).
    #[command(hide = true)]
    Man {
        /// The directory to write `runbook.1` and one page per subcommand into.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Serve the sandbox until Ctrl-C or SIGTERM.
    ///
    /// Prints the address, the project ids and the credentials it accepts. Point an SDK,
    /// `hwc-client` or `runbook run --endpoint` at the address.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// A scenario YAML file; the built-in default scenario when absent.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Seed for ids and injected faults.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the built-in default scenario (a starting point for your own).
    Scenario,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match runtime_for(&cli.command).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            errln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::INVALID);
        }
    };
    let try_later = cli.try_later_exit_code;
    let code = runtime.block_on(dispatch(cli));
    ExitCode::from(if code == exit::SKIPPED {
        try_later
    } else {
        code
    })
}

/// One thread for everything but the sandbox server (and the journal's writer, which has a
/// thread of its own: `journal.rs`). A run is a chain of requests, each waiting on the last:
/// on a second worker its task, the connection's task and the journal hand every request
/// back and forth between threads (about 8 context switches a step instead of 1.5, and a
/// 1,000-step chain 30% slower on two cores), while a fan-out's own
/// work is small next to its waiting (1,000 start + wait items took the same wall time on
/// one thread as on two; `bash bench/compare.sh`). The server answers many clients at once
/// and keeps a worker per core.
fn runtime_for(command: &Command) -> tokio::runtime::Builder {
    match command {
        Command::Sandbox(SandboxCommand::Serve { .. }) => {
            tokio::runtime::Builder::new_multi_thread()
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    }
}

async fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Resume(args) => resume_cmd::resume(args).await,
        Command::Plan(args) => plan::plan(&args),
        Command::Report(args) => reports::report(&args).await,
        Command::Test(args) => testing::test(&args).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "runbook", &mut script);
            out::stdout_text(format_args!("{}", String::from_utf8_lossy(&script)));
            exit::SUCCESS
        }
        Command::Man { dir } => match man::write_pages(&dir) {
            Ok(()) => exit::SUCCESS,
            Err(error) => {
                errln!(
                    "error: cannot write the man pages into {}: {error}",
                    dir.display()
                );
                exit::INVALID
            }
        },
        Command::Runs(args) => runs_cmd::runs(args).await,
        Command::Store(args) => store_cmd::store(args).await,
        Command::Validate { paths } => match validate::validate(&paths) {
            Ok(outcome) if outcome.failed == 0 => exit::SUCCESS,
            Ok(outcome) => {
                errln!(
                    "{} of {} runbook file(s) have problems",
                    outcome.failed,
                    outcome.files
                );
                exit::INVALID
            }
            Err(error) => {
                errln!("error: {error}");
                exit::INVALID
            }
        },
        Command::Schema { operation, of } => schema(operation.as_deref(), of),
        Command::Sandbox(SandboxCommand::Scenario) => {
            sandbox_cmd::print_scenario();
            exit::SUCCESS
        }
        Command::Sandbox(SandboxCommand::Serve {
            listen,
            scenario,
            seed,
        }) => match sandbox_cmd::serve(listen, scenario, seed).await {
            Ok(()) => exit::SUCCESS,
            Err(error) => {
                errln!("error: {error:#}");
                exit::INVALID
            }
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SchemaOf {
    /// A runbook (runbooks/schema.json).
    Runbook,
    /// What `runbook run --output json` prints (schemas/run.json).
    Run,
    /// One line of `--log-format json`, which the journal also holds (schemas/log-line.json).
    LogLine,
}

fn schema(operation: Option<&str>, of: SchemaOf) -> u8 {
    let schema = match operation {
        None => match of {
            SchemaOf::Runbook => runbook_lang::schema(),
            SchemaOf::Run => schemars::schema_for!(report::PrintedRun<'static>),
            SchemaOf::LogLine => schemars::schema_for!(report::LogLine<'static>),
        },
        Some(id) => match hwc_client::catalogue::params_schema(id) {
            Some(schema) => schema,
            None => {
                let known: Vec<&str> = hwc_client::catalogue::OPERATIONS
                    .iter()
                    .map(|op| op.id)
                    .collect();
                errln!(
                    "error: unknown operation `{id}`; the spec defines: {}",
                    known.join(", ")
                );
                return exit::INVALID;
            }
        },
    };
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => {
            outln!("{text}");
            exit::SUCCESS
        }
        Err(error) => {
            errln!("error: cannot print the schema: {error}");
            exit::INVALID
        }
    }
}
