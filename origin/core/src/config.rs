//! Configuration: environment variables (a `.env` in development), read once into a typed
//! struct. Secrets that are not given are generated into the data directory on first run.

use std::fmt;
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand::RngCore;
use time::UtcOffset;

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(REDACTED)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub edge_url: String,
    pub edge_secret: Secret,
    pub pay_sandbox_secret: Secret,
    /// Keys verification codes and captcha answers before they are stored.
    pub code_pepper: Secret,
    pub access_ttl_secs: i64,
    /// Where SMS and e-mail go, and how their delivery is retried (`notify::settings`).
    pub notify: crate::notify::Settings,
    /// The zone times are shown in (SPEC §1: default +08:00).
    pub time_offset: UtcOffset,
    /// Password hashes allowed to run at once (default: one per core; the hashing threads run
    /// at a lower CPU priority than the request path).
    pub hash_workers: usize,
    /// Password hashes allowed to wait; past this, sign-ins get 503 with `Retry-After`.
    pub hash_queue: usize,
    /// Per-client-network limits (`RATE_LIMIT_*`, the names the edge reads too).
    pub rate_rules: crate::limits::RateRules,
    /// How long a client may take to send a request's headers before its connection is closed.
    pub header_timeout_secs: u64,
    /// Connections each listener serves at once; further clients wait in the accept queue.
    pub max_connections: usize,
    /// Upload limits (SPEC §5): the bytes of the distinct blobs one user's uploads may
    /// reference, the parts one user may upload in any 24 hours, and the free space below
    /// which the data directory's disk takes no uploads.
    pub upload_quota_bytes: u64,
    pub uploads_per_day: u64,
    pub min_free_bytes: u64,
    /// Health, backups and checkpointing (`ORIGIN_READY_*`, `ORIGIN_BACKUP_*`,
    /// `ORIGIN_WAL_AUTOCHECKPOINT`; see `ops`).
    pub ops: crate::ops::Settings,
    /// WeChat sign-in (`ORIGIN_WECHAT_*`; see `wechat`).
    pub wechat: crate::wechat::WechatConfig,
    /// Host names (with their port, if not the scheme's) the admin listener (the JSON API,
    /// the console, health and metrics) answers on besides IP addresses and `localhost`
    /// (`ORIGIN_ADMIN_HOSTS`, comma-separated, e.g. `admin.example.com`; `ORIGIN_CONSOLE_HOSTS`,
    /// its older name, is read too): a name nobody configured is refused, so a DNS-rebinding
    /// page cannot reach the listener through the operator's browser.
    pub admin_hosts: Vec<String>,
    /// Payments: sandbox or live gateways (`ORIGIN_PAYMENTS`, `ORIGIN_ALIPAY_*`,
    /// `ORIGIN_WECHATPAY_*`; see `payments::Settings`).
    pub payments: crate::payments::Settings,
}

