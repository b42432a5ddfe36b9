//! Ed25519 JWTs: the origin's signing key (generated into the data directory on first run),
//! its JWKS, signing / verifying tokens, and the cache of access tokens already verified.
//!
//! A token that passed both checks (signature, live session) is remembered
//! ([`VerifiedTokens`]) with the session epoch read before the session was: while the epoch
//! has not moved and the token has not expired, the same token string is the same caller, so
//! neither the signature nor the session table is read again. Any committed change that could
//! end a session moves the epoch before the change is acknowledged (`db` module), so
//! revocation is exactly as immediate as without the cache.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::claims::{AUDIENCE, ClaimError, Claims, ISSUER, TokenType};

use crate::db::sessions::Generation;

pub struct Keys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_x: String,
}

/// Why a presented token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT, wrong algorithm or key, or a bad signature.
    Malformed,
    Claims(ClaimError),
}

impl Keys {
    /// Loads the key from `data_dir/secrets/jwt_ed25519.seed`, creating it on first run.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Keys> {
        let seed = crate::config::read_or_create(data_dir, "jwt_ed25519.seed", || {
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            hex::encode(seed).into_bytes()
        })?;
        let seed =
            hex::decode(String::from_utf8(seed)?.trim()).context("jwt_ed25519.seed is not hex")?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| anyhow::anyhow!("jwt_ed25519.seed must be 32 bytes"))?;
        Keys::from_seed(&seed)
    }

    pub fn from_seed(seed: &[u8; 32]) -> anyhow::Result<Keys> {
        let signing = SigningKey::from_bytes(seed);
        let der = signing.to_pkcs8_der().context("encoding the signing key")?;
        let public = signing.verifying_key().to_bytes();
        let public_x = URL_SAFE_NO_PAD.encode(public);
        let kid = hex::encode(&Sha256::digest(public)[..8]);
        Ok(Keys {
            kid,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_components(&public_x)?,
            public_x,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
            "kid": self.kid, "x": self.public_x,
        }] })
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// The access and refresh tokens of a generation. Ed25519 signatures are deterministic, so
    /// signing the same generation twice gives the same strings.
    pub fn sign_generation(&self, generation: &Generation) -> anyhow::Result<(String, String)> {
        let claims = |typ, jti: &str, exp| Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: generation.user_id.to_string(),
            iat: generation.issued_at,
            exp,
            jti: jti.to_owned(),
            sid: generation.sid.clone(),
            typ,
            adm: generation.admin,
        };
        let access = self.sign(&claims(
            TokenType::Access,
            &generation.access_jti,
            generation.access_expires_at,
        ))?;
        let refresh = self.sign(&claims(
            TokenType::Refresh,
            &generation.refresh_jti,
            generation.refresh_expires_at,
        ))?;
        Ok((access, refresh))
    }

    /// Verifies signature (EdDSA only, this key only) and claims. `extra_life` extends `exp`
    /// (the store refresh window); it is 0 for ordinary requests.
    pub fn verify(
        &self,
        token: &str,
        expected: TokenType,
        now: i64,
        extra_life: i64,
    ) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::Malformed);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Claims are checked by `shared`, with the caller's clock and refresh window.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Malformed)?;
        data.claims
            .validate(now, expected, extra_life)
            .map_err(TokenError::Claims)?;
        Ok(data.claims)
    }
}

/// The user and live session an access token was verified for.
#[derive(Debug, Clone)]
pub struct VerifiedAccess {
    pub user_id: i64,
    pub sid: String,
    pub admin: bool,
}

/// Access tokens that were verified and found live, by token string.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    access: VerifiedAccess,
    expires_at: i64,
    epoch: u64,
}

impl VerifiedTokens {
    /// At most this many tokens are remembered; when full, the cache starts over.
    pub const CAPACITY: usize = 16_384;

    /// What `token` was verified as, if that happened at `epoch` and it is still live.
    pub fn get(&self, token: &str, now: i64, epoch: u64) -> Option<VerifiedAccess> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(token)?;
        (entry.epoch == epoch && now < entry.expires_at).then(|| entry.access.clone())
    }

    pub fn put(&self, token: &str, access: VerifiedAccess, expires_at: i64, epoch: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= Self::CAPACITY
            || entries.values().next().is_some_and(|v| v.epoch != epoch)
        {
            // A moved epoch makes every entry useless.
            entries.clear();
        }
        entries.insert(
            token.to_owned(),
            Entry {
                access,
                expires_at,
                epoch,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(now: i64) -> Generation {
        Generation {
            sid: "s1".into(),
            user_id: 9,
            admin: false,
            generation: 1,
            access_jti: "a1".into(),
            refresh_jti: "r1".into(),
            issued_at: now,
            access_expires_at: now + 100,
            refresh_expires_at: now + 1000,
        }
    }

    #[test]
    fn signing_is_deterministic_and_tokens_verify_by_type() {
        let keys = Keys::from_seed(&[7; 32]).unwrap();
        let (access, refresh) = keys.sign_generation(&generation(1_000)).unwrap();
        assert_eq!(
            keys.sign_generation(&generation(1_000)).unwrap(),
            (access.clone(), refresh.clone())
        );
        assert_eq!(
            keys.verify(&access, TokenType::Access, 1_001, 0)
                .unwrap()
                .sub,
            "9"
        );
        assert_eq!(
            keys.verify(&refresh, TokenType::Access, 1_001, 0),
            Err(TokenError::Claims(ClaimError::WrongType))
        );
        assert_eq!(
            keys.verify(&access, TokenType::Access, 1_200, 0),
            Err(TokenError::Claims(ClaimError::Expired))
        );
    }

    #[test]
    fn a_token_signed_by_another_key_or_tampered_with_is_malformed() {
        let keys = Keys::from_seed(&[7; 32]).unwrap();
        let other = Keys::from_seed(&[8; 32]).unwrap();
        let (access, _) = other.sign_generation(&generation(1_000)).unwrap();
        assert_eq!(
            keys.verify(&access, TokenType::Access, 1_001, 0),
            Err(TokenError::Malformed)
        );
        let (mine, _) = keys.sign_generation(&generation(1_000)).unwrap();
        let mut tampered = mine.clone();
        tampered.pop();
        tampered.push(if mine.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            keys.verify(&tampered, TokenType::Access, 1_001, 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            keys.verify("not.a.jwt", TokenType::Access, 1_001, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn the_jwks_publishes_the_kid_and_the_public_key_only() {
        let keys = Keys::from_seed(&[7; 32]).unwrap();
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"][0]["kid"], keys.kid());
        assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
        assert!(jwks["keys"][0].get("d").is_none());
    }
}
