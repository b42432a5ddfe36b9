//! Rendering image captchas with the `captcha` crate.

use captcha::Captcha;
use captcha::filters::{Dots, Noise, Wave};

use crate::error::{Error, Result};

/// Returns the answer and a PNG of it.
pub fn render() -> Result<(String, Vec<u8>)> {
    let mut captcha = Captcha::new();
    captcha
        .add_chars(5)
        .apply_filter(Noise::new(0.2))
        .apply_filter(Wave::new(2.0, 12.0))
        .apply_filter(Dots::new(6))
        .view(200, 70);
    captcha
        .as_tuple()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("captcha rendering failed")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn captchas_render_as_png_with_a_five_character_answer() {
        let (answer, png) = super::render().unwrap();
        assert_eq!(answer.chars().count(), 5);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
