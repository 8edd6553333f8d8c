//! The two backoff curves, shared by request retries, waiters and (later) the runner's polls.

use std::time::Duration;

use super::environment::Random;

/// Exponential backoff with full jitter: `random(0, min(max, base · 2^(attempt-1)))`.
/// `attempt` counts from 1.
pub fn full_jitter(base: Duration, max: Duration, attempt: u32, random: &dyn Random) -> Duration {
    share_of(exponential(base, max, attempt), random.unit())
}

/// Smithy's waiter delay: `random(min, min · 2^(attempt-1))`, capped at `max`.
pub fn waiter_delay(min: Duration, max: Duration, attempt: u32, random: &dyn Random) -> Duration {
    let top = exponential(min, max, attempt);
    min.saturating_add(share_of(top.saturating_sub(min), random.unit()))
}

/// Exponential backoff without jitter: `min(max, base · 2^(attempt-1))`.
pub fn exponential(base: Duration, max: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(32);
    base.saturating_mul(1u32 << doublings.min(31)).min(max)
}

/// `duration · fraction`, never more than `duration`. `Duration::mul_f64` panics when float
/// rounding carries a duration near `Duration::MAX` past it.
fn share_of(duration: Duration, fraction: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * fraction)
        .map_or(duration, |share| share.min(duration))
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

    #[test]
    fn no_attempt_count_or_duration_overflows() {
        for random in [Fixed(0.0), Fixed(0.999_999_999_999_999_9), Fixed(1.0)] {
            for attempt in [0, 1, 64, 10_000, u32::MAX] {
                for (base, max) in [
                    (Duration::MAX, Duration::MAX),
                    (Duration::from_secs(u64::MAX / 2), Duration::MAX),
                    (Duration::from_nanos(1), Duration::MAX),
                    (Duration::from_millis(10), Duration::MAX),
                    (Duration::ZERO, Duration::ZERO),
                ] {
                    assert!(exponential(base, max, attempt) <= max);
                    assert!(full_jitter(base, max, attempt, &random) <= max);
                    let delay = waiter_delay(base, max, attempt, &random);
                    assert!(delay >= base && delay <= max.max(base), "{delay:?}");
                }
            }
        }
    }

    #[test]
    fn poll_delays_stay_capped_over_ten_thousand_polls() {
        let (min, max) = (Duration::from_millis(10), Duration::from_secs(30));
        for poll in 1..=10_000 {
            let delay = waiter_delay(min, max, poll, &Fixed(0.5));
            assert!(delay >= min && delay <= max, "poll {poll}: {delay:?}");
        }
        assert_eq!(exponential(min, max, 10_000), max);
    }
}
