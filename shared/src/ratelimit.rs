//! Exact per-key rate limiting, the arithmetic both sides share: a sliding log of hit times.
//! The edge keeps one per `limit:network` in a Durable Object; the origin keeps them in memory.
//! Rules are written `max/window_seconds` and read from the same `RATE_LIMIT_*` names on both
//! sides, so one setting moves both counters.

use serde::{Deserialize, Serialize};

use crate::policy::{Limit, RateRule};

/// The hits of one key inside the current window, oldest first, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingLog {
    pub hits: Vec<u64>,
}

impl SlidingLog {
    /// Records a hit if the rule allows it; otherwise returns the seconds until it would.
    pub fn hit(&mut self, now_ms: u64, rule: RateRule) -> Result<(), u64> {
        let window_ms = u64::from(rule.window_secs) * 1000;
        self.hits.retain(|&at| at + window_ms > now_ms);
        if self.hits.len() >= rule.max as usize {
            let oldest = self.hits.first().copied().unwrap_or(now_ms);
            let wait_ms = (oldest + window_ms).saturating_sub(now_ms);
            return Err(wait_ms.div_ceil(1000).max(1));
        }
        self.hits.push(now_ms);
        Ok(())
    }

    /// Whether every hit has left the window (the log can be forgotten).
    pub fn is_idle(&self, now_ms: u64, rule: RateRule) -> bool {
        let window_ms = u64::from(rule.window_secs) * 1000;
        self.hits.iter().all(|&at| at + window_ms <= now_ms)
    }
}

/// Parses a rule written `max/window_secs` (e.g. `10/60`), as in `wrangler.toml` `[vars]` and
/// the origin's environment.
pub fn parse_rule(raw: &str) -> Option<RateRule> {
    let (max, window) = raw.trim().split_once('/')?;
    let rule = RateRule {
        max: max.trim().parse().ok()?,
        window_secs: window.trim().parse().ok()?,
    };
    (rule.max > 0 && rule.window_secs > 0).then_some(rule)
}

/// The variable holding a limit's rule (`RATE_LIMIT_SIGNIN`, …), the same name at the edge
/// (`[vars]`) and at the origin (environment).
pub fn var_name(limit: Limit) -> String {
    format!("RATE_LIMIT_{}", limit.name().to_ascii_uppercase())
}

/// The counter's key for a limit and a client network (see [`crate::net::client_network`]).
pub fn object_name(limit: Limit, network: &str) -> String {
    format!("{}:{network}", limit.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_PER_MINUTE: RateRule = RateRule {
        max: 1,
        window_secs: 60,
    };

    #[test]
    fn the_window_slides_and_says_how_long_to_wait() {
        let mut log = SlidingLog::default();
        assert_eq!(log.hit(1_000, ONE_PER_MINUTE), Ok(()));
        assert_eq!(log.hit(31_000, ONE_PER_MINUTE), Err(30));
        assert_eq!(log.hit(60_500, ONE_PER_MINUTE), Err(1));
        assert!(!log.is_idle(60_500, ONE_PER_MINUTE));
        assert!(log.is_idle(61_000, ONE_PER_MINUTE));
        assert_eq!(log.hit(61_000, ONE_PER_MINUTE), Ok(()));
        assert_eq!(log.hits, vec![61_000]);
    }

    #[test]
    fn refused_hits_are_not_counted() {
        let rule = RateRule {
            max: 2,
            window_secs: 10,
        };
        let mut log = SlidingLog::default();
        for at in [0, 1, 2, 3, 4] {
            let _ = log.hit(at * 1000, rule);
        }
        assert_eq!(log.hits, vec![0, 1000]);
        assert_eq!(log.hit(10_000, rule), Ok(()));
    }

    #[test]
    fn rules_parse_from_vars_and_nonsense_is_rejected() {
        assert_eq!(
            parse_rule("10/60"),
            Some(RateRule {
                max: 10,
                window_secs: 60
            })
        );
        assert_eq!(
            parse_rule(" 1 / 60 "),
            Some(RateRule {
                max: 1,
                window_secs: 60
            })
        );
        assert_eq!(parse_rule("0/60"), None);
        assert_eq!(parse_rule("ten"), None);
        assert_eq!(var_name(Limit::Captcha), "RATE_LIMIT_CAPTCHA");
        assert_eq!(var_name(Limit::SignIn), "RATE_LIMIT_SIGNIN");
        assert_eq!(object_name(Limit::Sms, "1.2.3.4"), "sms:1.2.3.4");
    }
}
