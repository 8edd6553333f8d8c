//! How a run looks: a live line on a terminal, plain lines in a log, JSON lines for machines,
//! and the final summary. The runner hands over events and state with secrets already
//! replaced, so nothing here redacts; control characters are escaped where every line is
//! written (`out.rs`).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use hwc_client::runtime::Clock;
use runbook_lang::limits::MAX_NAME_CHARS;
use runbook_lang::Runbook;
use runbook_runner::targets::TargetSpec;
use runbook_runner::{Event, Observer, RunState, RunStatus, StepStatus};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Plain,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// An observer that also takes free-form notes and can be closed.
pub trait Reporter: Observer {
    fn note(&self, message: &str);
    fn finish(&self);
    /// The run turned out to be the resumption of an earlier one: its lines carry that id.
    fn set_run_id(&self, _run_id: &str) {}
    /// Whether an event's line is the one the journal stamps (`--log-format json`): the event
    /// is then written to text once, and the journal prints it
    /// ([`Journal::append_event`](crate::journal::Journal::append_event)); otherwise it goes to
    /// [`Observer::event`].
    fn shows_journal_lines(&self) -> bool {
        false
    }
    /// From now on, prints its lines through `journal`, in order with the events' lines the
    /// journal prints.
    fn print_through(&self, _journal: &crate::journal::Journal) {}
}

/// Where a reporter's lines go: straight to stderr, or, once the run has a journal, through its
/// writer, which prints them in order with the events' lines and a batch at a time.
#[derive(Default)]
struct Printer {
    through: std::sync::OnceLock<crate::journal::Journal>,
}

impl Printer {
    fn print(&self, line: String) {
        match self.through.get() {
            Some(journal) => journal.show(line),
            None => errln!("{line}"),
        }
    }

    fn print_through(&self, journal: &crate::journal::Journal) {
        let _ = self.through.set(journal.clone());
    }
}

pub fn observer(format: LogFormat, clock: Arc<dyn Clock>, run_id: String) -> Arc<dyn Reporter> {
    match format {
        LogFormat::Json => Arc::new(JsonLines {
            clock,
            run_id: std::sync::RwLock::new(run_id),
            printer: Printer::default(),
        }),
        LogFormat::Auto if std::io::stderr().is_terminal() => {
            Arc::new(crate::live::Live::new(clock))
        }
        LogFormat::Plain | LogFormat::Auto => Arc::new(Plain {
            clock,
            printer: Printer::default(),
        }),
    }
}

// Written straight to text, once for the log and the journal (`Reporter::shows_journal_lines`): a
// step records several events, and building a tree of each first cost more than the step's
// request.
/// One JSON object as the JSON log and the journal write it: its own fields, then `run_id`
/// (unless it names its run itself), `ts` from the run's clock and `version`.
#[derive(Serialize, JsonSchema)]
#[schemars(bound = "T: JsonSchema")]
pub struct Stamped<'a, T: Serialize> {
    #[serde(flatten)]
    pub fields: &'a T,
    /// The run, unless the event names it itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<&'a str>,
    /// When it happened, RFC 3339, by the run's clock.
    pub ts: &'a str,
    /// [`runbook_runner::FORMAT_VERSION`].
    pub version: u32,
}

impl<T: Serialize> Stamped<'_, T> {
    /// The JSON text; `None` for a value serde cannot write as JSON (a map with non-text
    /// keys), which no event has.
    pub fn to_json(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}

/// One line of `--log-format json`, for its JSON Schema: an event of the run, a note, or why
/// the run did not start.
#[derive(JsonSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "only its schema is used: each line is written as its variant's type"
)]
pub enum LogLine<'a> {
    Event(Stamped<'a, Event>),
    Note(Stamped<'a, Note<'a>>),
    NotStarted(crate::refused::NotStartedLine<'a>),
}

/// A free-form note, as the JSON log writes it.
#[derive(Serialize, JsonSchema)]
pub struct Note<'a> {
    #[schemars(extend("const" = "note"))]
    pub event: &'static str,
    pub message: &'a str,
}

/// One JSON object per event on stderr, with the run id and a timestamp from the run's
/// clock on every line, so lines from overlapping runs can be told apart.
struct JsonLines {
    clock: Arc<dyn Clock>,
    run_id: std::sync::RwLock<String>,
    printer: Printer,
}

