//! The payment settings (`ORIGIN_PAYMENTS`, `ORIGIN_PUBLIC_BASE_URL`, `ORIGIN_ALIPAY_*`,
//! `ORIGIN_WECHATPAY_*`, `ORIGIN_PAY_RECONCILE_AFTER_SECS`,
//! `ORIGIN_PAY_RECONCILE_INTERVAL_SECS`), a field of `Config`. Key files are
//! only named here; `Providers::build` reads them, so a bad key stops the server at its start.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::Secret;

/// Where payments settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Development: both pay types settle through the HMAC sandbox.
    #[default]
    Sandbox,
    /// Real gateways, each pay type only if its provider is configured.
    Live,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// Where the gateways reach this service (`https://shop.example.com`): `notify_url`s are
    /// built from it.
    pub public_base_url: Option<String>,
    pub alipay: Option<AlipaySettings>,
    pub wechat: Option<WechatPaySettings>,
    /// A pending order older than this is asked about at its gateway (and again no sooner
    /// than this after each ask), until it is a day old.
    pub reconcile_after_secs: i64,
    /// The pause between the reconciliation task's passes in `origin serve`.
    pub reconcile_interval_secs: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            mode: Mode::Sandbox,
            public_base_url: None,
            alipay: None,
            wechat: None,
            reconcile_after_secs: 180,
            reconcile_interval_secs: 60,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AlipaySettings {
    pub app_id: String,
    /// The application's private key (PEM, PKCS#8 or PKCS#1).
    pub private_key: PathBuf,
    /// Alipay's public key (PEM, or the bare base64 the console shows).
    pub public_key: PathBuf,
    /// The gateway URL, `https://openapi.alipay.com/gateway.do` unless set.
    pub gateway: String,
}

#[derive(Debug, Clone)]
pub struct WechatPaySettings {
    pub mch_id: String,
    pub app_id: String,
    /// The serial number of the merchant API certificate whose key signs our calls.
    pub mch_serial: String,
    /// The merchant API private key (`apiclient_key.pem`).
    pub private_key: PathBuf,
    /// The 32-byte API v3 key that encrypts callbacks.
    pub api_v3_key: Secret,
    /// WeChat Pay's public key (PEM) and its id (`PUB_KEY_ID_…`).
    pub public_key: PathBuf,
    pub public_key_id: String,
    /// `https://api.mch.weixin.qq.com` unless set.
    pub api_base: String,
}

pub const ALIPAY_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
pub const WECHATPAY_API_BASE: &str = "https://api.mch.weixin.qq.com";

impl Settings {
    pub fn from_env(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let mut settings = Settings {
            mode: match var("ORIGIN_PAYMENTS").as_deref() {
                None | Some("sandbox") => Mode::Sandbox,
                Some("live") => Mode::Live,
                Some(other) => bail!("ORIGIN_PAYMENTS={other}: want `sandbox` or `live`"),
            },
            public_base_url: var("ORIGIN_PUBLIC_BASE_URL")
                .map(|url| url.trim().trim_end_matches('/').to_owned()),
            ..Settings::default()
        };
        if let Some(url) = &settings.public_base_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("ORIGIN_PUBLIC_BASE_URL={url}: want an absolute http(s) URL");
        }
        if let Some(secs) = var("ORIGIN_PAY_RECONCILE_AFTER_SECS") {
            settings.reconcile_after_secs = secs
                .trim()
                .parse()
                .ok()
                .filter(|secs| (1..=86_400).contains(secs))
                .context("ORIGIN_PAY_RECONCILE_AFTER_SECS: want seconds between 1 and 86400")?;
        }
        if let Some(secs) = var("ORIGIN_PAY_RECONCILE_INTERVAL_SECS") {
            settings.reconcile_interval_secs = secs
                .trim()
                .parse()
                .ok()
                .filter(|secs| (1..=3_600).contains(secs))
                .context("ORIGIN_PAY_RECONCILE_INTERVAL_SECS: want seconds between 1 and 3600")?;
        }
        let group = Group::read(var, ALIPAY_VARS);
        if let Some(values) = group.complete()? {
            settings.alipay = Some(AlipaySettings {
                app_id: values[0].clone(),
                private_key: values[1].clone().into(),
                public_key: values[2].clone().into(),
                gateway: url_or(var("ORIGIN_ALIPAY_GATEWAY"), ALIPAY_GATEWAY),
            });
        }
        let group = Group::read(var, WECHATPAY_VARS);
        if let Some(values) = group.complete()? {
            if values[4].len() != 32 {
                bail!("ORIGIN_WECHATPAY_API_V3_KEY must be the 32-character API v3 key");
            }
            settings.wechat = Some(WechatPaySettings {
                mch_id: values[0].clone(),
                app_id: values[1].clone(),
                mch_serial: values[2].clone(),
                private_key: values[3].clone().into(),
                api_v3_key: Secret::new(values[4].clone()),
                public_key: values[5].clone().into(),
                public_key_id: values[6].clone(),
                api_base: url_or(var("ORIGIN_WECHATPAY_API_BASE"), WECHATPAY_API_BASE),
            });
        }
        let configured = settings.alipay.is_some() || settings.wechat.is_some();
        // Fail closed: live gateways configured while the mode stayed `sandbox` (unset) would
        // hand customers sandbox pay parameters and let the sandbox secret credit balances.
        if settings.mode == Mode::Sandbox && configured {
            bail!(
                "Alipay or WeChat Pay is configured (ORIGIN_ALIPAY_* / ORIGIN_WECHATPAY_*) but \
                 ORIGIN_PAYMENTS is not `live`: set ORIGIN_PAYMENTS=live, or remove those \
                 variables to keep the development sandbox"
            );
        }
        if settings.mode == Mode::Live && configured && settings.public_base_url.is_none() {
            bail!(
                "ORIGIN_PAYMENTS=live needs ORIGIN_PUBLIC_BASE_URL (the gateways' callbacks go to it)"
            );
        }
        Ok(settings)
    }
}

