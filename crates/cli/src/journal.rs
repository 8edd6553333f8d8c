//! The journal of a run in the run store: every event, as `--log-format json` prints it plus a
//! `version`, the runner's checkpoints (one per step, what a resumed run goes on from) and
//! intents, appended as it happens (deltas, never the whole state after each transition).
//!
//! Events go through a channel to one writer task, on a thread of its own, which appends what
//! arrives within a few milliseconds in one transaction without fsync. The intent of a request
//! that starts or changes something is different: it is appended at once with everything
//! before it (and the other intents queued with it), fsynced, and only then is the request
//! sent ([`Observer::before_change`] waits for it).
//!
//! The writer also prints the run's log (all but the live view on a terminal): a batch's lines
//! in one `write`, just before the batch goes to the store, so the log is never behind the
//! journal and the run's thread makes no system call for them (two a step were about 3% of a
//! 1,000-step chain's wall time). Under `--log-format json` an event's line is its journal
//! entry; plain lines and notes come through [`Journal::show`], in the order they happened.
//!
//! Under a lock, every append carries the holding's fence, so a process that lost its lock
//! writes nothing more; the intent's fence also needs the lease to outlast the request. A
//! refused write loses the holding, which stops the run.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures_util::future::BoxFuture;
use hwc_client::runtime::Clock;
use runbook_runner::{BlockCheckpoint, Checkpoint, Event, Intent, Observer, RunState};
use runbook_store::{NewEvent, RunStore, StoreError};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::lease::Holding;

/// The most events one non-durable append takes, so one slow write cannot grow a batch
/// without bound.
const MAX_BATCH: usize = 512;

/// How long the writer gathers events before it writes them.
const GROUP_COMMIT: std::time::Duration = std::time::Duration::from_millis(5);

enum Entry {
    Event(NewEvent),
    /// An event the log shows too: its line is the entry's JSON.
    Shown(NewEvent),
    /// A line for the log alone (a note).
    Line(String),
    /// Appended durably; the sender learns when it is on disk.
    Durable(NewEvent, oneshot::Sender<Result<(), String>>),
    /// Everything before it is written; then the writer stops.
    Close(oneshot::Sender<()>),
}

/// The observer half: cheap to clone, never blocks an event.
#[derive(Clone)]
pub struct Journal {
    entries: mpsc::UnboundedSender<Entry>,
    /// Rung after an entry that must not wait out the gathering window (an intent, the
    /// close): queued events alone never wake the writer.
    urgent: Arc<Notify>,
    clock: Arc<dyn Clock>,
    run_id: String,
    /// The steps whose result is the one their last checkpoint holds: the final state leaves
    /// those out rather than write every result a second time.
    checkpointed: Arc<Mutex<HashSet<String>>>,
}

impl Journal {
    /// Starts the writer for `run_id`, which `store.begin_run` has recorded; its writes are
    /// fenced by `holding` when the run holds a lock.
    pub fn start(
        store: Arc<dyn RunStore>,
        run_id: String,
        clock: Arc<dyn Clock>,
        holding: Option<Arc<Holding>>,
    ) -> Self {
        let (entries, queue) = mpsc::unbounded_channel();
        let urgent = Arc::new(Notify::new());
        let writer = Writer {
            store,
            run_id: run_id.clone(),
            holding,
            failure: None,
            shown: String::new(),
        };
        drop(on_writer_thread(
            writer.write_entries(queue, urgent.clone()),
        ));
        Self {
            entries,
            urgent,
            clock,
            run_id,
            checkpointed: Arc::default(),
        }
    }

    /// `fields` as the journal holds them (`names_run`: they carry the run id already).
    /// `None` only for what serde cannot write as JSON, which no event is.
    fn stamped<T: Serialize>(&self, fields: &T, names_run: bool) -> Option<NewEvent> {
        let ts = runbook_runner::rfc3339(self.clock.now_utc());
        let json = crate::report::Stamped {
            fields,
            run_id: (!names_run).then_some(self.run_id.as_str()),
            ts: &ts,
            version: runbook_runner::FORMAT_VERSION,
        }
        .to_json()?;
        Some(NewEvent { at: Some(ts), json })
    }

