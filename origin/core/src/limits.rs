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

/// Sliding logs by `(scope, limit, network)`, each with the rule it counts under.
#[derive(Default)]
pub struct NetworkLimits {
    state: Mutex<Logs>,
}

#[derive(Default)]
struct Logs {
    logs: HashMap<String, (SlidingLog, RateRule)>,
    last_sweep_ms: u64,
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
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.logs.len() >= SWEEP_AT && now_ms >= state.last_sweep_ms + SWEEP_EVERY_MS {
            // Forget every log with no hit inside its own window: it would allow the next
            // request anyway. At most once a second, so a full map costs one walk per second.
            state.last_sweep_ms = now_ms;
            state
                .logs
                .retain(|_, (log, rule)| !log.is_idle(now_ms, *rule));
            if state.logs.len() >= HARD_CAP {
                // More live networks than memory should hold: start over. Every network then
                // has a fresh budget here, and the edge's counters still hold.
                tracing::warn!(networks = state.logs.len(), "per-network counters reset");
                state.logs.clear();
            }
        }
        let key = format!("{scope}/{}", object_name(limit, network));
        let (log, counted_under) = state
            .logs
            .entry(key)
            .or_insert_with(|| (SlidingLog::default(), rule));
        *counted_under = rule;
        log.hit(now_ms, rule)
            .map_err(|retry_after| Problem::RateLimited { retry_after })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().unwrap().logs.len()
    }
}

/// Keys kept before idle ones are swept, and the most kept at all.
const SWEEP_AT: usize = 50_000;
const HARD_CAP: usize = 200_000;
const SWEEP_EVERY_MS: u64 = 1_000;

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
    fn idle_networks_are_forgotten_by_their_own_window_once_the_map_is_large() {
        let limits = NetworkLimits::default();
        let minute = RateRule {
            max: 5,
            window_secs: 60,
        };
        for n in 0..SWEEP_AT {
            limits
                .hit("public", Limit::SignIn, minute, &format!("n{n}"), 0)
                .unwrap();
        }
        assert_eq!(limits.len(), SWEEP_AT);
        // A minute later every one of them is idle under its own rule.
        limits
            .hit("public", Limit::SignIn, minute, "late", 60_000)
            .unwrap();
        assert_eq!(limits.len(), 1);
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