impl JsonLines {
    fn write<T: Serialize>(&self, fields: &T, names_run: bool) {
        let run_id = self
            .run_id
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ts = runbook_runner::rfc3339(self.clock.now_utc());
        let line = Stamped {
            fields,
            run_id: (!names_run).then_some(run_id.as_str()),
            ts: &ts,
            version: runbook_runner::FORMAT_VERSION,
        };
        if let Some(line) = line.to_json() {
            self.printer.print(line);
        }
    }
}

impl Observer for JsonLines {
    fn event(&self, event: &Event) {
        self.write(event, event.run_id().is_some());
    }
}

impl Reporter for JsonLines {
    fn note(&self, message: &str) {
        self.write(
            &Note {
                event: "note",
                message,
            },
            false,
        );
    }

    fn finish(&self) {}

    fn set_run_id(&self, run_id: &str) {
        *self
            .run_id
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = run_id.to_owned();
    }

    fn shows_journal_lines(&self) -> bool {
        true
    }

    fn print_through(&self, journal: &crate::journal::Journal) {
        self.printer.print_through(journal);
    }
}

/// Plain lines on stderr, each with a timestamp from the run's clock.
struct Plain {
    clock: Arc<dyn Clock>,
    printer: Printer,
}

impl Plain {
    fn line(&self, text: &str) {
        self.printer.print(stamped_line(&*self.clock, text));
    }
}

/// `text` after the time now by `clock`, to the second, as every plain line starts.
pub(crate) fn stamped_line(clock: &dyn Clock, text: &str) -> String {
    let now = clock.now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    format!("{} {text}", runbook_runner::rfc3339(now))
}

/// A step, or one element of its `for_each` (`step[3]`), as every text names it.
pub(crate) fn element(step: &str, index: Option<usize>) -> String {
    match index {
        Some(index) => format!("{step}[{index}]"),
        None => step.to_owned(),
    }
}

pub(crate) fn millis(ms: u64) -> String {
    humantime::format_duration(Duration::from_millis(ms / 100 * 100)).to_string()
}

/// What the plain format says about one event: a line for the log. The live view on a
/// terminal and replay (`runbook runs logs`) use the same words.
#[derive(Default)]
pub struct PlainText {
    pub line: Option<String>,
    /// Said only where there is no live view (on a terminal a poll updates its step's line).
    pub quiet_line: Option<String>,
}

pub fn plain_text(event: &Event) -> PlainText {
    let mut out = PlainText::default();
    match event {
        Event::RunStarted {
            run_id,
            runbook,
            steps,
        } => out.line = Some(format!("run {run_id}: {runbook} ({steps} steps)")),
        Event::RunResumed {
            run_id,
            step,
            executions,
        } => {
            let at = step
                .as_deref()
                .map_or_else(|| "its end".to_owned(), |step| format!("step {step}"));
            out.line = Some(format!(
                "resumed run {run_id} at {at} ({executions} execution(s) already started are followed, not started again)"
            ));
        }
        Event::OutcomeReconciled {
            step,
            index,
            operation,
            decision,
            detail,
        } => {
            let name = element(step, *index);
            out.line = Some(format!(
                "      reconciled {operation} of {name}: {decision} ({detail})"
            ));
        }
        Event::StepStarted {
            step,
            label,
            action,
            index,
            items,
        } => {
            let name = element(step, *index);
            let items = items.map(|n| format!(", {n} items")).unwrap_or_default();
            if label == step {
                out.line = Some(format!("start {name} ({action}{items})"));
            } else {
                out.line = Some(format!("start {name}: {label} ({action}{items})"));
            }
        }
        Event::StepSkipped { step, reason } => out.line = Some(format!("skip  {step}: {reason}")),
        Event::Poll {
            step,
            index,
            poll,
            status,
            elapsed_ms,
        } => {
            let name = element(step, *index);
            out.quiet_line = Some(format!(
                "      {name}: {status} (poll {poll}, {})",
                millis(*elapsed_ms)
            ));
        }
        Event::NodeAction {
            step,
            index,
            node,
            action,
            count,
        } => {
            let times = if action == "restart" {
                format!(" (restart {count})")
            } else {
                String::new()
            };
            out.line = Some(format!(
                "      {}: {action} node `{node}`{times}",
                element(step, *index)
            ));
        }
        Event::Retry {
            step,
            index,
            attempt,
            delay_ms,
            reason,
        } => {
            out.line = Some(format!(
                "      {}: attempt {attempt} failed: {reason}; retrying in {}",
                element(step, *index),
                millis(*delay_ms)
            ))
        }
        Event::Log { step, message } => out.line = Some(format!("      {step}: {message}")),
        Event::ExecutionStarted {
            step,
            index,
            service,
            workflow_id,
            execution_id,
            target,
        } => {
            let place = TargetSpec::suffix(target.as_ref());
            out.line = Some(format!(
                "      {}: started {service} workflow {workflow_id}: execution {execution_id}{place}",
                element(step, *index)
            ))
        }
        Event::AwaitingAnswer {
            step,
            index,
            operation,
            grace_ms,
        } => {
            out.line = Some(format!(
            "      {}: cancelled while {operation} was in flight; waiting up to {} for its answer",
            element(step, *index),
            millis(*grace_ms)
        ))
        }
        Event::OutcomeUnknown { outcome } => {
            out.line = Some(format!("      OUTCOME UNKNOWN: {}", outcome.describe()))
        }
        Event::FinallyStarted { status, steps } => {
            out.line = Some(format!(
                "finally: the run {}; running {steps} `finally` step(s)",
                status.name()
            ))
        }
        Event::StepFinished {
            step,
            index,
            status,
            elapsed_ms,
            error,
        } => {
            let name = element(step, *index);
            let mut text = format!(
                "{:<5} {name} {} in {}",
                mark(*status),
                status.name(),
                millis(*elapsed_ms)
            );
            if let Some(error) = error {
                text.push_str(&format!(": {error}"));
            }
            out.line = Some(text);
        }
        Event::RunFinished { .. } => {}
    }
    out
}

