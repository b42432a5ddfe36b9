//! Per-client-network limits counted at the origin (SPEC §6), the second of the two counters
//! (the edge's Durable Objects are the first). The sign-in family is counted here, in memory:
//! the origin is one process, and a restart forgetting a minute's counts costs nothing the edge
//! does not still hold. Code and captcha requests are counted in their own tables instead, which
//! survive restarts (`db::codes`, `db::captchas`).

use std::collections::HashMap;
use std::sync::Mutex;

use shared::Problem;
use shared::policy::{Limit, RateRule};
use shared::ratelimit::{SlidingLog, object_name};

/// Keys kept before idle ones are swept.
const SWEEP_AT: usize = 50_000;

/// The rule of every limit, from `RATE_LIMIT_*` (the names the edge reads) or the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRules(HashMap<Limit, RateRule>);

impl Default for RateRules {
    fn default() -> RateRules {
        RateRules(
            Limit::ALL
                .iter()
                .map(|limit| (*limit, limit.default_rule()))
                .collect(),
        )
    }
}

impl RateRules {
    pub fn rule(&self, limit: Limit) -> RateRule {
        self.0
            .get(&limit)
            .copied()
            .unwrap_or_else(|| limit.default_rule())
    }

    pub fn set(&mut self, limit: Limit, rule: RateRule) {
        self.0.insert(limit, rule);
    }
}

/// Sliding logs by `(scope, limit, network)`.
#[derive(Default)]
pub struct NetworkLimits {
    logs: Mutex<HashMap<String, SlidingLog>>,
}

impl NetworkLimits {
    /// Counts one request of `network` against `limit`; refuses it past the rule. `scope`
    /// separates listeners (the admin listener counts its own sign-ins).
    pub fn hit(
        &self,
        scope: &str,
        limit: Limit,
        rule: RateRule,
        network: &str,
        now_ms: u64,
    ) -> Result<(), Problem> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if logs.len() >= SWEEP_AT {
            // Windows are at most minutes long: a log with no hit inside the longest window of
            // any limit is empty for every rule.
            logs.retain(|_, log| !log.is_idle(now_ms, LONGEST));
        }
        let key = format!("{scope}/{}", object_name(limit, network));
        logs.entry(key)
            .or_default()
            .hit(now_ms, rule)
            .map_err(|retry_after| Problem::RateLimited { retry_after })
    }
}

/// Longer than any window an operator would configure; used only to sweep idle logs.
const LONGEST: RateRule = RateRule {
    max: 1,
    window_secs: 86_400,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_network_and_scope_has_its_own_budget() {
        let limits = NetworkLimits::default();
        let rule = RateRule {
            max: 2,
            window_secs: 60,
        };
        for _ in 0..2 {
            limits
                .hit("public", Limit::SignIn, rule, "203.0.113.1", 0)
                .unwrap();
        }
        assert_eq!(
            limits.hit("public", Limit::SignIn, rule, "203.0.113.1", 1_000),
            Err(Problem::RateLimited { retry_after: 59 })
        );
        assert!(
            limits
                .hit("public", Limit::SignIn, rule, "203.0.113.2", 1_000)
                .is_ok()
        );
        assert!(
            limits
                .hit("admin", Limit::SignIn, rule, "203.0.113.1", 1_000)
                .is_ok()
        );
        assert!(
            limits
                .hit("public", Limit::Register, rule, "203.0.113.1", 1_000)
                .is_ok()
        );
        assert!(
            limits
                .hit("public", Limit::SignIn, rule, "203.0.113.1", 60_000)
                .is_ok()
        );
    }

    #[test]
    fn rules_default_to_the_policy_table() {
        let mut rules = RateRules::default();
        assert_eq!(rules.rule(Limit::SignIn), Limit::SignIn.default_rule());
        let tight = RateRule {
            max: 1,
            window_secs: 5,
        };
        rules.set(Limit::SignIn, tight);
        assert_eq!(rules.rule(Limit::SignIn), tight);
    }
}
