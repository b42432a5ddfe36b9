//! Upload sniffing and storage keys. Any bytes get a type without a panic; a type accepted as
//! an image is one of the four image types and is safe to serve inline; any key either fails
//! to parse or round-trips.

#![no_main]

use libfuzzer_sys::fuzz_target;
use origin::storage::{self, Sniffed};

fuzz_target!(|data: &[u8]| {
    let sniffed = Sniffed::from_head(data);
    if sniffed.is_accepted_image() {
        assert!(
            ["image/png", "image/jpeg", "image/gif", "image/webp"].contains(&sniffed.mime),
            "{sniffed:?}"
        );
        assert!(Sniffed::is_inline_safe(sniffed.mime));
    }
    if let Ok(key) = std::str::from_utf8(data) {
        if let Some((sha256, ext)) = storage::parse_key(key) {
            assert_eq!(storage::key_of(sha256, ext), key);
        }
    }
});