    fn record<T: Serialize>(&self, fields: &T, names_run: bool) {
        if let Some(entry) = self.stamped(fields, names_run) {
            self.send(Entry::Event(entry));
        }
    }

    /// `event` as the journal holds it, which is also its `--log-format json` line.
    pub fn stamp(&self, event: &Event) -> Option<NewEvent> {
        self.stamped(event, event.run_id().is_some())
    }

    /// Appends `entry`, the one [`stamp`](Self::stamp) made of `event`; with `shown`, the log
    /// shows it too.
    pub fn append_event(&self, event: &Event, entry: NewEvent, shown: bool) {
        // A step's result changes only just before its `step_finished` (`Observer::checkpoint`
        // says so): from then on, and from the moment it starts again, its last checkpoint may
        // hold an older one.
        if let Event::StepStarted { step, .. } | Event::StepFinished { step, .. } = event {
            self.checkpointed().remove(step);
        }
        self.send(if shown {
            Entry::Shown(entry)
        } else {
            Entry::Event(entry)
        });
    }

    /// Prints `line` in the log after everything shown before it.
    pub fn show(&self, line: String) {
        self.send(Entry::Line(line));
    }

    /// Queues `entry`; once the writer has stopped, a line for the log is printed at once.
    fn send(&self, entry: Entry) {
        if let Err(mpsc::error::SendError(entry)) = self.entries.send(entry) {
            match entry {
                Entry::Shown(event) => errln!("{}", event.json),
                Entry::Line(line) => errln!("{line}"),
                Entry::Event(_) | Entry::Durable(..) | Entry::Close(_) => {}
            }
        }
    }

    fn checkpointed(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.checkpointed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the run's final state once, for `runbook runs show`: every result but those
    /// the steps' last checkpoints hold (`results_in_checkpoints`; `runs_cmd::final_state`
    /// puts them back). `state` is left as it was.
    pub fn final_state(&self, state: &mut RunState, exit_code: u8) {
        #[derive(Serialize)]
        struct FinalState<'a> {
            event: &'static str,
            exit_code: u8,
            state: &'a RunState,
            /// The steps in the runbook's order: a reader's JSON objects keep their keys
            /// sorted, and `state.steps` would come back in name order.
            step_order: Vec<&'a str>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            results_in_checkpoints: Vec<String>,
        }
        // Taken out for the writing and put back: a long run's results are most of its
        // state, and written out again they were a third of its journal.
        let mut taken: Vec<(usize, serde_json::Value)> = Vec::new();
        let mut results_in_checkpoints = Vec::new();
        {
            let checkpointed = self.checkpointed();
            for (at, (id, step)) in state.steps.iter_mut().enumerate() {
                if checkpointed.contains(id) {
                    if let Some(result) = step.result.take() {
                        taken.push((at, result));
                        results_in_checkpoints.push(id.clone());
                    }
                }
            }
        }
        let entry = FinalState {
            event: "final_state",
            exit_code,
            state,
            step_order: state.steps.keys().map(String::as_str).collect(),
            results_in_checkpoints,
        };
        self.record(&entry, false);
        for (at, result) in taken {
            if let Some((_, step)) = state.steps.get_index_mut(at) {
                step.result = Some(result);
            }
        }
    }

    /// Waits until everything recorded so far is written.
    pub async fn close(&self) {
        let (done, written) = oneshot::channel();
        if self.entries.send(Entry::Close(done)).is_ok() {
            self.urgent.notify_one();
            let _ = written.await;
        }
    }
}

impl Observer for Journal {
    fn event(&self, event: &Event) {
        if let Some(entry) = self.stamp(event) {
            self.append_event(event, entry, false);
        }
    }

