//! What both stores share about leases: durations in the database's unit, and the words for
//! a lease too short to act under.

use std::time::Duration;

/// `duration` in whole milliseconds, saturating (a lease of centuries is still "long").
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Why a fence that needs `outlast` refuses a lease with `left_ms` to run.
pub(crate) fn lease_too_short(left_ms: i64, outlast: Duration) -> String {
    if left_ms <= 0 {
        return format!("its lease ran out {} ms ago", left_ms.saturating_neg());
    }
    format!(
        "its lease has {left_ms} ms left, less than the {} ms the request may take",
        outlast.as_millis()
    )
}
