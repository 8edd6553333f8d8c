//! Time, sleep and randomness, injected so that waits, retries and timeouts run instantly and
//! deterministically in tests.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock time, for `X-Sdk-Date`.
    fn now_utc(&self) -> OffsetDateTime;
    /// Monotonic time since an arbitrary origin, for deadlines.
    fn elapsed(&self) -> Duration;
}

pub trait Sleeper: Send + Sync + fmt::Debug {
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

pub trait Random: Send + Sync + fmt::Debug {
    /// A number in `[0, 1)`.
    fn unit(&self) -> f64;
}

/// The clock, sleeper and random source one client (or runner) uses.
#[derive(Debug, Clone)]
pub struct Environment {
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
    pub random: Arc<dyn Random>,
}

impl Environment {
    /// Real time, tokio sleeps, and an unseeded random source.
    pub fn system() -> Self {
        Self {
            clock: Arc::new(SystemClock {
                origin: Instant::now(),
            }),
            sleeper: Arc::new(TokioSleeper),
            random: Arc::new(SeededRandom::new(fastrand::u64(..))),
        }
    }

    /// Virtual time starting at `start`: every sleep returns at once and moves the clock on,
    /// and randomness comes from `seed`. The returned handle reads and moves the clock.
    pub fn virtual_time(start: OffsetDateTime, seed: u64) -> (Self, VirtualTime) {
        let time = VirtualTime {
            state: Arc::new(Mutex::new(VirtualState {
                start,
                elapsed: Duration::ZERO,
                sleeps: Vec::new(),
            })),
        };
        let env = Self {
            clock: Arc::new(time.clone()),
            sleeper: Arc::new(time.clone()),
            random: Arc::new(SeededRandom::new(seed)),
        };
        (env, time)
    }

    pub fn sleep(&self, duration: Duration) -> SleepFuture {
        self.sleeper.sleep(duration)
    }
}

#[derive(Debug)]
struct SystemClock {
    origin: Instant,
}

impl Clock for SystemClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }
}

#[derive(Debug)]
struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A deterministic random source.
#[derive(Debug)]
pub struct SeededRandom(Mutex<fastrand::Rng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(fastrand::Rng::with_seed(seed)))
    }
}

impl Random for SeededRandom {
    fn unit(&self) -> f64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).f64()
    }
}

/// `at` moved `by` later; a sum past the last representable date stays at that date, so a
/// clock or deadline far in the future reads as "far in the future" rather than panicking.
pub fn saturating_after(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    at.saturating_add(time::Duration::try_from(by).unwrap_or(time::Duration::MAX))
}

/// `at` moved `by` earlier, stopping at the first representable date.
pub fn saturating_before(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    at.saturating_sub(time::Duration::try_from(by).unwrap_or(time::Duration::MAX))
}

#[derive(Debug)]
struct VirtualState {
    start: OffsetDateTime,
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

/// Virtual time shared by a clock and a sleeper: sleeping advances it instantly.
#[derive(Debug, Clone)]
pub struct VirtualTime {
    state: Arc<Mutex<VirtualState>>,
}

impl VirtualTime {
    fn with<R>(&self, f: impl FnOnce(&mut VirtualState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Moves the clock on without a sleep.
    pub fn advance(&self, by: Duration) {
        self.with(|s| s.elapsed = s.elapsed.saturating_add(by));
    }

    /// Every sleep taken so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.with(|s| s.sleeps.clone())
    }
}

impl Clock for VirtualTime {
    fn now_utc(&self) -> OffsetDateTime {
        self.with(|s| saturating_after(s.start, s.elapsed))
    }

    fn elapsed(&self) -> Duration {
        self.with(|s| s.elapsed)
    }
}

impl Sleeper for VirtualTime {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.with(|s| {
            s.elapsed = s.elapsed.saturating_add(duration);
            s.sleeps.push(duration);
        });
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_saturates_instead_of_overflowing() {
        let (environment, time) =
            Environment::virtual_time(time::macros::datetime!(2026-03-04 05:06:07 UTC), 1);
        for _ in 0..3 {
            drop(environment.sleep(Duration::MAX));
        }
        time.advance(Duration::MAX);
        assert_eq!(environment.clock.elapsed(), Duration::MAX);
        let last = environment.clock.now_utc();
        assert!(last.year() >= 9999, "{last}");
        assert_eq!(time.sleeps().len(), 3);
    }

    #[test]
    fn moving_a_date_by_any_duration_stays_in_the_calendar() {
        let now = time::macros::datetime!(2026-03-04 05:06:07 UTC);
        assert_eq!(
            saturating_after(now, Duration::from_secs(1)),
            time::macros::datetime!(2026-03-04 05:06:08 UTC)
        );
        assert!(saturating_after(now, Duration::MAX) > now);
        assert!(saturating_before(now, Duration::MAX) < now);
        assert_eq!(
            saturating_after(saturating_after(now, Duration::MAX), Duration::MAX),
            saturating_after(now, Duration::MAX)
        );
    }
}
