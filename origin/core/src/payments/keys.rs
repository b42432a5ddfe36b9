//! RSA keys for the gateways (SHA256withRSA, PKCS#1 v1.5, as both Alipay's RSA2 and WeChat Pay's
//! `WECHATPAY2-SHA256-RSA2048` use it), read from PEM files, signed and checked with `ring`.
//! Neither key type shows its material in `Debug`.

use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};

/// A merchant's private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
pub struct PrivateKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(REDACTED)")
    }
}

impl PrivateKey {
    /// Reads a PEM file; `what` names the setting in errors.
    pub fn from_file(path: &Path, what: &str) -> anyhow::Result<PrivateKey> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{what}: reading {}", path.display()))?;
        PrivateKey::from_pem(&text).with_context(|| format!("{what}: {}", path.display()))
    }

    pub fn from_pem(text: &str) -> anyhow::Result<PrivateKey> {
        let (label, der) = pem_block(text)?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            other => bail!("want an RSA private key (PKCS#8 or PKCS#1 PEM), found `{other}`"),
        }
        .map_err(|error| anyhow::anyhow!("not a usable RSA private key: {error}"))?;
        Ok(PrivateKey {
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// SHA256withRSA over `message`, base64 (standard alphabet, padded).
    pub fn sign(&self, message: &[u8]) -> String {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                message,
                &mut signature,
            )
            .expect("RSA signing with a loaded key does not fail");
        STANDARD.encode(signature)
    }
}

/// A gateway's public key: SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, what both consoles hand
/// out), PKCS#1 (`BEGIN RSA PUBLIC KEY`), or the bare base64 of the SubjectPublicKeyInfo that
/// Alipay's console shows.
#[derive(Clone)]
pub struct PublicKey {
    /// The PKCS#1 `RSAPublicKey`, what `ring` verifies with.
    pkcs1: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublicKey(..)")
    }
}

impl PublicKey {
    pub fn from_file(path: &Path, what: &str) -> anyhow::Result<PublicKey> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{what}: reading {}", path.display()))?;
        PublicKey::from_pem(&text).with_context(|| format!("{what}: {}", path.display()))
    }

    pub fn from_pem(text: &str) -> anyhow::Result<PublicKey> {
        let (label, der) = if text.contains("-----BEGIN") {
            pem_block(text)?
        } else {
            let bare: String = text.split_whitespace().collect();
            let der = STANDARD
                .decode(bare)
                .context("want a PEM public key or its bare base64")?;
            ("PUBLIC KEY".to_owned(), der)
        };
        let pkcs1 = match label.as_str() {
            "PUBLIC KEY" => {
                let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
                    .map_err(|error| anyhow::anyhow!("not a public key: {error}"))?;
                if info.algorithm.oid != RSA_ENCRYPTION {
                    bail!("not an RSA public key");
                }
                info.subject_public_key.raw_bytes().to_vec()
            }
            "RSA PUBLIC KEY" => der,
            other => bail!("want an RSA public key, found `{other}`"),
        };
        Ok(PublicKey { pkcs1 })
    }

    /// Does `signature` (base64) sign `message` with this key (SHA256withRSA)?
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.pkcs1)
            .verify(message, &signature)
            .is_ok()
    }
}

const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The first PEM block of `text` (text before it, like a warning line, is skipped).
fn pem_block(text: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN").context("no PEM block")?;
    let (label, der) = pem_rfc7468::decode_vec(text[start..].trim().as_bytes())
        .map_err(|error| anyhow::anyhow!("bad PEM: {error}"))?;
    Ok((label.to_owned(), der))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap()
    }

    #[test]
    fn pkcs1_and_pkcs8_forms_of_one_key_sign_alike_and_verify_with_its_public_key() {
        let pkcs1 = PrivateKey::from_pem(&fixture("alipay/TEST-ONLY-app-private-key.pkcs1.pem"));
        let pkcs8 = PrivateKey::from_pem(&fixture("alipay/TEST-ONLY-app-private-key.pkcs8.pem"));
        let (pkcs1, pkcs8) = (pkcs1.unwrap(), pkcs8.unwrap());
        let signature = pkcs1.sign(b"message");
        assert_eq!(signature, pkcs8.sign(b"message"));
        let public = PublicKey::from_pem(&fixture("alipay/TEST-ONLY-app-public-key.pem")).unwrap();
        assert!(public.verify(b"message", &signature));
        assert!(!public.verify(b"messagf", &signature));
        let other =
            PublicKey::from_pem(&fixture("alipay/TEST-ONLY-alipay-public-key.pem")).unwrap();
        assert!(!other.verify(b"message", &signature));
        assert_eq!(format!("{pkcs1:?}"), "PrivateKey(REDACTED)");
    }

    #[test]
    fn a_bare_base64_public_key_reads_like_its_pem() {
        let pem = fixture("alipay/TEST-ONLY-alipay-public-key.pem");
        let bare: String = pem
            .lines()
            .skip_while(|line| !line.starts_with("-----BEGIN"))
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert_eq!(
            PublicKey::from_pem(&bare).unwrap().pkcs1,
            PublicKey::from_pem(&pem).unwrap().pkcs1
        );
    }

    #[test]
    fn what_is_not_a_key_is_a_clear_error() {
        let error = PrivateKey::from_pem(&fixture("alipay/TEST-ONLY-app-public-key.pem"));
        assert!(error.unwrap_err().to_string().contains("PUBLIC KEY"));
        assert!(PublicKey::from_pem("not a key").is_err());
    }
}
