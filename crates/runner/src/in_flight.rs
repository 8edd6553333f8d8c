//! The starts this run has sent and not yet recorded, by workflow. A start whose answer was
//! lost looks for the execution it began among those nobody recorded; while a sibling start of
//! the same workflow (another item of a `for_each`) is still on its way, the sibling's
//! execution is exactly such a one. So a look first waits for every sibling start of its
//! workflow to land: answered and recorded, or lost and looking too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct StartsInFlight {
    counts: Mutex<HashMap<String, usize>>,
    landed: Notify,
}

impl StartsInFlight {
    /// A start of `workflow_id` is about to be sent; it is in flight until the returned
    /// [`Flight`] lands or is dropped.
    pub(crate) fn begin(&self, workflow_id: &str) -> Flight<'_> {
        *self.lock().entry(workflow_id.to_owned()).or_default() += 1;
        Flight {
            starts: self,
            workflow_id: workflow_id.to_owned(),
            landed: AtomicBool::new(false),
        }
    }

    /// Resolves once no start of `workflow_id` is in flight.
    pub(crate) async fn settled(&self, workflow_id: &str) {
        loop {
            let landed = self.landed.notified();
            tokio::pin!(landed);
            // Registered before the count is read, so a landing in between is not missed.
            landed.as_mut().enable();
            if self.lock().get(workflow_id).copied().unwrap_or(0) == 0 {
                return;
            }
            landed.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One start in flight.
pub(crate) struct Flight<'a> {
    starts: &'a StartsInFlight,
    workflow_id: String,
    landed: AtomicBool,
}

impl Flight<'_> {
    /// It is sent (again, after a look found it had not taken effect): in flight once more.
    pub(crate) fn fly(&self) {
        if self.landed.swap(false, Ordering::SeqCst) {
            *self
                .starts
                .lock()
                .entry(self.workflow_id.clone())
                .or_default() += 1;
        }
    }

    /// Its answer is recorded, or it is lost and about to be looked for: it no longer hides
    /// an execution from its siblings. Only the first call counts.
    pub(crate) fn land(&self) {
        if self.landed.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut counts = self.starts.lock();
        if let Some(count) = counts.get_mut(&self.workflow_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.workflow_id);
            }
        }
        drop(counts);
        self.starts.landed.notify_waiters();
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.land();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_look_waits_for_its_siblings_to_land_and_not_for_itself() {
        let starts = StartsInFlight::default();
        let mine = starts.begin("wf");
        let sibling = starts.begin("wf");
        let other = starts.begin("other");
        mine.land();
        let waiting = tokio::time::timeout(Duration::from_millis(50), starts.settled("wf")).await;
        assert!(waiting.is_err(), "the sibling is still in flight");
        drop(sibling);
        tokio::time::timeout(Duration::from_secs(1), starts.settled("wf"))
            .await
            .unwrap();
        mine.land();
        mine.fly();
        let again = tokio::time::timeout(Duration::from_millis(50), starts.settled("wf")).await;
        assert!(again.is_err(), "sent again, it is in flight again");
        mine.land();
        drop(other);
        tokio::time::timeout(Duration::from_secs(1), starts.settled("other"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn two_lost_siblings_both_go_on_looking() {
        let starts = StartsInFlight::default();
        let (a, b) = (starts.begin("wf"), starts.begin("wf"));
        let look_a = async {
            a.land();
            starts.settled("wf").await;
        };
        let look_b = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            b.land();
            starts.settled("wf").await;
        };
        tokio::time::timeout(Duration::from_secs(1), async {
            tokio::join!(look_a, look_b)
        })
        .await
        .unwrap();
    }
}