impl Observer for Plain {
    fn event(&self, event: &Event) {
        let text = plain_text(event);
        for line in [text.line, text.quiet_line].into_iter().flatten() {
            self.line(&line);
        }
    }
}

impl Reporter for Plain {
    fn note(&self, message: &str) {
        self.line(message);
    }

    fn finish(&self) {}

    fn print_through(&self, journal: &crate::journal::Journal) {
        self.printer.print_through(journal);
    }
}

pub(crate) fn mark(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "ok",
        StepStatus::Skipped => "skip",
        StepStatus::Pending => "-",
        StepStatus::Running => "...",
        StepStatus::Failed | StepStatus::TimedOut | StepStatus::Cancelled => "FAIL",
    }
}

/// What `runbook run --output json` prints. A struct, not `json!`: a `Value` map sorts its
/// keys, and the steps would lose the runbook's order.
#[derive(Serialize, JsonSchema)]
pub struct PrintedRun<'a> {
    /// [`runbook_runner::FORMAT_VERSION`].
    pub version: u32,
    pub exit_code: u8,
    pub run: &'a RunState,
}

/// The end-of-run summary.
pub fn summary(runbook: &Runbook, state: &RunState, format: OutputFormat, exit_code: u8) -> String {
    if format == OutputFormat::Json {
        let printed = PrintedRun {
            version: runbook_runner::FORMAT_VERSION,
            exit_code,
            run: state,
        };
        return serde_json::to_string_pretty(&printed).unwrap_or_default();
    }
    // Looked up once per step: finding each in the runbook would cost the steps squared.
    let actions: std::collections::HashMap<&str, &'static str> = runbook
        .all_steps()
        .map(|s| (s.id.as_str(), s.action().map_or("", |a| a.key())))
        .collect();
    text_summary(state, exit_code, &|id| {
        actions.get(id).copied().unwrap_or_default()
    })
}

/// What a run stopped for a decision says: what is unknown, the candidates, and the commands
/// that decide.
fn decision_text(run_id: &str, needs: &runbook_runner::NeedsDecision) -> String {
    let mut text = format!(
        "decision needed: {} {} of step {}{}: {}\n",
        needs.service,
        needs.operation,
        needs.step,
        needs.index.map(|i| format!("[{i}]")).unwrap_or_default(),
        needs.reason
    );
    if let Some(workflow_id) = &needs.workflow_id {
        text.push_str(&format!("  workflow: {workflow_id}\n"));
    }
    if let Some((from, to)) = &needs.window {
        text.push_str(&format!("  window: {from} .. {to}\n"));
    }
    for candidate in &needs.candidates {
        text.push_str(&format!(
            "  candidate: {candidate}   → runbook resume {run_id} --adopt {candidate}\n"
        ));
    }
    text.push_str(&format!(
        "  if it did not take effect → runbook resume {run_id} --start\n"
    ));
    text
}

