//! Where SMS and e-mail go (`ORIGIN_SMS_PROVIDER`, `ORIGIN_MAIL_PROVIDER` and each provider's
//! variables), and how the delivery worker retries. The README's "Going live" section says
//! where each value comes from.

use anyhow::{Context, bail};

use crate::config::Secret;

pub const ALIYUN_SMS_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com";
pub const TENCENT_SMS_ENDPOINT: &str = "https://sms.tencentcloudapi.com";
pub const TENCENT_SMS_REGION: &str = "ap-guangzhou";

#[derive(Debug, Clone)]
pub struct Settings {
    pub sms: SmsProvider,
    pub mail: MailProvider,
    /// Seconds before the first retry; each further failure doubles it, up to
    /// `retry_max_secs`.
    pub retry_first_secs: i64,
    pub retry_max_secs: i64,
    /// How long a notice (a message without a code) is retried before it is abandoned; a
    /// code is abandoned when it expires.
    pub notice_give_up_secs: i64,
    /// Each call to a provider (connect, send, answer) ends after this long.
    pub timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            sms: SmsProvider::Outbox,
            mail: MailProvider::Outbox,
            retry_first_secs: 2,
            retry_max_secs: 300,
            notice_give_up_secs: 86_400,
            timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone)]
pub enum SmsProvider {
    /// Development: the message goes to the `outbox` table, readable at `/admin/outbox`.
    Outbox,
    Aliyun(AliyunSms),
    Tencent(TencentSms),
}

#[derive(Debug, Clone)]
pub enum MailProvider {
    Outbox,
    Smtp(SmtpMail),
}

/// Aliyun SMS (`SendSms`, 2017-05-25, signed `ACS3-HMAC-SHA256`).
#[derive(Debug, Clone)]
pub struct AliyunSms {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub sign_name: String,
    /// A verification-code template with the variable `${code}`.
    pub template_code: String,
    /// A template without variables for notices (a sign-in method changed); without it SMS
    /// notices are logged as skipped.
    pub notice_template_code: Option<String>,
    /// Scheme and host, e.g. `https://dysmsapi.aliyuncs.com`.
    pub endpoint: String,
}

/// Tencent Cloud SMS (`SendSms`, 2021-01-11, signed `TC3-HMAC-SHA256`).
#[derive(Debug, Clone)]
pub struct TencentSms {
    pub secret_id: String,
    pub secret_key: Secret,
    pub app_id: String,
    pub sign_name: String,
    /// A verification-code template: `{1}` the code, `{2}` its lifetime in minutes.
    pub template_id: String,
    /// A template without parameters for notices; without it SMS notices are skipped.
    pub notice_template_id: Option<String>,
    pub region: String,
    pub endpoint: String,
}

/// SMTP through `lettre`.
#[derive(Debug, Clone)]
pub struct SmtpMail {
    /// lettre's URL form: `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`,
    /// `smtp://127.0.0.1:2525` (no TLS). A secret: it holds the password.
    pub url: Secret,
    /// The `From` mailbox, e.g. `会员中心 <no-reply@example.com>`.
    pub from: String,
    /// `ORIGIN_SMTP_CA_FILE`'s PEM certificates, trusted for the server's certificate besides
    /// the public roots (a relay with a certificate from a private CA); read at start-up.
    pub extra_roots: Option<Vec<u8>>,
}

impl SmsProvider {
    pub fn name(&self) -> &'static str {
        match self {
            SmsProvider::Outbox => "outbox",
            SmsProvider::Aliyun(_) => "aliyun",
            SmsProvider::Tencent(_) => "tencent",
        }
    }

    /// Whether SMS notices have a template to go by (the outbox takes any text).
    pub fn sends_notices(&self) -> bool {
        match self {
            SmsProvider::Outbox => true,
            SmsProvider::Aliyun(aliyun) => aliyun.notice_template_code.is_some(),
            SmsProvider::Tencent(tencent) => tencent.notice_template_id.is_some(),
        }
    }
}

impl MailProvider {
    pub fn name(&self) -> &'static str {
        match self {
            MailProvider::Outbox => "outbox",
            MailProvider::Smtp(_) => "smtp",
        }
    }
}

