//! What the edge knows about one user: revoked sessions, revoked single tokens, and the data
//! version that keys their cached personal reads. One Durable Object per user holds it
//! (`glue::user_state`); isolates keep a copy for at most a second.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::invalidate::Instruction;

/// How long a revoked session is remembered: longer than any access token can live
/// (`ORIGIN_ACCESS_TTL` is at most 30 days), and the edge only ever checks access tokens.
pub const SESSION_RETENTION_SECS: i64 = 31 * 86_400;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSnapshot {
    #[serde(default)]
    pub version: u64,
    /// Session id → when it may be forgotten (Unix seconds).
    #[serde(default)]
    pub revoked_sessions: BTreeMap<String, i64>,
    /// Token id → its expiry (Unix seconds), after which it is dead anyway.
    #[serde(default)]
    pub revoked_tokens: BTreeMap<String, i64>,
}

impl UserSnapshot {
    /// Applies one instruction (for this user) and forgets entries that can no longer matter.
    pub fn apply(&mut self, instruction: &Instruction, now: i64) {
        match instruction {
            Instruction::Bump { .. } => self.version += 1,
            Instruction::RevokeSession { sid, .. } => {
                self.revoked_sessions
                    .insert(sid.clone(), now + SESSION_RETENTION_SECS);
                // A revoked session's cached reads must not be served either.
                self.version += 1;
            }
            Instruction::RevokeToken { jti, exp, .. } => {
                self.revoked_tokens
                    .insert(jti.clone(), *exp + shared::claims::LEEWAY_SECS);
            }
        }
        self.revoked_sessions.retain(|_, until| *until > now);
        self.revoked_tokens.retain(|_, until| *until > now);
    }

    pub fn is_revoked(&self, sid: &str, jti: &str) -> bool {
        self.revoked_sessions.contains_key(sid) || self.revoked_tokens.contains_key(jti)
    }
}

/// Groups instructions by user, keeping their order.
pub fn by_user(instructions: &[Instruction]) -> BTreeMap<i64, Vec<Instruction>> {
    let mut grouped: BTreeMap<i64, Vec<Instruction>> = BTreeMap::new();
    for instruction in instructions {
        grouped
            .entry(instruction.user())
            .or_default()
            .push(instruction.clone());
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_raise_the_version_and_revocations_are_remembered() {
        let mut snapshot = UserSnapshot::default();
        snapshot.apply(&Instruction::Bump { user: 1 }, 100);
        assert_eq!(snapshot.version, 1);
        snapshot.apply(
            &Instruction::RevokeSession {
                user: 1,
                sid: "s".into(),
            },
            100,
        );
        assert!(snapshot.is_revoked("s", "any"));
        assert!(!snapshot.is_revoked("other", "any"));
        assert_eq!(snapshot.version, 2);
        snapshot.apply(
            &Instruction::RevokeToken {
                user: 1,
                jti: "j".into(),
                exp: 200,
            },
            100,
        );
        assert!(snapshot.is_revoked("other", "j"));
    }

    #[test]
    fn entries_that_cannot_matter_any_more_are_forgotten() {
        let mut snapshot = UserSnapshot::default();
        snapshot.apply(
            &Instruction::RevokeToken {
                user: 1,
                jti: "j".into(),
                exp: 200,
            },
            100,
        );
        snapshot.apply(
            &Instruction::Bump { user: 1 },
            200 + shared::claims::LEEWAY_SECS + 1,
        );
        assert!(snapshot.revoked_tokens.is_empty());
        snapshot.apply(
            &Instruction::RevokeSession {
                user: 1,
                sid: "s".into(),
            },
            0,
        );
        snapshot.apply(&Instruction::Bump { user: 1 }, SESSION_RETENTION_SECS + 1);
        assert!(snapshot.revoked_sessions.is_empty());
    }

    #[test]
    fn instructions_are_grouped_per_user_in_order() {
        let grouped = by_user(&[
            Instruction::Bump { user: 2 },
            Instruction::Bump { user: 1 },
            Instruction::RevokeSession {
                user: 2,
                sid: "s".into(),
            },
        ]);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[&2].len(), 2);
        assert!(matches!(grouped[&2][1], Instruction::RevokeSession { .. }));
    }
}
