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
        self.with(|s| s.elapsed += by);
    }

    /// Every sleep taken so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.with(|s| s.sleeps.clone())
    }
}

impl Clock for VirtualTime {
    fn now_utc(&self) -> OffsetDateTime {
        self.with(|s| s.start + s.elapsed)
    }

    fn elapsed(&self) -> Duration {
        self.with(|s| s.elapsed)
    }
}

impl Sleeper for VirtualTime {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.with(|s| {
            s.elapsed += duration;
            s.sleeps.push(duration);
        });
        Box::pin(std::future::ready(()))
    }
}
