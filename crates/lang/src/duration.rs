//! The durations a runbook writes: a number and a unit, repeated (`90s`, `1h 30m`).
//!
//! The units are `ms`, `s`, `m`, `h` and `d` and their long spellings. Units whose length
//! varies or that read as something else are refused with a hint: `M` is a month to
//! humantime but a minute to most readers, and a month or a year is never what a timeout
//! means.

use std::time::Duration;

use crate::limits::MAX_DURATION;

/// Why a text is not a duration, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotADuration {
    pub message: String,
    pub help: String,
}

const EXAMPLES: &str = "write e.g. `30s`, `5m`, `1h 30m` (units: ms, s, m, h, d)";

/// Milliseconds per unit, by every spelling accepted.
fn unit_millis(unit: &str) -> Option<u64> {
    Some(match unit {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    })
}

/// What to write instead of a unit that is refused.
fn refused_unit_hint(unit: &str) -> String {
    match unit {
        "M" => "`M` is a month in some tools and a minute in others; write minutes as `m`".into(),
        "month" | "months" | "mon" | "y" | "year" | "years" | "yr" | "yrs" => {
            "months and years are not runbook durations; write days, e.g. `30d`".into()
        }
        "w" | "week" | "weeks" => "write weeks as days, e.g. `7d`".into(),
        "us" | "usec" | "µs" | "ns" | "nsec" => "the shortest unit is `ms`".into(),
        _ => EXAMPLES.into(),
    }
}

/// Parses a duration as a runbook writes it, at most [`MAX_DURATION`].
pub fn parse(text: &str) -> Result<Duration, NotADuration> {
    let not = |message: String, help: String| NotADuration { message, help };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(not("an empty duration".into(), EXAMPLES.into()));
    }
    let mut total: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(not(
                format!("`{text}` is not a duration: expected a number at `{rest}`"),
                EXAMPLES.into(),
            ));
        }
        let (number, after) = rest.split_at(digits);
        if after.starts_with(['.', ',']) {
            return Err(not(
                format!("`{text}` is not a duration: the numbers are whole"),
                "write fractions in a smaller unit, e.g. `1h 30m` for an hour and a half".into(),
            ));
        }
        let after = after.trim_start();
        let unit_len = after.len() - after.trim_start_matches(|c: char| c.is_alphabetic()).len();
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(not(
                format!("`{text}` is not a duration: `{number}` has no unit"),
                EXAMPLES.into(),
            ));
        }
        let Some(per_unit) = unit_millis(unit) else {
            return Err(not(
                format!("`{text}` is not a duration: unknown unit `{unit}`"),
                refused_unit_hint(unit),
            ));
        };
        let too_long = || {
            not(
                format!(
                    "`{text}` is longer than {}, the longest duration a runbook may give",
                    format(MAX_DURATION)
                ),
                "a wait that long is a mistake; split the work into runs".into(),
            )
        };
        let amount = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit))
            .ok_or_else(too_long)?;
        total = total.checked_add(amount).ok_or_else(too_long)?;
        if Duration::from_millis(total) > MAX_DURATION {
            return Err(too_long());
        }
        rest = after.trim_start();
    }
    Ok(Duration::from_millis(total))
}

/// A duration as a runbook would write it: `1h 30m`, `250ms`, `0s`.
pub fn format(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if millis >= size {
            parts.push(format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn accepts_the_five_units_and_their_long_spellings() {
        assert_eq!(parse("250ms"), Ok(ms(250)));
        assert_eq!(parse("30s"), Ok(ms(30_000)));
        assert_eq!(parse(" 1h 30m "), Ok(ms(5_400_000)));
        assert_eq!(parse("2 hours 5 minutes"), Ok(ms(7_500_000)));
        assert_eq!(parse("1d12h"), Ok(ms(129_600_000)));
        assert_eq!(parse("7days"), Ok(ms(604_800_000)));
    }

    #[test]
    fn refuses_months_years_weeks_and_capital_m_with_a_hint() {
        for (text, hint) in [
            ("20M", "minutes as `m`"),
            ("1y", "write days"),
            ("2months", "write days"),
            ("1w", "`7d`"),
            ("5us", "`ms`"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.message.contains("unknown unit"), "{text}: {error:?}");
            assert!(error.help.contains(hint), "{text}: {error:?}");
        }
    }

    #[test]
    fn refuses_what_overflows_or_passes_the_longest() {
        assert!(parse("99999999999h").is_err());
        assert!(parse("99999999999999999999999s").is_err());
        assert!(parse("366d").is_err());
        assert_eq!(parse("365d"), Ok(MAX_DURATION));
    }

    #[test]
    fn refuses_a_number_without_unit_and_junk() {
        assert!(parse("1h30").unwrap_err().message.contains("has no unit"));
        assert!(parse("").is_err());
        assert!(parse("h").is_err());
        assert!(parse("1.5h").unwrap_err().message.contains("whole"));
    }

    #[test]
    fn formats_as_written() {
        assert_eq!(format(ms(5_400_000)), "1h 30m");
        assert_eq!(format(ms(250)), "250ms");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(MAX_DURATION), "365d");
        for text in ["1h 30m", "250ms", "365d", "1d 2h 3m 4s 5ms"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
