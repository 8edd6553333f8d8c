//! The journal of a run in the run store: every event, as `--log-format json` prints it plus a
//! `version`, the runner's checkpoints (one per step, what a resumed run goes on from) and
//! intents, appended as it happens (deltas, never the whole state after each transition).
//!
//! Events go through a channel to one writer task, which appends whatever has queued up in
//! one transaction without fsync. The intent of a request that starts or changes something
//! is different: it is appended with everything before it, fsynced, and only then is the
//! request sent ([`Observer::before_change`] waits for it).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use hwc_client::runtime::Clock;
use runbook_runner::{Checkpoint, Event, Intent, Observer, RunState};
use runbook_store::RunStore;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

/// The version of the journal's event format; bumped when an event changes shape. Version 2
/// added the runner's checkpoints, which resuming needs.
pub const JOURNAL_VERSION: u32 = 2;

/// The most events one non-durable append takes, so one slow write cannot grow a batch
/// without bound.
const MAX_BATCH: usize = 512;

enum Entry {
    Event(Value),
    /// Appended durably; the sender learns when it is on disk.
    Durable(Value, oneshot::Sender<Result<(), String>>),
    /// Everything before it is written; then the writer stops.
    Close(oneshot::Sender<()>),
}

/// The observer half: cheap to clone, never blocks an event.
#[derive(Clone)]
pub struct Journal {
    entries: mpsc::UnboundedSender<Entry>,
    clock: Arc<dyn Clock>,
    run_id: String,
}

impl Journal {
    /// Starts the writer for `run_id`, which `store.begin_run` has recorded.
    pub fn start(store: Arc<dyn RunStore>, run_id: String, clock: Arc<dyn Clock>) -> Self {
        let (entries, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_entries(store, run_id.clone(), queue));
        Self {
            entries,
            clock,
            run_id,
        }
    }

    fn stamped(&self, mut value: Value) -> Value {
        crate::report::stamp(&mut value, &*self.clock, &self.run_id);
        if let Some(object) = value.as_object_mut() {
            object.insert("version".into(), JOURNAL_VERSION.into());
        }
        value
    }

    /// Records the run's final state once, for `runbook runs show`.
    pub fn final_state(&self, state: &RunState, exit_code: u8) {
        let entry = json!({"event": "final_state", "exit_code": exit_code, "state": state});
        let _ = self.entries.send(Entry::Event(self.stamped(entry)));
    }

    /// Waits until everything recorded so far is written.
    pub async fn close(&self) {
        let (done, written) = oneshot::channel();
        if self.entries.send(Entry::Close(done)).is_ok() {
            let _ = written.await;
        }
    }
}

impl Observer for Journal {
    fn event(&self, event: &Event) {
        if let Ok(value) = serde_json::to_value(event) {
            let _ = self.entries.send(Entry::Event(self.stamped(value)));
        }
    }

    fn checkpoint(&self, checkpoint: &Checkpoint) {
        if let Ok(value) = serde_json::to_value(checkpoint) {
            let _ = self.entries.send(Entry::Event(self.stamped(value)));
        }
    }

    fn before_change(&self, intent: &Intent) -> BoxFuture<'_, Result<(), String>> {
        let value = serde_json::to_value(intent).unwrap_or(Value::Null);
        let (done, written) = oneshot::channel();
        let sent = self
            .entries
            .send(Entry::Durable(self.stamped(value), done))
            .is_ok();
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

async fn write_entries(
    store: Arc<dyn RunStore>,
    run_id: String,
    mut queue: mpsc::UnboundedReceiver<Entry>,
) {
    // A failed append is remembered and reported to the next durable write (which then
    // refuses to let its request go); events keep flowing to the log either way.
    let mut failure: Option<String> = None;
    let mut batch: Vec<Value> = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(entry) = next.take() {
            match entry {
                Entry::Event(value) => {
                    batch.push(value);
                    if batch.len() < MAX_BATCH {
                        next = queue.try_recv().ok();
                    }
                }
                Entry::Durable(value, done) => {
                    batch.push(value);
                    let written = store.append(&run_id, &batch, true, None).await;
                    batch.clear();
                    let answer = match (written, failure.take()) {
                        (Err(error), _) => Err(error.to_string()),
                        (Ok(()), Some(earlier)) => Err(earlier),
                        (Ok(()), None) => Ok(()),
                    };
                    let _ = done.send(answer);
                }
                Entry::Close(done) => {
                    flush(&*store, &run_id, &mut batch, &mut failure).await;
                    if let Some(error) = failure.take() {
                        eprintln!("warning: the run store missed some events: {error}");
                    }
                    let _ = done.send(());
                    return;
                }
            }
        }
        flush(&*store, &run_id, &mut batch, &mut failure).await;
    }
}

async fn flush(
    store: &dyn RunStore,
    run_id: &str,
    batch: &mut Vec<Value>,
    failure: &mut Option<String>,
) {
    if batch.is_empty() {
        return;
    }
    if let Err(error) = store.append(run_id, batch, false, None).await {
        failure.get_or_insert_with(|| error.to_string());
    }
    batch.clear();
}
