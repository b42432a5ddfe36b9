//! The origin's clock and how times are shown.

use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds since the Unix epoch (rate-limit windows).
pub fn now_ms() -> u64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}

/// RFC 3339 with the configured offset, e.g. `2026-11-21T10:00:00+08:00`. A time the offset
/// would carry past year 9999 (stored from `9999-12-31T23:00:00Z`) is shown in UTC rather than
/// failing the whole answer.
pub fn format(unix_seconds: i64, offset: UtcOffset) -> String {
    let at =
        OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.checked_to_offset(offset)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A time a client or admin wrote: RFC 3339, or `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DD` in the
/// configured offset (a bare date means the end of that day).
pub fn parse(raw: &str, offset: UtcOffset) -> Option<i64> {
    let raw = raw.trim();
    if let Ok(at) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(at.unix_timestamp());
    }
    let date_time =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    if let Ok(at) = time::PrimitiveDateTime::parse(raw, &date_time) {
        return Some(at.assume_offset(offset).unix_timestamp());
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(raw, &date).ok()?;
    let end = day.with_hms(23, 59, 59).ok()?;
    Some(end.assume_offset(offset).unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_configured_offset() {
        let offset = UtcOffset::from_hms(8, 0, 0).unwrap();
        let two_am_utc = time::macros::datetime!(2026-11-21 02:00 UTC).unix_timestamp();
        assert_eq!(format(two_am_utc, offset), "2026-11-21T10:00:00+08:00");
    }

    #[test]
    fn the_last_hours_of_year_9999_are_shown_in_utc_not_a_panic() {
        let offset = UtcOffset::from_hms(8, 0, 0).unwrap();
        let last = parse("9999-12-31T23:00:00Z", offset).unwrap();
        assert_eq!(format(last, offset), "9999-12-31T23:00:00Z");
        assert_eq!(format(i64::MAX, offset), "1970-01-01T08:00:00+08:00");
    }

    #[test]
    fn written_times_parse_in_the_configured_offset() {
        let offset = UtcOffset::from_hms(8, 0, 0).unwrap();
        let two_am_utc = time::macros::datetime!(2026-11-21 02:00 UTC).unix_timestamp();
        assert_eq!(parse("2026-11-21T10:00:00+08:00", offset), Some(two_am_utc));
        assert_eq!(parse("2026-11-21 10:00:00", offset), Some(two_am_utc));
        assert_eq!(
            parse("2026-11-21", offset),
            Some(two_am_utc + 14 * 3600 - 1)
        );
        assert_eq!(parse("tomorrow", offset), None);
        assert_eq!(parse("2026-02-30", offset), None);
    }
}
