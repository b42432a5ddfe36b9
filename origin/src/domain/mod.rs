//! The one domain layer under both dialects. It takes plain values and returns plain values or
//! a dialect-free `Problem`; it knows nothing of envelopes or HTTP.

pub mod addresses;
pub mod admin;
pub mod comments;
pub mod commerce;
pub mod identity;
pub mod login_modes;
pub mod member;
pub mod profile;
pub mod uploads;

/// `Some(retry_after)` when `count` sends since the window opened reach `max`.
pub fn over_limit(
    count: u32,
    oldest: Option<i64>,
    max: u32,
    window_secs: i64,
    now: i64,
) -> Option<u64> {
    if count < max {
        return None;
    }
    let opens_again = oldest.unwrap_or(now) + window_secs;
    Some((opens_again - now).max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_reached_says_when_the_window_opens_again() {
        assert_eq!(over_limit(0, None, 1, 60, 1_000), None);
        assert_eq!(over_limit(1, Some(990), 1, 60, 1_000), Some(50));
        assert_eq!(over_limit(10, Some(900), 10, 60, 1_000), Some(1));
        assert_eq!(over_limit(9, Some(990), 10, 60, 1_000), None);
    }
}
