//! Timestamps as the store keeps them.
//!
//! Callers hand RFC 3339 strings in any offset and precision (the runner's `rfc3339` trims
//! trailing zeros). The store rewrites each to UTC with exactly six fractional digits, so text
//! order is time order: `ORDER BY started_at` and `finished_at < ?` are right without parsing.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::StoreError;

/// `2025-01-02T03:04:05.000006Z`: fixed width, UTC.
const STORED: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Parses an RFC 3339 timestamp and returns it in the stored form.
pub(crate) fn normalize(field: &'static str, value: &str) -> Result<String, StoreError> {
    let invalid = || StoreError::InvalidTimestamp {
        field,
        value: value.to_owned(),
    };
    let parsed = OffsetDateTime::parse(value, &Rfc3339).map_err(|_| invalid())?;
    format(parsed).ok_or_else(invalid)
}

/// The current time in the stored form (for events that carry no `ts`).
pub(crate) fn now() -> String {
    let now = OffsetDateTime::now_utc();
    // Formatting a UTC time of this century cannot fail; the fallback keeps the column filled.
    format(now).unwrap_or_else(|| now.unix_timestamp().to_string())
}

fn format(time: OffsetDateTime) -> Option<String> {
    time.to_offset(UtcOffset::UTC).format(STORED).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_offsets_and_precision_so_text_order_is_time_order() {
        assert_eq!(
            normalize("t", "2025-01-02T03:04:05Z").unwrap(),
            "2025-01-02T03:04:05.000000Z"
        );
        assert_eq!(
            normalize("t", "2025-01-02T05:04:05.5+02:00").unwrap(),
            "2025-01-02T03:04:05.500000Z"
        );
        let earlier = normalize("t", "2025-01-02T03:04:05.9Z").unwrap();
        let later = normalize("t", "2025-01-02T03:04:05.10Z").unwrap();
        assert!(earlier > later, "0.9 s is after 0.1 s");
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
        let err = normalize("finished_at", "yesterday").unwrap_err();
        assert_eq!(
            err.to_string(),
            "finished_at is not an RFC 3339 timestamp: \"yesterday\""
        );
    }
}
