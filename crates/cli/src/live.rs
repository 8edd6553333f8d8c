//! The live view on a terminal: the log's lines scroll above, and below them one line per
//! step that is running — its action and latest poll, or for a `for_each` step a bar of its
//! items (done of all, how many running, how many failed). Colours come from `console`,
//! which turns them off under `NO_COLOR` (and `CLICOLOR=0`) or when stderr is no terminal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use console::style;
use hwc_client::runtime::Clock;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use runbook_runner::{Event, Observer, StepStatus};

use crate::out::escape_controls;
use crate::report::{mark, millis, plain_text, stamped_line, Reporter};

pub struct Live {
    clock: Arc<dyn Clock>,
    lines: MultiProgress,
    running: Mutex<HashMap<String, StepLine>>,
}

/// The line of one running step.
struct StepLine {
    bar: ProgressBar,
    action: String,
    /// For a `for_each` step: its elements so far.
    items: Option<Items>,
}

#[derive(Default)]
struct Items {
    running: usize,
    failed: usize,
}

impl Live {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            lines: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A line of the log, above the running steps; `text` is escaped already.
    fn println(&self, text: &str) {
        let _ = self.lines.println(stamped_line(&*self.clock, text));
    }

    fn step_line(&self, step: &str, action: &str, items: Option<usize>) -> StepLine {
        let bar = match items {
            Some(len) => {
                let bar = ProgressBar::new(len as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner:.cyan} {prefix:.bold} {bar:24.green/white} {pos}/{len} items {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        let bar = self.lines.add(bar);
        bar.set_prefix(escape_controls(step).into_owned());
        bar.set_message(escape_controls(action).into_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        StepLine {
            bar,
            action: action.to_owned(),
            items: items.map(|_| Items::default()),
        }
    }
}

impl StepLine {
    fn show_items(&self) {
        if let Some(items) = &self.items {
            let mut text = format!("{}: {} running", self.action, items.running);
            if items.failed > 0 {
                text.push_str(&format!(
                    ", {} failed",
                    style(items.failed).red().for_stderr()
                ));
            }
            self.bar.set_message(text);
        }
    }
}

impl Observer for Live {
    fn event(&self, event: &Event) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::StepStarted {
                step,
                action,
                index: None,
                items,
                ..
            } => {
                let line = self.step_line(step, action, *items);
                running.insert(step.clone(), line);
            }
            Event::StepStarted {
                step,
                index: Some(_),
                ..
            } => {
                if let Some(items) = running.get_mut(step).and_then(|line| {
                    let items = line.items.as_mut()?;
                    items.running += 1;
                    Some(&*line)
                }) {
                    items.show_items();
                }
                // An element's start is on its step's line, not in the scrolling log.
                return;
            }
            Event::StepFinished {
                step,
                index: Some(_),
                status,
                ..
            } => {
                if let Some(line) = running.get_mut(step) {
                    if let Some(items) = line.items.as_mut() {
                        items.running = items.running.saturating_sub(1);
                        if *status != StepStatus::Succeeded {
                            items.failed += 1;
                        }
                    }
                    line.bar.inc(1);
                    line.show_items();
                }
                if *status == StepStatus::Succeeded {
                    return;
                }
            }
            Event::Poll {
                step,
                index: None,
                poll,
                status,
                elapsed_ms,
            } => {
                if let Some(line) = running.get(step) {
                    line.bar.set_message(
                        escape_controls(&format!(
                            "{}: {status} (poll {poll}, {})",
                            line.action,
                            millis(*elapsed_ms)
                        ))
                        .into_owned(),
                    );
                }
                return;
            }
            // An element's polls show in its step's count, not one by one.
            Event::Poll { .. } => return,
            Event::StepFinished {
                step, index: None, ..
            } => {
                if let Some(line) = running.remove(step) {
                    line.bar.finish_and_clear();
                    self.lines.remove(&line.bar);
                }
            }
            _ => {}
        }
        drop(running);
        if let Some(line) = plain_text(event).line {
            // Escaped first: the colour's own escapes must reach the terminal.
            self.println(&coloured(event, &escape_controls(&line)));
        }
    }
}

/// `line` with the mark of a finished step in its status's colour.
fn coloured(event: &Event, line: &str) -> String {
    let Event::StepFinished { status, .. } = event else {
        return line.to_owned();
    };
    let word = mark(*status);
    let Some(rest) = line.strip_prefix(word) else {
        return line.to_owned();
    };
    let word = match status {
        StepStatus::Succeeded => style(word).green(),
        StepStatus::Skipped | StepStatus::Pending | StepStatus::Running => style(word).yellow(),
        StepStatus::Failed | StepStatus::TimedOut | StepStatus::Cancelled => style(word).red(),
    };
    format!("{}{rest}", word.for_stderr())
}

impl Reporter for Live {
    fn note(&self, message: &str) {
        self.println(&escape_controls(message));
    }

    fn finish(&self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, line) in running.drain() {
            line.bar.finish_and_clear();
        }
        let _ = self.lines.clear();
    }
}