impl Config {
    /// Reads the environment. Missing secrets are generated into the data directory.
    pub fn from_env() -> anyhow::Result<Config> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the process environment in `from_env`, a map in tests).
    /// A variable that is empty or only spaces counts as unset.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(var("ORIGIN_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let mut config = Config::with_defaults(&data_dir)?;
        if let Some(addr) = var("ORIGIN_PUBLIC_ADDR") {
            config.public_addr = addr.parse().context("ORIGIN_PUBLIC_ADDR")?;
        }
        if let Some(addr) = var("ORIGIN_ADMIN_ADDR") {
            config.admin_addr = addr.parse().context("ORIGIN_ADMIN_ADDR")?;
        }
        if let Some(url) = var("ORIGIN_EDGE_URL") {
            config.edge_url = url.trim_end_matches('/').to_owned();
        }
        if let Some(secret) = var("EDGE_SHARED_SECRET") {
            config.edge_secret = given_secret("EDGE_SHARED_SECRET", secret)?;
        }
        if let Some(secret) = var("ORIGIN_PAY_SANDBOX_SECRET") {
            config.pay_sandbox_secret = given_secret("ORIGIN_PAY_SANDBOX_SECRET", secret)?;
        }
        if let Some(ttl) = var("ORIGIN_ACCESS_TTL") {
            config.access_ttl_secs = ttl.parse().context("ORIGIN_ACCESS_TTL")?;
            if !(60..=86_400 * 30).contains(&config.access_ttl_secs) {
                bail!("ORIGIN_ACCESS_TTL must be between 60 and 2592000 seconds");
            }
        }
        config.notify = crate::notify::Settings::from_env(&var)?;
        if let Some(offset) = var("ORIGIN_TIME_OFFSET") {
            config.time_offset = parse_offset(&offset)?;
        }
        for limit in shared::policy::Limit::ALL {
            let name = shared::ratelimit::var_name(limit);
            if let Some(raw) = var(&name) {
                let rule = shared::ratelimit::parse_rule(&raw).with_context(|| {
                    format!("{name}={raw}: want max/window_seconds, e.g. 10/60")
                })?;
                config.rate_rules.set(limit, rule);
            }
        }
        if let Some(secs) = var("ORIGIN_HEADER_TIMEOUT_SECS") {
            config.header_timeout_secs = secs.parse().context("ORIGIN_HEADER_TIMEOUT_SECS")?;
            if !(1..=300).contains(&config.header_timeout_secs) {
                bail!("ORIGIN_HEADER_TIMEOUT_SECS must be between 1 and 300");
            }
        }
        if let Some(max) = var("ORIGIN_MAX_CONNECTIONS") {
            config.max_connections = max.parse().context("ORIGIN_MAX_CONNECTIONS")?;
            if config.max_connections == 0 {
                bail!("ORIGIN_MAX_CONNECTIONS must be at least 1");
            }
        }
        if let Some(workers) = var("ORIGIN_HASH_WORKERS") {
            config.hash_workers = workers
                .parse::<usize>()
                .context("ORIGIN_HASH_WORKERS")?
                .max(1);
        }
        if let Some(quota) = var("ORIGIN_UPLOAD_QUOTA_MB") {
            config.upload_quota_bytes = megabytes("ORIGIN_UPLOAD_QUOTA_MB", &quota, 1)?;
        }
        if let Some(count) = var("ORIGIN_UPLOADS_PER_DAY") {
            config.uploads_per_day = whole_number("ORIGIN_UPLOADS_PER_DAY", &count, 1)?;
        }
        if let Some(free) = var("ORIGIN_MIN_FREE_MB") {
            config.min_free_bytes = megabytes("ORIGIN_MIN_FREE_MB", &free, 0)?;
        }
        config.ops = crate::ops::Settings::from_env(&var)?;
        config.wechat = crate::wechat::WechatConfig::from_env(&var)?;
        config.payments = crate::payments::Settings::from_env(&var)?;
        for name in ["ORIGIN_ADMIN_HOSTS", "ORIGIN_CONSOLE_HOSTS"] {
            if let Some(hosts) = var(name) {
                config.admin_hosts.extend(
                    hosts
                        .split(',')
                        .map(|host| host.trim().to_ascii_lowercase())
                        .filter(|host| !host.is_empty()),
                );
            }
        }
        Ok(config)
    }

    /// Development defaults rooted at `data_dir`, generating secrets there on first use.
    pub fn with_defaults(data_dir: &Path) -> anyhow::Result<Config> {
        fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Config {
            data_dir: data_dir.to_owned(),
            public_addr: "127.0.0.1:8080".parse()?,
            admin_addr: "127.0.0.1:8081".parse()?,
            edge_url: "http://127.0.0.1:8787".into(),
            edge_secret: generated_secret(data_dir, "edge_shared_secret")?,
            pay_sandbox_secret: generated_secret(data_dir, "pay_sandbox_secret")?,
            code_pepper: generated_secret(data_dir, "code_pepper")?,
            access_ttl_secs: 7200,
            notify: crate::notify::Settings::default(),
            time_offset: UtcOffset::from_hms(8, 0, 0)?,
            // One core stays free of hashing for the request path (see `passwords`).
            hash_workers: cores.saturating_sub(1).max(1),
            hash_queue: 64,
            rate_rules: crate::limits::RateRules::default(),
            header_timeout_secs: 10,
            max_connections: 1024,
            upload_quota_bytes: 1024 * MEBIBYTE,
            uploads_per_day: 500,
            min_free_bytes: 1024 * MEBIBYTE,
            ops: crate::ops::Settings::default(),
            wechat: crate::wechat::WechatConfig::default(),
            admin_hosts: Vec::new(),
            payments: crate::payments::Settings::default(),
        })
    }

    pub fn refresh_ttl_secs(&self) -> i64 {
        self.access_ttl_secs * shared::claims::REFRESH_FACTOR
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("origin.sqlite3")
    }

    /// Uploads, stored by SHA-256 (SPEC §5).
    pub fn storage_dir(&self) -> PathBuf {
        self.data_dir.join("storage")
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.data_dir.join("secrets")
    }
}

/// Upload limits are configured in MB of 2^20 bytes.
const MEBIBYTE: u64 = 1024 * 1024;

/// A whole number of at least `min` from the variable `name`.
fn whole_number(name: &str, raw: &str, min: u64) -> anyhow::Result<u64> {
    match raw.trim().parse::<u64>() {
        Ok(number) if number >= min => Ok(number),
        _ => bail!("{name}={raw}: want a whole number, at least {min}"),
    }
}

