//! Codes waiting for delivery are kept sealed (AES-256-GCM, a fresh nonce each) under a key
//! derived from the code pepper, so the database, its WAL, snapshots and replicas never hold a
//! plaintext code; the worker opens one only to send it, and the row drops it once sent or
//! abandoned.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::Secret;
use crate::error::{Error, Result};
use crate::ids;

pub struct Seal {
    key: LessSafeKey,
    random: SystemRandom,
}

impl Seal {
    pub fn new(pepper: &Secret) -> Seal {
        let derived = hex::decode(ids::keyed_hash(pepper.expose(), "delivery-seal-v1"))
            .expect("a keyed hash is hex");
        let key = UnboundKey::new(&AES_256_GCM, &derived).expect("32 bytes make an AES-256 key");
        Seal {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        }
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)`.
    pub fn seal(&self, plaintext: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| Error::Internal(anyhow::anyhow!("no randomness for a nonce")))?;
        let mut sealed = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| Error::Internal(anyhow::anyhow!("sealing a code failed")))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// The plaintext, or `None` when the value was not sealed by this key (another pepper).
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = rest.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .ok()?;
        String::from_utf8(plaintext.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_code_opens_only_with_its_own_pepper_and_never_shows_in_the_clear() {
        let seal = Seal::new(&Secret::new("pepper"));
        let sealed = seal.seal("482913").unwrap();
        assert!(!sealed.contains("482913"));
        assert_ne!(
            sealed,
            seal.seal("482913").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(seal.open(&sealed).as_deref(), Some("482913"));
        assert_eq!(Seal::new(&Secret::new("other")).open(&sealed), None);
        assert_eq!(seal.open("not base64!"), None);
    }
}
