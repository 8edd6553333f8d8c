//! The HTML report: one self-contained file (inline CSS, no script, no external asset — a
//! Content-Security-Policy says so to the browser) with the run's facts, a timeline of its
//! steps as bars over time, with the polls, retries and node actions the journal recorded as
//! marks on them, and the tables of the Markdown report. Every text from the run is escaped.

use std::fmt::Write;

use runbook_runner::targets::TargetSpec;
use runbook_runner::{StepState, StepStatus};
use time::OffsetDateTime;

use std::collections::HashMap;

use super::{facts, parse_time, status_text, step_took, took, Finished, Mark, MarkKind};

/// The most steps drawn on the timeline (all of them are in the table).
const TIMELINE_STEPS: usize = 500;
/// The most marks drawn on one step's bar.
const MARKS_PER_STEP: usize = 200;

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1f24;background:#fff}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
code{font-family:ui-monospace,monospace}
.timeline{position:relative;border:1px solid #d0d7de;padding:.5em 0}
.row{display:flex;align-items:center;height:1.6em}
.label{width:14em;flex:none;padding:0 .6em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.lane{position:relative;flex:1;height:1em;margin-right:1em;background:#f6f8fa}
.bar{position:absolute;top:0;height:100%;min-width:2px;border-radius:2px}
.mark{position:absolute;top:-.2em;width:2px;height:1.4em}
.succeeded{background:#2da44e}.failed,.timed_out,.cancelled{background:#cf222e}
.skipped,.pending{background:#8c959f}.running{background:#bf8700}
.poll{background:#0969da}.retry{background:#fb8500}.node_action{background:#8250df}
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em;vertical-align:middle}
.axis{display:flex;justify-content:space-between;margin:0 1em 0 14em;color:#57606a;font-size:.85em}
";

pub fn render(finished: &Finished) -> String {
    let run = &finished.run;
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    let _ = writeln!(
        out,
        "<title>{} — {}</title>\n<style>{STYLE}</style></head><body>",
        escape(&run.runbook),
        run.status.name()
    );
    let _ = writeln!(
        out,
        "<h1>Runbook <code>{}</code>: <span class=\"status-{}\">{}</span></h1>",
        escape(&run.runbook),
        run.status.name(),
        run.status.name()
    );
    facts_table(&mut out, finished);
    timeline(&mut out, finished);
    steps(&mut out, finished);
    executions(&mut out, finished);
    if !run.outputs.is_empty() {
        let json = serde_json::to_string_pretty(&run.outputs).unwrap_or_default();
        let _ = writeln!(
            out,
            "<h2>Outputs</h2>\n<pre><code>{}</code></pre>",
            escape(&json)
        );
    }
    out.push_str("</body></html>\n");
    out
}

fn facts_table(out: &mut String, finished: &Finished) {
    let run = &finished.run;
    out.push_str("<table class=\"facts\">\n");
    let took = took(Some(&run.started_at), run.finished_at.as_deref())
        .map(|took| ("took", format!("{:.1} s", took.as_secs_f64())));
    for (name, value) in facts(finished).into_iter().chain(took) {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{}</td></tr>", escape(&value));
    }
    out.push_str("</table>\n");
}

/// Each step a bar from its start to its end, placed on the run's span; its marks on it.
fn timeline(out: &mut String, finished: &Finished) {
    let run = &finished.run;
    let Some(start) = parse_time(&run.started_at) else {
        return;
    };
    let step_ends = run
        .steps
        .values()
        .filter_map(|step| step.finished_at.as_deref().and_then(parse_time));
    let mark_ends = finished.marks.iter().map(|mark| mark.at);
    let end = run
        .finished_at
        .as_deref()
        .and_then(parse_time)
        .into_iter()
        .chain(step_ends)
        .chain(mark_ends)
        .max()
        .unwrap_or(start);
    let span = (end - start).as_seconds_f64().max(0.001);
    let at =
        |time: OffsetDateTime| ((time - start).as_seconds_f64() / span * 100.0).clamp(0.0, 100.0);

    out.push_str("<h2>Timeline</h2>\n<p class=\"legend\">");
    for (class, name) in [
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("skipped", "skipped or not reached"),
        ("poll", "poll"),
        ("retry", "retry"),
        ("node_action", "node action"),
    ] {
        let _ = write!(out, "<span class=\"{class}\"></span>{name}");
    }
    out.push_str("</p>\n");
    if finished.marks.is_empty() {
        out.push_str("<p>Polls, retries and node actions are drawn for a run read from the run store (<code>runbook report RUN_ID</code>); this report was made from a state file.</p>\n");
    }
    let mut marks_of: HashMap<&str, Vec<&Mark>> = HashMap::new();
    for mark in &finished.marks {
        marks_of.entry(mark.step.as_str()).or_default().push(mark);
    }
    out.push_str("<div class=\"timeline\">\n");
    for (id, step) in in_time_order(finished).into_iter().take(TIMELINE_STEPS) {
        let status = step.status.name();
        let _ = write!(
            out,
            "<div class=\"row\" data-step=\"{}\"><div class=\"label\" title=\"{}\"><code>{}</code></div><div class=\"lane\">",
            escape(id),
            escape(id),
            escape(id)
        );
        let began = step.started_at.as_deref().and_then(parse_time);
        let ended = step
            .finished_at
            .as_deref()
            .and_then(parse_time)
            .or(match step.status {
                StepStatus::Running => Some(end),
                _ => began,
            });
        if let (Some(began), Some(ended)) = (began, ended) {
            let (left, right) = (at(began), at(ended));
            let took = took(step.started_at.as_deref(), step.finished_at.as_deref())
                .map(|d| format!(", {:.1} s", d.as_secs_f64()))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<div class=\"bar {status}\" style=\"left:{left:.3}%;width:{:.3}%\" title=\"{}: {status}{took}\"></div>",
                right - left,
                escape(id)
            );
        }
        let marks = marks_of
            .get(id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        for mark in marks.iter().take(MARKS_PER_STEP) {
            let class = match mark.kind {
                MarkKind::Poll => "poll",
                MarkKind::Retry => "retry",
                MarkKind::NodeAction => "node_action",
            };
            let _ = write!(
                out,
                "<div class=\"mark {class}\" style=\"left:{:.3}%\" title=\"{}\"></div>",
                at(mark.at),
                escape(&mark.text)
            );
        }
        out.push_str("</div></div>\n");
    }
    if run.steps.len() > TIMELINE_STEPS {
        let _ = writeln!(
            out,
            "<p>{} more steps are in the table below, not on the timeline.</p>",
            run.steps.len() - TIMELINE_STEPS
        );
    }
    let _ = writeln!(
        out,
        "</div>\n<div class=\"axis\"><span>0 s</span><span>{:.1} s</span></div>",
        span
    );
}

fn steps(out: &mut String, finished: &Finished) {
    out.push_str("<h2>Steps</h2>\n<table class=\"steps\"><tr><th>step</th><th>status</th><th>took</th><th>attempts</th><th>polls</th><th>error</th></tr>\n");
    for (id, step) in in_time_order(finished) {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(id),
            status_text(step.status),
            step_took(step),
            step.attempts,
            step.polls,
            escape(step.error.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
}

fn executions(out: &mut String, finished: &Finished) {
    let run = &finished.run;
    if !run.executions.is_empty() {
        out.push_str("<h2>Executions started</h2>\n<table><tr><th>step</th><th>service</th><th>workflow</th><th>execution</th></tr>\n");
        for execution in &run.executions {
            let step = crate::report::element(&execution.step, execution.index);
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td><code>{}</code>{}</td></tr>",
                escape(&step),
                escape(&execution.service),
                escape(&execution.workflow_id),
                escape(&execution.execution_id),
                escape(&TargetSpec::suffix(execution.target.as_ref()))
            );
        }
        out.push_str("</table>\n");
    }
    if !run.unknown_outcomes.is_empty() {
        out.push_str("<h2>Outcome unknown: check these before running again</h2>\n<table><tr><th>step</th><th>operation</th><th>workflow</th><th>sent at</th><th>why</th></tr>\n");
        for unknown in &run.unknown_outcomes {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&unknown.step),
                escape(&unknown.operation),
                escape(unknown.workflow_id.as_deref().unwrap_or("")),
                escape(&unknown.sent_at),
                escape(&unknown.reason)
            );
        }
        out.push_str("</table>\n");
    }
}

/// The steps by when they started, those that never did last. (A state read back from the
/// journal has its steps in name order.)
fn in_time_order(finished: &Finished) -> Vec<(&String, &StepState)> {
    let mut steps: Vec<_> = finished.run.steps.iter().collect();
    steps.sort_by_key(|(_, step)| {
        let began = step.started_at.as_deref().and_then(parse_time);
        (began.is_none(), began)
    });
    steps
}

/// Text for an HTML text node or a quoted attribute.
fn escape(text: &str) -> minijinja::HtmlEscape<'_> {
    minijinja::HtmlEscape(text)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_run_texts_is_escaped() {
        let escaped = escape("<script>alert('x')</script> & \"q\"").to_string();
        assert!(!escaped.contains(['<', '>', '"', '\'']), "{escaped}");
        assert!(escaped.starts_with("&lt;script&gt;"), "{escaped}");
    }
}
