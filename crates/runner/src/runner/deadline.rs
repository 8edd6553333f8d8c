//! Deadlines and cancellation: every wait goes through [`Run::pause`], which reads the
//! injected clock and sleeper; deadlines are checked against that clock rather than by racing
//! a timer, and a cancelled run stops at its next wait or request.

use std::sync::PoisonError;
use std::time::Duration;

use crate::failure::{Scope, StepError};
use crate::targets::TargetRef;

use super::{age_of, Run, RECONCILE_SETTLE};

/// A deadline on the injected clock's `elapsed()`, and the target the requests made before
/// it go to: every request of a step element carries both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Option<Duration>,
    pub(crate) scope: Scope,
    /// When the deadline's clock started, to say "after 5m".
    pub(crate) since: Duration,
    /// The run's target unless the step names another.
    pub(crate) target: TargetRef,
}

impl Run {
    /// A resumed run first waits until [`RECONCILE_SETTLE`] after the last change its dead
    /// process sent: a request still in flight when the process died may be applied a
    /// moment later, and looking before then would see the world without it.
    pub(super) async fn let_in_flight_requests_land(&self) {
        let Some(sent_at) = self.ledger.last_sent_at() else {
            return;
        };
        let rest = RECONCILE_SETTLE.saturating_sub(age_of(&sent_at, self.now_utc()));
        // Cut short by the deadline or a signal, the first step's own check stops the run.
        let _ = self.pause(rest, self.run_deadline()).await;
    }

    pub(super) fn run_deadline(&self) -> Deadline {
        Deadline {
            at: self.deadline,
            scope: Scope::Run,
            since: self.started,
            target: TargetRef::default(),
        }
    }

    /// Waits `duration`, cut short by the deadline (an error once it has passed) or by
    /// cancellation.
    pub(crate) async fn pause(
        &self,
        duration: Duration,
        deadline: Deadline,
    ) -> Result<(), StepError> {
        self.yield_and_check(deadline).await?;
        let remaining = deadline.at.map(|at| at.saturating_sub(self.now()));
        let duration = remaining.map_or(duration, |left| duration.min(left));
        self.unless_cancelled(async {
            self.runner.environment.sleep(duration).await;
            Ok(())
        })
        .await
    }

    /// Lets other tasks run if this one has been busy, then fails when cancelled or past the
    /// deadline. Steps that take no time (a `log` in a `goto` loop, a retry with no delay, a
    /// sleep on virtual time) never wait on anything, so without the yield a signal's task
    /// could not run on a single-threaded runtime and a busy worker would never see it on
    /// time. A step that waited on a request has let the others run already: on system time
    /// the yield comes only once the task's cooperative budget is spent
    /// ([`Environment::cooperate`](hwc_client::Environment::cooperate)).
    pub(crate) async fn yield_and_check(&self, deadline: Deadline) -> Result<(), StepError> {
        self.runner.environment.cooperate().await;
        self.check(deadline)
    }

    /// Fails when cancelled or past the deadline.
    pub(crate) fn check(&self, deadline: Deadline) -> Result<(), StepError> {
        if self.cancel_token().is_cancelled() {
            return Err(StepError::Cancelled);
        }
        if let Some(at) = deadline.at {
            let now = self.now();
            if now >= at {
                return Err(StepError::TimedOut {
                    scope: deadline.scope,
                    after: now.saturating_sub(deadline.since),
                    detail: None,
                });
            }
        }
        Ok(())
    }

    /// Runs `work` unless the run is cancelled first or meanwhile.
    pub(crate) async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, StepError>>,
    ) -> Result<T, StepError> {
        let cancel = self.cancel_token();
        if cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        tokio::select! {
            result = work => result,
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }

    /// When `step` began: now, or for the step a resumed run goes on at, when it first
    /// began before the crash.
    pub(super) fn began(&self, step: &str) -> Duration {
        let now = self.now();
        let mut resumed = self
            .resumed_step
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if resumed.as_deref() != Some(step) {
            return now;
        }
        *resumed = None;
        match self.ledger.began_at(step) {
            Some(at) => now.saturating_sub(age_of(&at, self.now_utc())),
            None => now,
        }
    }
}