/// The text summary; `action_of` names each step's action when the runbook is at hand.
pub fn text_summary(
    state: &RunState,
    exit_code: u8,
    action_of: &dyn Fn(&str) -> &'static str,
) -> String {
    let mut text = String::new();
    let headline = match state.status {
        RunStatus::Succeeded => "succeeded".to_owned(),
        RunStatus::Failed => "FAILED".to_owned(),
        RunStatus::TimedOut => "TIMED OUT".to_owned(),
        RunStatus::Cancelled => "CANCELLED".to_owned(),
        RunStatus::Running => "stopped".to_owned(),
        RunStatus::Suspended if state.needs_decision.is_some() => {
            "STOPPED FOR A DECISION (resumable)".to_owned()
        }
        RunStatus::Suspended => "suspended (the next run resumes it)".to_owned(),
    };
    text.push_str(&format!(
        "{}: {headline} (run {}, exit code {exit_code})\n",
        state.runbook, state.run_id
    ));
    // An id longer than the validator allows overflows its column rather than widening it.
    // Padded by hand: `{:<width$}` panics on a width past 65,535.
    let width = state
        .steps
        .keys()
        .map(|id| id.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_NAME_CHARS);
    for (id, step) in &state.steps {
        let action = action_of(id);
        let padding = " ".repeat(width.saturating_sub(id.chars().count()));
        let mut line = format!("  {:<5} {id}{padding}  {action}", mark(step.status));
        if step.status != StepStatus::Pending && step.status != StepStatus::Succeeded {
            line.push_str(&format!("  {}", step.status.name()));
        }
        match step.items {
            // A block's attempts count those of the steps inside it: none is a retry of it.
            Some(items) if matches!(action, "do" | "runbook") => {
                line.push_str(&format!("  {items} items  {} attempts", step.attempts));
            }
            // A fan-out's attempts are its elements' and their retries.
            Some(items) => {
                line.push_str(&format!("  {items} items"));
                let retries = (step.attempts as usize).saturating_sub(items);
                if retries > 0 {
                    line.push_str(&format!("  {retries} retries"));
                }
            }
            None if step.attempts > 1 => {
                line.push_str(&format!("  {} attempts", step.attempts));
            }
            None => {}
        }
        if step.polls > 0 {
            line.push_str(&format!("  {} polls", step.polls));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if let Some(error) = &state.error {
        text.push_str(&format!("error: {error}\n"));
    }
    if let Some(needs) = &state.needs_decision {
        text.push_str(&decision_text(&state.run_id, needs));
    }
    if let Some(error) = state
        .finally_error
        .as_ref()
        .filter(|e| state.error.as_ref() != Some(*e))
    {
        text.push_str(&format!("finally error: {error}\n"));
    }
    if !state.unknown_outcomes.is_empty() {
        text.push_str("OUTCOME UNKNOWN — these requests may or may not have taken effect; check before running again:\n");
        for outcome in &state.unknown_outcomes {
            text.push_str(&format!("  {}\n", outcome.describe()));
        }
    }
    if state.status != RunStatus::Succeeded && !state.executions.is_empty() {
        text.push_str("started executions (still yours to check):\n");
        for execution in &state.executions {
            text.push_str(&format!(
                "  {} {} {} (step {}){}\n",
                execution.service,
                execution.workflow_id,
                execution.execution_id,
                execution.step,
                TargetSpec::suffix(execution.target.as_ref())
            ));
        }
    }
    if !state.outputs.is_empty() {
        text.push_str("outputs:\n");
        for (name, value) in &state.outputs {
            text.push_str(&format!("  {name}: {value}\n"));
        }
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_id_of_any_length_is_summarised_without_panicking() {
        let source = runbook_lang::Source::new(
            "t.yaml",
            "version: 1\nname: t\nsteps:\n  - id: a\n    log: hi\n  - id: long\n    log: hi\n  - id: bc\n    log: hi\n",
        );
        let mut runbook = runbook_lang::parse(&source).unwrap_or_else(|d| panic!("{d:?}"));
        let long = "x".repeat(70_000);
        runbook.steps[1].id = long.clone();
        let state = RunState::new("run-1".into(), &runbook, String::new(), Default::default());
        let text = text_summary(&state, 0, &|_| "log");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{}", &text[..200]);
        assert!(lines[2].contains(&format!("{long}  log")));
        // The short ids keep a column as wide as the longest id a runbook may have.
        let column = |line: &str| line.find("log");
        assert_eq!(column(lines[1]), column(lines[3]));
        assert_eq!(column(lines[1]), Some(2 + 5 + 1 + MAX_NAME_CHARS + 2));
    }
}
