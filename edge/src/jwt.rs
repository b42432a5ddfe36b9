//! EdDSA JWT verification for the edge. It is written against `ed25519-dalek` directly rather
//! than `jsonwebtoken`, whose `rust_crypto` backend links RSA and ECDSA code the edge never
//! runs and would push the wasm past its size budget. Only `alg = EdDSA` exists here, so the
//! algorithm is pinned by construction; the claims are then checked by `shared`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use shared::claims::Claims;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    WrongAlgorithm,
    UnknownKey,
    BadSignature,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The origin's public keys by `kid`, as read from its JWKS.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, VerifyingKey>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: String,
    #[serde(default)]
    kty: String,
    #[serde(default)]
    crv: String,
    x: String,
}

impl KeySet {
    /// Reads a JWKS document, keeping the Ed25519 keys and ignoring any other kind.
    pub fn from_jwks(document: &[u8]) -> Result<KeySet, JwtError> {
        let jwks: Jwks = serde_json::from_slice(document).map_err(|_| JwtError::Malformed)?;
        let keys = jwks
            .keys
            .into_iter()
            .filter(|jwk| jwk.kty == "OKP" && jwk.crv == "Ed25519")
            .filter_map(|jwk| {
                let raw: [u8; 32] = URL_SAFE_NO_PAD.decode(&jwk.x).ok()?.try_into().ok()?;
                Some((jwk.kid, VerifyingKey::from_bytes(&raw).ok()?))
            })
            .collect();
        Ok(KeySet { keys })
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}

/// The `kid` a token names, if its header is readable and says EdDSA.
pub fn key_id(token: &str) -> Result<String, JwtError> {
    let header_b64 = token.split('.').next().ok_or(JwtError::Malformed)?;
    let header: Header = decode_part(header_b64)?;
    if header.alg != "EdDSA" {
        return Err(JwtError::WrongAlgorithm);
    }
    header.kid.ok_or(JwtError::UnknownKey)
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// Verifies the signature with the key the token names and returns its claims (unchecked:
/// the caller validates them with `shared::claims::Claims::validate`).
pub fn verify(token: &str, keys: &KeySet) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let kid = key_id(token)?;
    let key = keys.keys.get(&kid).ok_or(JwtError::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| JwtError::Malformed)?;
    let signature = Signature::from_slice(&signature).map_err(|_| JwtError::Malformed)?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    key.verify_strict(signed.as_bytes(), &signature)
        .map_err(|_| JwtError::BadSignature)?;
    decode_part(payload_b64)
}

/// Tokens whose signature this isolate has already checked, by token string, with their
/// claims. Only the signature work is saved: the caller still validates the claims (expiry
/// included) and checks revocation on every request, so nothing a revocation does is
/// weakened. Emptied whenever the key set is fetched again, and when full.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: HashMap<String, Claims>,
}

impl VerifiedTokens {
    pub const CAPACITY: usize = 4_096;

    /// [`verify`], remembering a token that passes.
    pub fn verify(&mut self, token: &str, keys: &KeySet) -> Result<Claims, JwtError> {
        if let Some(claims) = self.entries.get(token) {
            return Ok(claims.clone());
        }
        let claims = verify(token, keys)?;
        if self.entries.len() >= Self::CAPACITY {
            self.entries.clear();
        }
        self.entries.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::json;
    use shared::claims::{AUDIENCE, ISSUER, TokenType};

    use super::*;

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn sign(key: &SigningKey, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let signed = format!("{}.{}", b64(header), b64(claims));
        let signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn claims() -> serde_json::Value {
        json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "7", "iat": 1, "exp": 2, "jti": "j", "sid": "s", "typ": "access", "adm": false })
    }

    fn keys_for(key: &SigningKey, kid: &str) -> KeySet {
        let jwks = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()) }] });
        KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_token_signed_by_a_published_key_verifies_and_yields_its_claims() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let token = sign(
            &key,
            &json!({ "alg": "EdDSA", "typ": "JWT", "kid": "k1" }),
            &claims(),
        );
        let verified = verify(&token, &keys_for(&key, "k1")).unwrap();
        assert_eq!(verified.sub, "7");
        assert_eq!(verified.typ, TokenType::Access);
    }

    #[test]
    fn other_algorithms_unknown_keys_and_tampering_are_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let keys = keys_for(&key, "k1");
        let hs256 = sign(&key, &json!({ "alg": "HS256", "kid": "k1" }), &claims());
        assert_eq!(verify(&hs256, &keys).unwrap_err(), JwtError::WrongAlgorithm);
        let none = sign(&key, &json!({ "alg": "none", "kid": "k1" }), &claims());
        assert_eq!(verify(&none, &keys).unwrap_err(), JwtError::WrongAlgorithm);
        let unknown = sign(&key, &json!({ "alg": "EdDSA", "kid": "k2" }), &claims());
        assert_eq!(verify(&unknown, &keys).unwrap_err(), JwtError::UnknownKey);
        let other_key = SigningKey::from_bytes(&[4; 32]);
        let forged = sign(
            &other_key,
            &json!({ "alg": "EdDSA", "kid": "k1" }),
            &claims(),
        );
        assert_eq!(verify(&forged, &keys).unwrap_err(), JwtError::BadSignature);
        let good = sign(&key, &json!({ "alg": "EdDSA", "kid": "k1" }), &claims());
        let mut parts: Vec<&str> = good.split('.').collect();
        let altered = b64(&json!({ "sub": "8" }));
        parts[1] = &altered;
        assert_eq!(
            verify(&parts.join("."), &keys).unwrap_err(),
            JwtError::BadSignature
        );
        assert_eq!(verify("a.b", &keys).unwrap_err(), JwtError::Malformed);
        assert_eq!(verify("", &keys).unwrap_err(), JwtError::Malformed);
    }

    #[test]
    fn jwks_entries_of_other_kinds_are_ignored() {
        let jwks =
            json!({ "keys": [{ "kty": "RSA", "kid": "r", "x": "", "n": "x", "e": "AQAB" }] });
        let keys = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
        assert!(!keys.contains("r"));
        assert!(KeySet::from_jwks(b"not json").is_err());
    }

    #[test]
    fn the_isolate_cache_remembers_only_tokens_that_verified() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let keys = keys_for(&key, "k1");
        let header = json!({ "alg": "EdDSA", "kid": "k1" });
        let good = sign(&key, &header, &claims());
        let forged = sign(&SigningKey::from_bytes(&[4; 32]), &header, &claims());
        let mut cache = VerifiedTokens::default();
        for _ in 0..2 {
            assert_eq!(
                cache.verify(&good, &keys).unwrap(),
                verify(&good, &keys).unwrap()
            );
            assert_eq!(
                cache.verify(&forged, &keys).unwrap_err(),
                JwtError::BadSignature
            );
            assert_eq!(cache.len(), 1);
        }
        // Known tokens are answered without the key set: a new set empties the cache first.
        assert!(cache.verify(&good, &KeySet::default()).is_ok());
        cache.clear();
        assert_eq!(
            cache.verify(&good, &KeySet::default()).unwrap_err(),
            JwtError::UnknownKey
        );
    }
}
