//! Money: integer cents inside, a string with two decimals on the wire.

use crate::Problem;

/// `1250` → `"12.50"`, `-5` → `"-0.05"`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses `"12"`, `"12.5"`, `"12.50"` or `"-3.00"` into cents. More than two decimals, an
/// exponent, or anything that is not a plain decimal number is refused.
pub fn parse_cents(field: &str, raw: &str) -> Result<i64, Problem> {
    let invalid = || Problem::invalid(field, format!("{field} 必须是最多两位小数的金额"));
    let raw = raw.trim();
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || fraction.len() > 2 {
        return Err(invalid());
    }
    if !all_digits(whole) || !all_digits(fraction) || (digits.contains('.') && fraction.is_empty())
    {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let cents = whole * 100 + fraction;
    Ok(if negative { -cents } else { cents })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_format_with_two_decimals() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(1250), "12.50");
        assert_eq!(format_cents(-5), "-0.05");
    }

    #[test]
    fn money_strings_parse_to_cents_and_junk_is_refused() {
        assert_eq!(parse_cents("price", "12").unwrap(), 1200);
        assert_eq!(parse_cents("price", "12.5").unwrap(), 1250);
        assert_eq!(parse_cents("price", "-0.05").unwrap(), -5);
        for junk in [
            "",
            "1.234",
            "1e3",
            "abc",
            "1.",
            ".5",
            "--1",
            "1 2",
            "9999999999999",
        ] {
            assert!(parse_cents("price", junk).is_err(), "{junk}");
        }
    }
}
