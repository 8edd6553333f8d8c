//! The delay curves: exponential backoff for request retries, and the poll delay every wait
//! (the client's waiters and the runner's wait steps) uses.

use std::time::Duration;

use super::environment::Random;

/// Exponential backoff with full jitter: `random(0, min(max, base · 2^(attempt-1)))`.
/// `attempt` counts from 1.
pub fn full_jitter(base: Duration, max: Duration, attempt: u32, random: &dyn Random) -> Duration {
    share_of(exponential(base, max, attempt), random.unit())
}

/// The delay before a wait's next poll: a tenth of the time already waited, kept between
/// `min` and `max`, then shortened at random by up to a tenth, never below `min`.
///
/// Tying the delay to the time waited rather than to the poll count keeps the lateness in
/// proportion: whatever a wait polls for is seen within `max(min, min(max, T/10))` of
/// happening `T` into the wait, and a long wait costs about `T/max` polls. The jitter keeps
/// waits started together from polling in step; it only ever shortens a delay, so it cannot
/// break that bound.
pub fn poll_delay(min: Duration, max: Duration, waited: Duration, random: &dyn Random) -> Duration {
    // `min` wins over a shorter `max` (`Duration::clamp` would panic on it).
    let delay = (waited / WAITED_SHARE).min(max).max(min);
    let jitter = share_of(delay / JITTER_SHARE, random.unit());
    delay.saturating_sub(jitter).max(min)
}

/// The delay is this fraction (1/n) of the time already waited.
const WAITED_SHARE: u32 = 10;

/// Jitter takes at most this fraction (1/n) off a delay.
const JITTER_SHARE: u32 = 10;

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
        assert_eq!(exponential(base, max, 10_000), max);
    }

    #[test]
    fn poll_delay_is_a_tenth_of_the_time_waited_between_min_and_max() {
        let (min, max) = (Duration::from_secs(2), Duration::from_secs(30));
        let none = Fixed(0.0);
        let delay = |waited_secs| poll_delay(min, max, Duration::from_secs(waited_secs), &none);
        assert_eq!(delay(0), min);
        assert_eq!(delay(19), min);
        assert_eq!(delay(20), min);
        assert_eq!(delay(45), Duration::from_millis(4_500));
        assert_eq!(delay(300), max);
        assert_eq!(delay(3_600), max);
    }

    #[test]
    fn jitter_only_shortens_a_delay_by_up_to_a_tenth_and_never_below_min() {
        let (min, max) = (Duration::from_secs(2), Duration::from_secs(30));
        let most = Fixed(0.999_999_999);
        let waited = Duration::from_secs(100);
        assert_eq!(
            poll_delay(min, max, waited, &Fixed(0.5)),
            Duration::from_millis(9_500)
        );
        let shortest = poll_delay(min, max, waited, &most);
        assert!(shortest > Duration::from_secs(9) && shortest < Duration::from_secs(10));
        assert_eq!(
            poll_delay(min, max, Duration::from_secs(3_600), &Fixed(0.5)),
            Duration::from_millis(28_500)
        );
        // At `min` there is nothing to take off, and just above it jitter stops at `min`.
        assert_eq!(poll_delay(min, max, Duration::ZERO, &most), min);
        assert_eq!(poll_delay(min, max, Duration::from_secs(21), &most), min);
    }

    #[test]
    fn poll_delay_keeps_min_when_max_is_shorter() {
        let (min, max) = (Duration::from_millis(10), Duration::ZERO);
        for waited in [Duration::ZERO, Duration::from_secs(1), Duration::MAX] {
            assert_eq!(poll_delay(min, max, waited, &Fixed(0.5)), min);
        }
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
                }
            }
        }
    }

    #[test]
    fn poll_delays_saturate_for_huge_durations() {
        let huge = [
            Duration::MAX,
            Duration::MAX - Duration::from_nanos(1),
            Duration::from_secs(u64::MAX / 2),
            Duration::from_secs(1 << 53),
        ];
        for random in [Fixed(0.0), Fixed(0.999_999_999_999_999_9), Fixed(1.0)] {
            for waited in huge
                .iter()
                .copied()
                .chain([Duration::ZERO, Duration::from_nanos(1)])
            {
                for (min, max) in [
                    (Duration::MAX, Duration::MAX),
                    (Duration::from_nanos(1), Duration::MAX),
                    (Duration::from_millis(10), Duration::MAX),
                    (Duration::from_secs(2), Duration::from_secs(30)),
                    (Duration::ZERO, Duration::ZERO),
                ] {
                    let delay = poll_delay(min, max, waited, &random);
                    let clamped = (waited / 10).min(max).max(min);
                    assert!(delay >= min && delay <= clamped, "{waited:?}: {delay:?}");
                    assert!(delay >= clamped - clamped / 10, "{waited:?}: {delay:?}");
                }
            }
        }
    }

    #[test]
    fn poll_delays_stay_capped_over_ten_thousand_polls() {
        let (min, max) = (Duration::from_millis(10), Duration::from_secs(30));
        let mut waited = Duration::ZERO;
        for poll in 1..=10_000 {
            let delay = poll_delay(min, max, waited, &Fixed(0.5));
            assert!(delay >= min && delay <= max, "poll {poll}: {delay:?}");
            waited += delay;
        }
    }
}
