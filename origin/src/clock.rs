//! The origin's clock and how times are shown.

use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// RFC 3339 with the configured offset, e.g. `2026-11-21T10:00:00+08:00`.
pub fn format(unix_seconds: i64, offset: UtcOffset) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
        .format(&Rfc3339)
        .unwrap_or_default()
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
}
