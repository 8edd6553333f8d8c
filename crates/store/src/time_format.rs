//! Timestamps as the store keeps them.
//!
//! Callers hand RFC 3339 strings in any offset and precision (the runner's `rfc3339` trims
//! trailing zeros). The store rewrites each to UTC with exactly six fractional digits, so text
//! order is time order: `ORDER BY started_at` and `finished_at < ?` are right without parsing.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::StoreError;

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

/// `2025-01-02T03:04:05.000006Z`: fixed width, UTC.
fn format(time: OffsetDateTime) -> Option<String> {
    let utc = time.checked_to_offset(UtcOffset::UTC)?;
    // Every event's time passes through here; written digit by digit it costs a tenth of
    // the general formatter (`STORED`, which the tests hold it to).
    let year = u32::try_from(utc.year())
        .ok()
        .filter(|year| *year <= 9999)?;
    let mut out = String::with_capacity(27);
    let fields = [
        (year, 4, '-'),
        (u32::from(u8::from(utc.month())), 2, '-'),
        (u32::from(utc.day()), 2, 'T'),
        (u32::from(utc.hour()), 2, ':'),
        (u32::from(utc.minute()), 2, ':'),
        (u32::from(utc.second()), 2, '.'),
        (utc.microsecond(), 6, 'Z'),
    ];
    for (value, width, then) in fields {
        for place in (0..width).rev() {
            let digit = value / 10_u32.pow(place) % 10;
            out.push(char::from(b'0' + u8::try_from(digit).ok()?));
        }
        out.push(then);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::format_description;

    const STORED: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

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
    fn the_stored_form_is_what_the_general_formatter_writes() {
        for text in [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2026-12-04T06:16:06.932115214Z",
            "2024-02-29T12:00:00.000001+05:30",
            "1999-12-31T23:59:60Z",
            "2025-06-30T00:00:00.5-10:00",
        ] {
            let time = OffsetDateTime::parse(text, &Rfc3339).unwrap();
            let general = time.to_offset(UtcOffset::UTC).format(STORED).unwrap();
            assert_eq!(format(time).as_deref(), Some(general.as_str()), "{text}");
        }
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
