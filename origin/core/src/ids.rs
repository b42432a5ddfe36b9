//! Random identifiers, keyed hashes and constant-time comparison.

use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// A numeric code of `digits` digits (leading zeros kept).
pub fn random_digits(digits: usize) -> String {
    let mut rng = rand::rng();
    (0..digits)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// A business number (order, coupon): a letter for the kind, the Unix time, 8 random digits.
pub fn business_no(prefix: char, now: i64) -> String {
    format!("{prefix}{now}{}", random_digits(8))
}

/// HMAC-SHA256 of `message` keyed by `key`, as lower-case hex.
pub fn keyed_hash(key: &str, message: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub use shared::constant_time_eq;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_have_the_asked_shape() {
        assert_eq!(random_hex(16).len(), 32);
        let code = random_digits(6);
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(random_hex(16), random_hex(16));
    }

    #[test]
    fn keyed_hashes_depend_on_key_and_message() {
        assert_eq!(keyed_hash("k", "m"), keyed_hash("k", "m"));
        assert_ne!(keyed_hash("k", "m"), keyed_hash("k2", "m"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