    fn checkpoint(&self, checkpoint: &Checkpoint<'_>) {
        self.record(checkpoint, false);
        if let (Some(step), Some(_)) = (&checkpoint.step, &checkpoint.state) {
            let mut checkpointed = self.checkpointed();
            if !checkpointed.contains(step) {
                checkpointed.insert(step.clone());
            }
        }
    }

    fn block_checkpoint(&self, checkpoint: &BlockCheckpoint) {
        self.record(checkpoint, false);
    }

    fn before_change(&self, intent: &Intent) -> BoxFuture<'_, Result<(), String>> {
        let (done, written) = oneshot::channel();
        let sent = match self.stamped(intent, false) {
            Some(entry) => self.entries.send(Entry::Durable(entry, done)).is_ok(),
            None => false,
        };
        self.urgent.notify_one();
        Box::pin(async move {
            if !sent {
                return Err("the journal writer has stopped".to_owned());
            }
            written
                .await
                .unwrap_or_else(|_| Err("the journal writer has stopped".to_owned()))
        })
    }
}

/// Has `store` open what its appends use on the writers' thread, without waiting for it, so
/// that the first append (often the intent of the first request, which waits for it) finds
/// it open.
pub fn prepare(store: &Arc<dyn RunStore>) {
    let store = Arc::clone(store);
    drop(on_writer_thread(
        async move { store.prepare_appends().await },
    ));
}

/// Runs `task` on the writers' thread: the store's work that need not hold up the run's
/// thread (the writer, preparing appends, opening the store while the runbook is read).
pub fn on_writer_thread<T: Send + 'static>(
    task: impl std::future::Future<Output = T> + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    match writer_thread() {
        Some(thread) => thread.spawn(task),
        None => tokio::spawn(task),
    }
}

/// The runtime the writers run on: a thread of its own, so that encoding and handing a batch
/// to the store overlaps with the run's next step on a second core instead of delaying it (a
/// 1,000-step chain: 9 ms less wall time, `bash bench/compare.sh`). It lives as long as the
/// process: a PostgreSQL connection the pool opens on it stays bound to its reactor, and the
/// run's thread may use that connection after its journal is closed. `None` when no thread
/// can be started; the writer then shares the run's thread, only slower.
fn writer_thread() -> Option<tokio::runtime::Handle> {
    static WRITER: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
    WRITER
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("runbook-journal".to_owned())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .ok()?;
            Some(handle)
        })
        .clone()
}

struct Writer {
    store: Arc<dyn RunStore>,
    run_id: String,
    holding: Option<Arc<Holding>>,
    /// A failed append, reported to the next durable write (which then refuses to let its
    /// request go); events keep flowing to the log either way.
    failure: Option<String>,
    /// The log's lines that came with the entries not yet written.
    shown: String,
}

