//! The two backoff curves, shared by request retries, waiters and (later) the runner's polls.

use std::time::Duration;

use super::environment::Random;

/// Exponential backoff with full jitter: `random(0, min(max, base · 2^(attempt-1)))`.
/// `attempt` counts from 1.
pub fn full_jitter(base: Duration, max: Duration, attempt: u32, random: &dyn Random) -> Duration {
    exponential(base, max, attempt).mul_f64(random.unit())
}

/// Smithy's waiter delay: `random(min, min · 2^(attempt-1))`, capped at `max`.
pub fn waiter_delay(min: Duration, max: Duration, attempt: u32, random: &dyn Random) -> Duration {
    let top = exponential(min, max, attempt);
    min + (top.saturating_sub(min)).mul_f64(random.unit())
}

/// Exponential backoff without jitter: `min(max, base · 2^(attempt-1))`.
pub fn exponential(base: Duration, max: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(32);
    base.saturating_mul(1u32 << doublings.min(31)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(f64);
    impl Random for Fixed {
        fn unit(&self) -> f64 {
            self.0
        }
    }

    #[test]
    fn full_jitter_grows_then_caps() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let top = Fixed(0.999_999);
        assert!(full_jitter(base, max, 1, &top) < Duration::from_millis(100));
        assert!(full_jitter(base, max, 3, &top) > Duration::from_millis(399));
        assert!(full_jitter(base, max, 30, &top) <= max);
        assert_eq!(full_jitter(base, max, 5, &Fixed(0.0)), Duration::ZERO);
    }

    #[test]
    fn waiter_delay_stays_between_min_and_max() {
        let (min, max) = (Duration::from_secs(2), Duration::from_secs(30));
        assert_eq!(waiter_delay(min, max, 1, &Fixed(0.9)), min);
        assert_eq!(waiter_delay(min, max, 3, &Fixed(0.0)), min);
        let high = waiter_delay(min, max, 3, &Fixed(0.999_999));
        assert!(high > Duration::from_millis(7_999) && high <= Duration::from_secs(8));
        assert_eq!(waiter_delay(min, max, 40, &Fixed(1.0)), max);
    }
}
