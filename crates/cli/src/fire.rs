//! Naming a schedule's fire: `--fire-key` as given, or `--fire-window` turned into the start
//! of the window the clock is in, so every host that fires within one window names the same
//! fire.

use std::time::Duration;

use time::OffsetDateTime;

/// The longest `--fire-key` taken (it is stored with every run).
const MAX_FIRE_KEY: usize = 200;

/// The fire a run is for: `key` as given, or the window of `window` that `now` is in.
pub fn fire(
    key: Option<&str>,
    window: Option<Duration>,
    now: OffsetDateTime,
) -> Result<Option<String>, String> {
    match (key, window) {
        (Some(key), _) => {
            let key = key.trim();
            if key.is_empty() {
                return Err("--fire-key is empty".to_owned());
            }
            if key.len() > MAX_FIRE_KEY {
                return Err(format!(
                    "--fire-key is {} bytes long; at most {MAX_FIRE_KEY}",
                    key.len()
                ));
            }
            Ok(Some(key.to_owned()))
        }
        (None, Some(window)) => window_start(window, now).map(Some),
        (None, None) => Ok(None),
    }
}

/// `2026-12-02T11:00:00Z/1h`: the window's start, aligned to whole windows since the Unix
/// epoch (so hours start on the hour, days at midnight UTC), and its length.
fn window_start(window: Duration, now: OffsetDateTime) -> Result<String, String> {
    let length = window.as_secs();
    if length == 0 || window.subsec_nanos() != 0 {
        return Err("--fire-window must be a whole number of seconds, at least 1s".to_owned());
    }
    let length = i64::try_from(length).map_err(|_| "--fire-window is too long".to_owned())?;
    let start = now.unix_timestamp().div_euclid(length) * length;
    let start = OffsetDateTime::from_unix_timestamp(start)
        .map_err(|error| format!("--fire-window: {error}"))?;
    let start = start
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|error| format!("--fire-window: {error}"))?;
    Ok(format!("{start}/{}", humantime::format_duration(window)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn hosts_firing_within_one_window_name_the_same_fire() {
        let early = fire(None, Some(HOUR), datetime!(2026-12-02 11:00:03 UTC)).unwrap();
        let late = fire(None, Some(HOUR), datetime!(2026-12-02 11:59:59 UTC)).unwrap();
        assert_eq!(early.as_deref(), Some("2026-12-02T11:00:00Z/1h"));
        assert_eq!(early, late);
        let next = fire(None, Some(HOUR), datetime!(2026-12-02 12:00:00 UTC)).unwrap();
        assert_eq!(next.as_deref(), Some("2026-12-02T12:00:00Z/1h"));
        let day = fire(None, Some(24 * HOUR), datetime!(2026-12-02 23:10:00 UTC)).unwrap();
        assert_eq!(day.as_deref(), Some("2026-12-02T00:00:00Z/1day"));
    }

    #[test]
    fn a_given_key_wins_and_bad_ones_are_refused() {
        let now = datetime!(2026-12-02 11:00:03 UTC);
        assert_eq!(
            fire(Some(" 2026-12-02T11:00 "), Some(HOUR), now).unwrap(),
            Some("2026-12-02T11:00".to_owned())
        );
        assert_eq!(fire(None, None, now).unwrap(), None);
        assert!(fire(Some("  "), None, now).is_err());
        assert!(fire(Some(&"x".repeat(201)), None, now).is_err());
        assert!(fire(None, Some(Duration::from_millis(1500)), now).is_err());
        assert!(fire(None, Some(Duration::ZERO), now).is_err());
    }
}