impl Settings {
    /// Reads the notification variables through `var` (unset and blank are the same).
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        if var("ORIGIN_NOTIFIER").is_some() {
            bail!(
                "ORIGIN_NOTIFIER is replaced by ORIGIN_SMS_PROVIDER (outbox|aliyun|tencent) and \
                 ORIGIN_MAIL_PROVIDER (outbox|smtp); unset it"
            );
        }
        let required = |name: &str| var(name).with_context(|| format!("{name} is required"));
        let sms = match var("ORIGIN_SMS_PROVIDER").as_deref() {
            None | Some("outbox") => SmsProvider::Outbox,
            Some("aliyun") => SmsProvider::Aliyun(AliyunSms {
                access_key_id: required("ORIGIN_ALIYUN_ACCESS_KEY_ID")?,
                access_key_secret: Secret::new(required("ORIGIN_ALIYUN_ACCESS_KEY_SECRET")?),
                sign_name: required("ORIGIN_ALIYUN_SMS_SIGN_NAME")?,
                template_code: required("ORIGIN_ALIYUN_SMS_TEMPLATE_CODE")?,
                notice_template_code: var("ORIGIN_ALIYUN_SMS_NOTICE_TEMPLATE_CODE"),
                endpoint: endpoint(
                    "ORIGIN_ALIYUN_SMS_ENDPOINT",
                    var("ORIGIN_ALIYUN_SMS_ENDPOINT"),
                    ALIYUN_SMS_ENDPOINT,
                )?,
            }),
            Some("tencent") => SmsProvider::Tencent(TencentSms {
                secret_id: required("ORIGIN_TENCENT_SECRET_ID")?,
                secret_key: Secret::new(required("ORIGIN_TENCENT_SECRET_KEY")?),
                app_id: required("ORIGIN_TENCENT_SMS_APP_ID")?,
                sign_name: required("ORIGIN_TENCENT_SMS_SIGN_NAME")?,
                template_id: required("ORIGIN_TENCENT_SMS_TEMPLATE_ID")?,
                notice_template_id: var("ORIGIN_TENCENT_SMS_NOTICE_TEMPLATE_ID"),
                region: var("ORIGIN_TENCENT_SMS_REGION")
                    .unwrap_or_else(|| TENCENT_SMS_REGION.into()),
                endpoint: endpoint(
                    "ORIGIN_TENCENT_SMS_ENDPOINT",
                    var("ORIGIN_TENCENT_SMS_ENDPOINT"),
                    TENCENT_SMS_ENDPOINT,
                )?,
            }),
            Some(other) => bail!("ORIGIN_SMS_PROVIDER={other}: want outbox, aliyun or tencent"),
        };
        let mail = match var("ORIGIN_MAIL_PROVIDER").as_deref() {
            None | Some("outbox") => MailProvider::Outbox,
            Some("smtp") => {
                let url = required("ORIGIN_SMTP_URL")?;
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    bail!("ORIGIN_SMTP_URL must start with smtp:// or smtps://");
                }
                let extra_roots = match var("ORIGIN_SMTP_CA_FILE") {
                    None => None,
                    Some(path) => Some(
                        std::fs::read(&path)
                            .with_context(|| format!("ORIGIN_SMTP_CA_FILE={path}: cannot read"))?,
                    ),
                };
                MailProvider::Smtp(SmtpMail {
                    url: Secret::new(url),
                    from: required("ORIGIN_MAIL_FROM")?,
                    extra_roots,
                })
            }
            Some(other) => bail!("ORIGIN_MAIL_PROVIDER={other}: want outbox or smtp"),
        };
        Ok(Settings {
            sms,
            mail,
            ..Settings::default()
        })
    }
}

/// A provider's base URL: scheme and host (and port), no path. A bare host means HTTPS.
fn endpoint(name: &str, raw: Option<String>, default: &str) -> anyhow::Result<String> {
    let Some(raw) = raw else {
        return Ok(default.to_owned());
    };
    let url = if raw.contains("://") {
        raw.clone()
    } else {
        format!("https://{raw}")
    };
    let url = url.trim_end_matches('/').to_owned();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| format!("{name}={raw}: want https://host"))?;
    if rest.is_empty() || rest.contains('/') {
        bail!("{name}={raw}: want a scheme and host only, e.g. {default}");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_env(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn nothing_configured_means_the_development_outbox() {
        let settings = read(&[]).unwrap();
        assert_eq!(settings.sms.name(), "outbox");
        assert_eq!(settings.mail.name(), "outbox");
    }

    #[test]
    fn a_real_provider_names_each_missing_variable_and_hides_its_secret() {
        let error = read(&[("ORIGIN_SMS_PROVIDER", "aliyun")]).unwrap_err();
        assert!(error.to_string().contains("ORIGIN_ALIYUN_ACCESS_KEY_ID"));
        let settings = read(&[
            ("ORIGIN_SMS_PROVIDER", "tencent"),
            ("ORIGIN_TENCENT_SECRET_ID", "AKIDtest"),
            ("ORIGIN_TENCENT_SECRET_KEY", "very-secret-key"),
            ("ORIGIN_TENCENT_SMS_APP_ID", "1400000000"),
            ("ORIGIN_TENCENT_SMS_SIGN_NAME", "会员中心"),
            ("ORIGIN_TENCENT_SMS_TEMPLATE_ID", "100001"),
            ("ORIGIN_TENCENT_SMS_ENDPOINT", "127.0.0.1:9000"),
        ])
        .unwrap();
        let SmsProvider::Tencent(tencent) = &settings.sms else {
            panic!("tencent expected");
        };
        assert_eq!(tencent.endpoint, "https://127.0.0.1:9000");
        assert_eq!(tencent.region, TENCENT_SMS_REGION);
        assert!(!format!("{settings:?}").contains("very-secret-key"));
        assert!(read(&[("ORIGIN_NOTIFIER", "outbox")]).is_err());
        assert!(
            read(&[
                ("ORIGIN_MAIL_PROVIDER", "smtp"),
                ("ORIGIN_SMTP_URL", "http://x")
            ])
            .is_err()
        );
        assert!(
            read(&[
                ("ORIGIN_SMS_PROVIDER", "aliyun"),
                ("ORIGIN_ALIYUN_SMS_ENDPOINT", "https://a/b")
            ])
            .is_err()
        );
    }
}