/// A size in MB (of at least `min`) from the variable `name`, in bytes.
fn megabytes(name: &str, raw: &str, min: u64) -> anyhow::Result<u64> {
    whole_number(name, raw, min)?
        .checked_mul(MEBIBYTE)
        .with_context(|| format!("{name}={raw}: too large"))
}

fn parse_offset(raw: &str) -> anyhow::Result<UtcOffset> {
    let format = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(raw, &format)
        .with_context(|| format!("ORIGIN_TIME_OFFSET={raw} (want +08:00)"))
}

/// Reads `data_dir/secrets/<name>`, creating it with 32 random bytes (hex) if absent.
/// Shortest secret the origin takes from its settings. A generated one has 64 characters; a
/// short one (`EDGE_SHARED_SECRET=test`) would let anyone who guesses it speak as the edge.
pub const MIN_SECRET_CHARS: usize = 16;

fn given_secret(name: &str, secret: String) -> anyhow::Result<Secret> {
    if secret.chars().count() < MIN_SECRET_CHARS {
        bail!(
            "{name} must be at least {MIN_SECRET_CHARS} characters (unset, a random one is generated)"
        );
    }
    Ok(Secret::new(secret))
}

fn generated_secret(data_dir: &Path, name: &str) -> anyhow::Result<Secret> {
    let bytes = read_or_create(data_dir, name, || {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        hex::encode(raw).into_bytes()
    })?;
    Ok(Secret::new(
        String::from_utf8(bytes)
            .context("secret file is not UTF-8")?
            .trim(),
    ))
}

/// Reads a file under `data_dir/secrets`, creating it (mode 0600) from `make` on first use.
pub fn read_or_create(
    data_dir: &Path,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    let dir = data_dir.join("secrets");
    let path = dir.join(name);
    if let Ok(existing) = fs::read(&path) {
        return Ok(existing);
    }
    fs::create_dir_all(&dir)?;
    let contents = make();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(&contents)?;
            file.sync_all()?;
            Ok(contents)
        }
        // Another process created it first: theirs wins.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(fs::read(&path)?),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `vars` as the environment, rooted in a fresh data directory.
    fn config(dir: &Path, vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let mut map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        map.insert("ORIGIN_DATA_DIR".into(), dir.display().to_string());
        Config::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn admin_hosts_come_from_both_names_trimmed_and_lowercased() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &[
                (
                    "ORIGIN_ADMIN_HOSTS",
                    " Admin.Example.com , ,ops.example.com:8443",
                ),
                ("ORIGIN_CONSOLE_HOSTS", "console.example.com"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.admin_hosts,
            [
                "admin.example.com",
                "ops.example.com:8443",
                "console.example.com"
            ]
        );
        assert_eq!(config.data_dir, dir.path());
    }

    #[test]
    fn no_admin_hosts_means_only_addresses_and_localhost() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &[("ORIGIN_ADMIN_HOSTS", "  ")]).unwrap();
        assert!(config.admin_hosts.is_empty());
    }

    #[test]
    fn a_blank_variable_counts_as_unset_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &[("ORIGIN_ACCESS_TTL", " ")]).unwrap();
        assert_eq!(config.access_ttl_secs, 7200);

        let error = config_error(dir.path(), &[("ORIGIN_ACCESS_TTL", "30")]);
        assert!(error.contains("ORIGIN_ACCESS_TTL"), "{error}");
        let error = config_error(dir.path(), &[("ORIGIN_PUBLIC_ADDR", "localhost")]);
        assert!(error.contains("ORIGIN_PUBLIC_ADDR"), "{error}");
        let error = config_error(dir.path(), &[("ORIGIN_MAX_CONNECTIONS", "0")]);
        assert!(error.contains("ORIGIN_MAX_CONNECTIONS"), "{error}");
    }

    #[test]
    fn given_secrets_win_and_missing_ones_are_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let given = config(dir.path(), &[("EDGE_SHARED_SECRET", "given-secret-0123")]).unwrap();
        assert_eq!(given.edge_secret, Secret::new("given-secret-0123"));
        let first = config(dir.path(), &[]).unwrap();
        let second = config(dir.path(), &[]).unwrap();
        assert_eq!(first.edge_secret, second.edge_secret);
        assert_ne!(first.edge_secret, Secret::new("given-secret-0123"));
    }

    #[test]
    fn a_short_given_secret_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["EDGE_SHARED_SECRET", "ORIGIN_PAY_SANDBOX_SECRET"] {
            let error = config_error(dir.path(), &[(name, "fifteen-chars-x")]);
            assert!(error.contains(name) && error.contains("16"), "{error}");
            config(dir.path(), &[(name, "sixteen-chars-xx")]).unwrap();
        }
    }

    fn config_error(dir: &Path, vars: &[(&str, &str)]) -> String {
        format!("{:#}", config(dir, vars).expect_err("refused"))
    }
}
