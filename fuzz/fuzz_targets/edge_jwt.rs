//! JWT parsing at the edge: the header, the key set, the signature and the claims. Any string
//! is refused or verified without a panic; only a token signed by the published key verifies,
//! and the isolate's cache of verified tokens always agrees with verifying afresh.

#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edge::jwt::{self, KeySet, VerifiedTokens};
use libfuzzer_sys::fuzz_target;

/// The key set publishing the public half of a fixed test key.
fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let public = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let x = URL_SAFE_NO_PAD.encode(public.to_bytes());
        let jwks = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":"{x}"}}]}}"#);
        KeySet::from_jwks(jwks.as_bytes()).expect("the fixed JWKS parses")
    })
}

fuzz_target!(|data: &[u8]| {
    // Arbitrary JWKS documents never panic.
    let _ = KeySet::from_jwks(data);
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let keys = keys();
    let _ = jwt::key_id(token);
    let fresh = jwt::verify(token, keys);
    let mut cache = VerifiedTokens::default();
    assert_eq!(cache.verify(token, keys), fresh);
    assert_eq!(cache.verify(token, keys), fresh);
    if let Ok(claims) = fresh {
        // Validating arbitrary claims must not panic either.
        let _ = claims.validate(1_800_000_000, shared::claims::TokenType::Access, 0);
    }
});