const ALIPAY_VARS: &[&str] = &[
    "ORIGIN_ALIPAY_APP_ID",
    "ORIGIN_ALIPAY_PRIVATE_KEY",
    "ORIGIN_ALIPAY_PUBLIC_KEY",
];

const WECHATPAY_VARS: &[&str] = &[
    "ORIGIN_WECHATPAY_MCH_ID",
    "ORIGIN_WECHATPAY_APP_ID",
    "ORIGIN_WECHATPAY_MCH_SERIAL",
    "ORIGIN_WECHATPAY_PRIVATE_KEY",
    "ORIGIN_WECHATPAY_API_V3_KEY",
    "ORIGIN_WECHATPAY_PUBLIC_KEY",
    "ORIGIN_WECHATPAY_PUBLIC_KEY_ID",
];

/// A provider's required variables: all of them, or none.
struct Group {
    names: &'static [&'static str],
    values: Vec<Option<String>>,
}

impl Group {
    fn read(var: &impl Fn(&str) -> Option<String>, names: &'static [&'static str]) -> Group {
        let values = names
            .iter()
            .map(|name| var(name).map(|v| v.trim().to_owned()))
            .collect();
        Group { names, values }
    }

    fn complete(self) -> anyhow::Result<Option<Vec<String>>> {
        let missing: Vec<&str> = self
            .names
            .iter()
            .zip(&self.values)
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| *name)
            .collect();
        if missing.len() == self.names.len() {
            return Ok(None);
        }
        if !missing.is_empty() {
            bail!(
                "payment provider half configured: also set {}",
                missing.join(", ")
            );
        }
        Ok(Some(self.values.into_iter().flatten().collect()))
    }
}

fn url_or(value: Option<String>, default: &str) -> String {
    value
        .map(|url| url.trim().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| default.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_env(&|name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_set_is_the_sandbox() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.mode, Mode::Sandbox);
        assert!(settings.alipay.is_none() && settings.wechat.is_none());
    }

    #[test]
    fn the_reconciliation_interval_is_a_minute_unless_set_and_refused_out_of_range() {
        assert_eq!(settings(&[]).unwrap().reconcile_interval_secs, 60);
        let set = settings(&[("ORIGIN_PAY_RECONCILE_INTERVAL_SECS", " 5 ")]).unwrap();
        assert_eq!(set.reconcile_interval_secs, 5);
        for bad in ["0", "3601", "soon"] {
            let error = settings(&[("ORIGIN_PAY_RECONCILE_INTERVAL_SECS", bad)]).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("ORIGIN_PAY_RECONCILE_INTERVAL_SECS"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_half_configured_provider_names_what_is_missing() {
        let error = settings(&[("ORIGIN_ALIPAY_APP_ID", "2021")]).unwrap_err();
        assert!(
            error.to_string().contains("ORIGIN_ALIPAY_PRIVATE_KEY"),
            "{error}"
        );
        let error = settings(&[("ORIGIN_PAYMENTS", "real")]).unwrap_err();
        assert!(error.to_string().contains("sandbox"), "{error}");
    }

    /// An operator who configured a gateway but forgot `ORIGIN_PAYMENTS=live` is stopped, not
    /// left running the sandbox in production (an attacker's read found it failing open).
    #[test]
    fn configured_gateways_without_live_mode_stop_the_start() {
        let alipay = [
            ("ORIGIN_ALIPAY_APP_ID", "2021"),
            ("ORIGIN_ALIPAY_PRIVATE_KEY", "/k.pem"),
            ("ORIGIN_ALIPAY_PUBLIC_KEY", "/p.pem"),
        ];
        for mode in [None, Some("sandbox")] {
            let mut pairs = alipay.to_vec();
            pairs.extend(mode.map(|mode| ("ORIGIN_PAYMENTS", mode)));
            let error = settings(&pairs).unwrap_err();
            assert!(
                error.to_string().contains("ORIGIN_PAYMENTS=live"),
                "{error}"
            );
        }
    }

    #[test]
    fn live_with_a_provider_needs_the_public_base_url() {
        let alipay = [
            ("ORIGIN_PAYMENTS", "live"),
            ("ORIGIN_ALIPAY_APP_ID", "2021"),
            ("ORIGIN_ALIPAY_PRIVATE_KEY", "/k.pem"),
            ("ORIGIN_ALIPAY_PUBLIC_KEY", "/p.pem"),
        ];
        let error = settings(&alipay).unwrap_err();
        assert!(
            error.to_string().contains("ORIGIN_PUBLIC_BASE_URL"),
            "{error}"
        );
        let mut with_url = alipay.to_vec();
        with_url.push(("ORIGIN_PUBLIC_BASE_URL", "https://shop.example.com/"));
        let settings = settings(&with_url).unwrap();
        assert_eq!(
            settings.public_base_url.as_deref(),
            Some("https://shop.example.com")
        );
        assert_eq!(settings.alipay.unwrap().gateway, ALIPAY_GATEWAY);
    }
}
