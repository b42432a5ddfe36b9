//! Instructions from the origin to the edge: bump a user's data version (dropping their cached
//! personal reads) and revoke sessions or single tokens. They travel in the
//! `x-edge-invalidate` response header (writes through the edge) or in the body of a request to
//! the edge's internal invalidation endpoint (writes that did not pass through the edge).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Instruction {
    /// The user's data changed: cached personal reads of theirs are stale.
    Bump { user: i64 },
    /// Every token of this session is refused from now on.
    RevokeSession { user: i64, sid: String },
    /// One access token is refused from now on (until `exp`, after which it is dead anyway).
    RevokeToken { user: i64, jti: String, exp: i64 },
}

impl Instruction {
    pub fn user(&self) -> i64 {
        match self {
            Instruction::Bump { user }
            | Instruction::RevokeSession { user, .. }
            | Instruction::RevokeToken { user, .. } => *user,
        }
    }
}

/// Encodes instructions as compact JSON (ASCII-only, so it is a valid header value).
pub fn encode(instructions: &[Instruction]) -> String {
    serde_json::to_string(instructions).unwrap_or_else(|_| "[]".into())
}

pub fn decode(raw: &str) -> Result<Vec<Instruction>, serde_json::Error> {
    serde_json::from_str(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_round_trip_as_ascii_json() {
        let instructions = vec![
            Instruction::Bump { user: 7 },
            Instruction::RevokeSession {
                user: 7,
                sid: "abc".into(),
            },
            Instruction::RevokeToken {
                user: 7,
                jti: "j1".into(),
                exp: 99,
            },
        ];
        let encoded = encode(&instructions);
        assert!(encoded.is_ascii());
        assert_eq!(decode(&encoded).unwrap(), instructions);
        assert!(encoded.contains(r#""op":"revoke_session""#));
    }
}
