//! Input validation shared by both dialects (SPEC §4). Each check names the field it failed.

use crate::Problem;

pub const NAME_MAX_CHARS: usize = 32;
pub const TEXT_MAX_CHARS: usize = 1000;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 64;

/// Mainland mobile `^1[3-9][0-9]{9}$` or E.164 `^\+[1-9][0-9]{6,14}$`, as written (no
/// spaces or dashes). [`canonical_phone`] is what the API accepts.
pub fn is_phone(raw: &str) -> bool {
    is_mainland_mobile(raw) || is_e164(raw)
}

fn is_mainland_mobile(raw: &str) -> bool {
    match raw.as_bytes() {
        [b'1', second, rest @ ..] => {
            (b'3'..=b'9').contains(second) && rest.len() == 9 && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

fn is_e164(raw: &str) -> bool {
    match raw.as_bytes() {
        [b'+', first, rest @ ..] => {
            (b'1'..=b'9').contains(first)
                && (6..=14).contains(&rest.len())
                && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// One handset is one phone (SPEC §4): spaces and dashes are dropped, and a mainland mobile
/// written `+86…`, `0086…` or `86…` (13 digits) becomes its 11 digits. Every phone the API
/// stores, compares or counts is in this form; `None` if it is not a phone at all.
pub fn canonical_phone(raw: &str) -> Option<String> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    let mainland = ["+86", "0086", "86"]
        .iter()
        .filter_map(|prefix| compact.strip_prefix(prefix))
        .find(|rest| is_mainland_mobile(rest));
    if let Some(mobile) = mainland {
        return Some(mobile.to_owned());
    }
    is_phone(&compact).then_some(compact)
}

/// One `@`, a non-empty local part, a dotted domain of sane characters, at most 254 chars.
pub fn is_email(raw: &str) -> bool {
    if raw.len() > EMAIL_MAX_CHARS || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let mut parts = raw.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    !local.is_empty() && local.len() <= 64 && domain.contains('.') && labels_ok
}

/// The shape of an account name, as the documents state it (see [`is_account_name`]).
pub const ACCOUNT_NAME_PATTERN: &str = "^[A-Za-z0-9]{3,32}$";

/// Account names: [`ACCOUNT_NAME_PATTERN`], and not a phone number in any accepted spelling
/// (`8613912345678` is a phone), so that a sign-in name can never mean two users.
pub fn is_account_name(raw: &str) -> bool {
    (3..=32).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_alphanumeric())
        && canonical_phone(raw).is_none()
}

/// Validates a phone and returns its canonical form ([`canonical_phone`]).
pub fn phone(field: &str, raw: &str) -> Result<String, Problem> {
    if let Some(phone) = canonical_phone(raw) {
        Ok(phone)
    } else {
        Err(Problem::BadAccountFormat {
            field: field.into(),
            message: "手机号格式不正确".into(),
        })
    }
}

/// Validates an e-mail address and returns it lower-cased (addresses are unique ignoring case).
pub fn email(field: &str, raw: &str) -> Result<String, Problem> {
    let trimmed = raw.trim();
    if is_email(trimmed) {
        Ok(trimmed.to_lowercase())
    } else {
        Err(Problem::BadAccountFormat {
            field: field.into(),
            message: "邮箱格式不正确".into(),
        })
    }
}

pub fn account_name(field: &str, raw: &str) -> Result<String, Problem> {
    if is_account_name(raw) {
        Ok(raw.to_owned())
    } else {
        Err(Problem::invalid(
            field,
            "账号只能是 3 到 32 位英文字母或数字，且不能是手机号",
        ))
    }
}

pub fn password(field: &str, raw: &str) -> Result<String, Problem> {
    let chars = raw.chars().count();
    if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        Ok(raw.to_owned())
    } else {
        Err(Problem::invalid(field, "密码长度必须是 8 到 64 个字符"))
    }
}

/// A required free-text field: trimmed, not empty, at most `max_chars` characters.
pub fn text(field: &str, raw: &str, max_chars: usize) -> Result<String, Problem> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Problem::invalid(field, format!("{field} 不能为空")));
    }
    if trimmed.chars().count() > max_chars {
        return Err(Problem::invalid(
            field,
            format!("{field} 不能超过 {max_chars} 个字符"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_mainland_mobiles_or_e164() {
        for good in [
            "13800138000",
            "19912345678",
            "+8613800138000",
            "+4420794600",
        ] {
            assert!(is_phone(good), "{good}");
        }
        for bad in [
            "12800138000",
            "1380013800",
            "138001380001",
            "+0123456789",
            "+12345",
            "abc",
            "",
        ] {
            assert!(!is_phone(bad), "{bad}");
        }
    }

    #[test]
    fn emails_need_one_at_and_a_dotted_domain() {
        assert!(is_email("a@b.cn"));
        assert!(is_email("first.last+tag@mail.example.com"));
        for bad in [
            "a@b", "a@@b.cn", "@b.cn", "a@.cn", "a b@c.cn", "a@b..cn", "a@-b.cn",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(!is_email(&format!("{}@b.cn", "a".repeat(260))));
    }

    #[test]
    fn email_is_lower_cased_and_bad_format_is_the_account_format_problem() {
        assert_eq!(email("email", " A@B.cn ").unwrap(), "a@b.cn");
        assert!(matches!(
            email("email", "nope"),
            Err(Problem::BadAccountFormat { .. })
        ));
        assert!(matches!(
            phone("phone", "123"),
            Err(Problem::BadAccountFormat { .. })
        ));
    }

    #[test]
    fn account_names_are_alphanumeric_3_to_32_and_never_phone_shaped() {
        assert!(is_account_name("abc"));
        assert!(is_account_name("User2026"));
        assert!(!is_account_name("ab"));
        assert!(!is_account_name(&"a".repeat(33)));
        assert!(!is_account_name("user_name"));
        assert!(!is_account_name("13800138000"));
        assert!(!is_account_name("8613800138000"));
        assert!(!is_account_name("008613800138000"));
    }

    #[test]
    fn one_handset_has_one_canonical_form() {
        for spelling in [
            "13912345678",
            "+8613912345678",
            "008613912345678",
            "8613912345678",
            " 139 1234 5678 ",
            "139-1234-5678",
            "+86 139-1234-5678",
        ] {
            assert_eq!(
                canonical_phone(spelling).as_deref(),
                Some("13912345678"),
                "{spelling}"
            );
        }
        // Other countries keep E.164; a +86 landline is not a mobile and stays E.164 too.
        assert_eq!(
            canonical_phone("+44 20 7946 0000").as_deref(),
            Some("+442079460000")
        );
        assert_eq!(
            canonical_phone("+861012345678").as_deref(),
            Some("+861012345678")
        );
        for bad in [
            "86139123456789",
            "0086",
            "+86",
            "139 1234 567",
            "1391234567x",
            "",
        ] {
            assert_eq!(canonical_phone(bad), None, "{bad}");
        }
        assert_eq!(phone("phone", "+8613912345678").unwrap(), "13912345678");
    }

    #[test]
    fn passwords_are_8_to_64_characters_counted_as_characters() {
        assert!(password("password", "1234567").is_err());
        assert!(password("password", "12345678").is_ok());
        assert!(password("password", &"密".repeat(64)).is_ok());
        assert!(password("password", &"x".repeat(65)).is_err());
    }

    #[test]
    fn text_is_trimmed_required_and_bounded() {
        assert_eq!(text("name", "  Ann ", 32).unwrap(), "Ann");
        assert!(text("name", "   ", 32).is_err());
        assert!(text("name", &"名".repeat(33), 32).is_err());
    }
}