impl Writer {
    async fn write_entries(
        mut self,
        mut queue: mpsc::UnboundedReceiver<Entry>,
        urgent: Arc<Notify>,
    ) {
        let mut batch: Vec<NewEvent> = Vec::new();
        let mut backlog = false;
        while let Some(first) = queue.recv().await {
            // Group commit: a transaction per event costs more than a step, so the events of
            // the next few milliseconds are written together, and sending them wakes nobody.
            // An intent (or the close) is written at once, with everything queued before it:
            // its request waits for it.
            if !backlog && matches!(first, Entry::Event(_) | Entry::Shown(_) | Entry::Line(_)) {
                tokio::select! {
                    () = tokio::time::sleep(GROUP_COMMIT) => {}
                    () = urgent.notified() => {}
                }
            }
            let mut durable: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
            let mut close = None;
            let mut next = Some(first);
            while let Some(entry) = next.take() {
                match entry {
                    Entry::Event(value) => batch.push(value),
                    Entry::Shown(value) => {
                        self.queue_line(&value.json);
                        batch.push(value);
                    }
                    Entry::Line(line) => self.queue_line(&line),
                    Entry::Durable(value, done) => {
                        batch.push(value);
                        durable.push(done);
                    }
                    Entry::Close(done) => close = Some(done),
                }
                backlog = batch.len() >= MAX_BATCH;
                if close.is_some() || backlog {
                    break;
                }
                next = queue.try_recv().ok();
            }
            if durable.is_empty() {
                self.flush(&mut batch).await;
            } else {
                self.print_shown();
                let written = self.write_intent(&batch).await;
                batch.clear();
                let answer = match (written, self.failure.take()) {
                    (Err(error), _) => Err(error),
                    (Ok(()), Some(earlier)) => Err(earlier),
                    (Ok(()), None) => Ok(()),
                };
                for done in durable {
                    let _ = done.send(answer.clone());
                }
            }
            if let Some(done) = close {
                self.flush(&mut batch).await;
                // What comes after the close is not journaled, but its lines are still the
                // log's: those already queued are printed here, and the closed queue hands
                // the next ones back to be printed at once.
                queue.close();
                while let Ok(entry) = queue.try_recv() {
                    if let Entry::Shown(NewEvent { json: line, .. }) | Entry::Line(line) = entry {
                        self.queue_line(&line);
                    }
                }
                self.print_shown();
                if let Some(error) = self.failure.take() {
                    errln!("warning: the run store missed some events: {error}");
                }
                let _ = done.send(());
                return;
            }
        }
        self.flush(&mut batch).await;
    }

    /// Appends `batch`, which holds one or more intents, durably — under a lock, only while the
    /// lease outlasts the request, by the store's clock and by this process's (before and
    /// after the write, so a process frozen in between does not send).
    async fn write_intent(&self, batch: &[NewEvent]) -> Result<(), String> {
        let Some(holding) = &self.holding else {
            return self
                .store
                .append(&self.run_id, batch, true, None)
                .await
                .map_err(|error| error.to_string());
        };
        if !holding.outlasts_request() {
            holding.renew_now().await;
        }
        let too_short = || {
            format!(
                "the lease on lock `{}` would not outlast the request ({})",
                holding.key(),
                humantime::format_duration(holding.timing().request_timeout)
            )
        };
        if !holding.outlasts_request() {
            return Err(too_short());
        }
        let fence = holding.intent_fence();
        let written = self
            .store
            .append(&self.run_id, batch, true, Some(&fence))
            .await;
        self.fenced(written)?;
        if !holding.outlasts_request() {
            return Err(too_short());
        }
        Ok(())
    }

    fn queue_line(&mut self, line: &str) {
        self.shown.push_str(line);
        self.shown.push('\n');
    }

    /// Prints the lines that came with the entries about to be written: before them, so that a
    /// slow or failing store never holds the log back by more than one write.
    fn print_shown(&mut self) {
        if !self.shown.is_empty() {
            crate::out::stderr_lines(&self.shown);
            self.shown.clear();
        }
    }

    async fn flush(&mut self, batch: &mut Vec<NewEvent>) {
        self.print_shown();
        if batch.is_empty() {
            return;
        }
        let fence = self.holding.as_ref().map(|holding| holding.fence());
        let written = self
            .store
            .append(&self.run_id, batch, false, fence.as_ref())
            .await;
        if let Err(error) = self.fenced(written) {
            self.failure.get_or_insert(error);
        }
        batch.clear();
    }

    /// A write refused by the fence loses the holding: the run must stop acting.
    fn fenced(&self, written: Result<(), StoreError>) -> Result<(), String> {
        match written {
            Ok(()) => Ok(()),
            Err(error) => {
                let message = error.to_string();
                if let (StoreError::Fenced { .. }, Some(holding)) = (&error, &self.holding) {
                    holding.lose(message.clone());
                }
                Err(message)
            }
        }
    }
}
