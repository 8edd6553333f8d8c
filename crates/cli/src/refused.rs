//! What a run that did not start, or stopped because it lost its lock, prints — and its
//! exit code.

use runbook_lang::Runbook;

use crate::durable;
use crate::exit;
use crate::lease::Holding;
use crate::report::{LogFormat, OutputFormat};

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

/// Why a run did not start: its runbook, inputs or configuration would not do.
pub struct NotStarted {
    /// `invalid_runbook`, `invalid_inputs`, `configuration` or `run_store`.
    reason: &'static str,
    /// 2, or 75 ("try later") for a run store that cannot be reached.
    exit_code: u8,
    /// What a person reads, as printed without `--log-format json`.
    text: String,
    /// The same, one object per problem, for `--log-format json`.
    errors: Vec<serde_json::Value>,
}

impl NotStarted {
    pub fn inputs(problems: Vec<String>) -> Self {
        Self::messages("invalid_inputs", problems)
    }

    pub fn configuration(problem: String) -> Self {
        Self::messages("configuration", vec![problem])
    }

    /// The run store could not be opened; trying later may help (exit 75) or not (2).
    pub fn store(problem: crate::store_select::Unopened) -> Self {
        Self {
            exit_code: problem.code,
            ..Self::messages("run_store", vec![problem.message])
        }
    }

    fn messages(reason: &'static str, problems: Vec<String>) -> Self {
        let text = problems
            .iter()
            .map(|problem| format!("error: {problem}"))
            .collect::<Vec<_>>()
            .join("\n");
        let errors = problems
            .into_iter()
            .map(|message| serde_json::json!({ "message": message }))
            .collect();
        Self {
            reason,
            exit_code: exit::INVALID,
            text,
            errors,
        }
    }
}

impl From<crate::validate::NotLoaded> for NotStarted {
    fn from(not_loaded: crate::validate::NotLoaded) -> Self {
        let mut errors: Vec<serde_json::Value> = not_loaded
            .diagnostics
            .iter()
            .map(|d| {
                serde_json::json!({
                    "file": d.file, "line": d.line, "column": d.column,
                    "severity": match d.severity {
                        runbook_lang::Severity::Error => "error",
                        runbook_lang::Severity::Warning => "warning",
                    },
                    "message": d.message, "help": d.help,
                })
            })
            .collect();
        // A file not read as a runbook at all (missing, too large) has no place, only a why.
        errors.extend(
            not_loaded
                .unreadable
                .map(|message| serde_json::json!({ "message": message })),
        );
        Self {
            reason: "invalid_runbook",
            exit_code: exit::INVALID,
            text: not_loaded.text,
            errors,
        }
    }
}

/// The JSON line of a run that did not start.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct NotStartedLine<'a> {
    #[schemars(extend("const" = "run_not_started"))]
    pub event: &'static str,
    pub ts: String,
    pub version: u32,
    /// `invalid_runbook`, `invalid_inputs`, `configuration` or `run_store`.
    pub reason: &'static str,
    pub exit_code: u8,
    /// One object per problem: its `message`; a runbook's also `file`, `line`, `column`,
    /// `severity` and `help`.
    pub errors: &'a [serde_json::Value],
}

/// Says why the run did not start, as the log format asks: the text a person reads, or under
/// `--log-format json` one JSON line (`"event": "run_not_started"`) that a log pipeline can
/// parse like every other line of a run. Exits 2, or 75 when trying later may help.
pub fn not_started(format: LogFormat, not_started: NotStarted) -> u8 {
    if format == LogFormat::Json {
        let line = NotStartedLine {
            event: "run_not_started",
            ts: runbook_runner::rfc3339(time::OffsetDateTime::now_utc()),
            version: runbook_runner::FORMAT_VERSION,
            reason: not_started.reason,
            exit_code: not_started.exit_code,
            errors: &not_started.errors,
        };
        if let Ok(line) = serde_json::to_string(&line) {
            errln!("{line}");
        }
    } else {
        errln!("{}", not_started.text);
    }
    not_started.exit_code
}
