//! JWT claims and their pure validation. Signature checking is the caller's (the edge and the
//! origin both use `jsonwebtoken` with the algorithm pinned to EdDSA); everything about the
//! claims themselves is decided here, with `now` passed in.

use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "member-platform-origin";
pub const AUDIENCE: &str = "member-platform-api";
/// Clock skew tolerated on `exp` and `iat`, in seconds (SPEC §6: 30 s at most).
pub const LEEWAY_SECS: i64 = 30;
/// The refresh window is this many access lifetimes (SPEC §2/§3).
pub const REFRESH_FACTOR: i64 = 10;
/// A spent refresh token presented again within this many seconds gets the same successor.
pub const REFRESH_GRACE_SECS: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id, as a decimal string.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session (one sign-in) the token descends from.
    pub sid: String,
    pub typ: TokenType,
    /// Whether the token was issued by an `is_admin` sign-in.
    #[serde(default)]
    pub adm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    WrongIssuer,
    WrongAudience,
    WrongType,
    Expired,
    IssuedInTheFuture,
    BadSubject,
}

impl Claims {
    /// The user id, if `sub` is a positive integer.
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse::<i64>().ok().filter(|id| *id > 0)
    }

    /// Checks everything but the signature. `extra_life` extends `exp` (the store dialect's
    /// refresh accepts an access token up to the refresh window past its expiry); it is 0 for
    /// ordinary requests.
    pub fn validate(
        &self,
        now: i64,
        expected: TokenType,
        extra_life: i64,
    ) -> Result<i64, ClaimError> {
        if self.iss != ISSUER {
            return Err(ClaimError::WrongIssuer);
        }
        if self.aud != AUDIENCE {
            return Err(ClaimError::WrongAudience);
        }
        if self.typ != expected {
            return Err(ClaimError::WrongType);
        }
        if now
            > self
                .exp
                .saturating_add(extra_life)
                .saturating_add(LEEWAY_SECS)
        {
            return Err(ClaimError::Expired);
        }
        if self.iat > now.saturating_add(LEEWAY_SECS) {
            return Err(ClaimError::IssuedInTheFuture);
        }
        self.user_id().ok_or(ClaimError::BadSubject)
    }
}

/// The token a request presents, from the print dialect's `token` header or, failing that, an
/// `Authorization: Bearer` header (both dialects accept both).
pub fn presented_token<'a>(
    token_header: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(token) = token_header {
        return Some(token.trim()).filter(|t| !t.is_empty());
    }
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_token_header_or_a_bearer_authorization() {
        assert_eq!(presented_token(Some(" abc "), None), Some("abc"));
        assert_eq!(presented_token(None, Some("Bearer xyz")), Some("xyz"));
        assert_eq!(presented_token(None, Some("bearer  xyz ")), Some("xyz"));
        assert_eq!(presented_token(None, Some("Basic xyz")), None);
        assert_eq!(presented_token(Some(""), Some("Bearer xyz")), None);
        assert_eq!(presented_token(None, None), None);
    }

    fn claims(typ: TokenType) -> Claims {
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "42".into(),
            iat: 1_000,
            exp: 1_000 + 7_200,
            jti: "j".into(),
            sid: "s".into(),
            typ,
            adm: false,
        }
    }

    #[test]
    fn a_fresh_access_token_is_valid_and_names_its_user() {
        assert_eq!(
            claims(TokenType::Access).validate(1_001, TokenType::Access, 0),
            Ok(42)
        );
    }

    #[test]
    fn expiry_allows_thirty_seconds_of_leeway_and_no_more() {
        let c = claims(TokenType::Access);
        assert!(c.validate(c.exp + 30, TokenType::Access, 0).is_ok());
        assert_eq!(
            c.validate(c.exp + 31, TokenType::Access, 0),
            Err(ClaimError::Expired)
        );
    }

    #[test]
    fn the_refresh_window_extends_an_access_tokens_life_only_when_asked() {
        let c = claims(TokenType::Access);
        let window = 7_200 * REFRESH_FACTOR;
        assert!(
            c.validate(c.exp + window, TokenType::Access, window)
                .is_ok()
        );
        assert_eq!(
            c.validate(c.exp + window + 31, TokenType::Access, window),
            Err(ClaimError::Expired)
        );
    }

    #[test]
    fn wrong_type_issuer_audience_and_subject_are_refused() {
        let access = claims(TokenType::Access);
        assert_eq!(
            access.validate(1_001, TokenType::Refresh, 0),
            Err(ClaimError::WrongType)
        );
        let mut c = access.clone();
        c.iss = "someone-else".into();
        assert_eq!(
            c.validate(1_001, TokenType::Access, 0),
            Err(ClaimError::WrongIssuer)
        );
        let mut c = access.clone();
        c.aud = "other".into();
        assert_eq!(
            c.validate(1_001, TokenType::Access, 0),
            Err(ClaimError::WrongAudience)
        );
        let mut c = access.clone();
        c.sub = "-3".into();
        assert_eq!(
            c.validate(1_001, TokenType::Access, 0),
            Err(ClaimError::BadSubject)
        );
        let mut c = access;
        c.iat = 5_000;
        assert_eq!(
            c.validate(1_001, TokenType::Access, 0),
            Err(ClaimError::IssuedInTheFuture)
        );
    }
}
