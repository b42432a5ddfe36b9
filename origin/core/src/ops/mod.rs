//! Running the origin for real, below HTTP: the operations settings, consistent snapshots and
//! restores of the database (`backup`), and the metrics registry (`metrics`). The `origin`
//! crate's `ops` serves them (`/healthz`, `/readyz`, `/metrics`) on the admin listener.

pub mod backup;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

/// Operations settings, read from the environment with the rest of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `/readyz` fails while the data directory's file system has less free space than this.
    pub ready_min_free_bytes: u64,
    /// `/readyz` fails while more edge instructions than this wait for delivery.
    pub ready_max_edge_backlog: u64,
    /// Where the server writes scheduled snapshots (`ORIGIN_BACKUP_DIR`); none: no schedule.
    pub backup_dir: Option<PathBuf>,
    /// Time between scheduled snapshots (`ORIGIN_BACKUP_INTERVAL`).
    pub backup_interval: Duration,
    /// Scheduled snapshots kept; older ones are deleted (`ORIGIN_BACKUP_KEEP`).
    pub backup_keep: usize,
    /// WAL pages after which a commit checkpoints (`ORIGIN_WAL_AUTOCHECKPOINT`); 0 leaves
    /// checkpoints to Litestream.
    pub wal_autocheckpoint: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            ready_min_free_bytes: 256 * 1024 * 1024,
            ready_max_edge_backlog: 1000,
            backup_dir: None,
            backup_interval: Duration::from_secs(3600),
            backup_keep: 24,
            wal_autocheckpoint: crate::db::DEFAULT_WAL_AUTOCHECKPOINT,
        }
    }
}

impl Settings {
    /// Reads `ORIGIN_READY_*` through `var` (which yields a variable's non-empty value).
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let mut settings = Settings::default();
        if let Some(mb) = var("ORIGIN_READY_MIN_FREE_MB") {
            let mb: u64 = mb.parse().context("ORIGIN_READY_MIN_FREE_MB")?;
            settings.ready_min_free_bytes = mb.saturating_mul(1024 * 1024);
        }
        if let Some(max) = var("ORIGIN_READY_MAX_EDGE_BACKLOG") {
            settings.ready_max_edge_backlog =
                max.parse().context("ORIGIN_READY_MAX_EDGE_BACKLOG")?;
        }
        settings.backup_dir = var("ORIGIN_BACKUP_DIR").map(PathBuf::from);
        if let Some(interval) = var("ORIGIN_BACKUP_INTERVAL") {
            settings.backup_interval = parse_interval(&interval).with_context(|| {
                format!("ORIGIN_BACKUP_INTERVAL={interval}: want e.g. 3600, 90s, 15m, 6h or 1d")
            })?;
        }
        if let Some(keep) = var("ORIGIN_BACKUP_KEEP") {
            settings.backup_keep = keep.parse().context("ORIGIN_BACKUP_KEEP")?;
            if settings.backup_keep == 0 {
                bail!("ORIGIN_BACKUP_KEEP must be at least 1");
            }
        }
        if let Some(pages) = var("ORIGIN_WAL_AUTOCHECKPOINT") {
            settings.wal_autocheckpoint = pages.parse().context("ORIGIN_WAL_AUTOCHECKPOINT")?;
        }
        Ok(settings)
    }
}

/// Free space on the file system holding `path`, in bytes, as an unprivileged process sees it.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    #[cfg(target_os = "linux")]
    {
        let stats = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
        // The field types are u64 on 64-bit Linux and narrower on some 32-bit targets.
        #[allow(clippy::useless_conversion)]
        let (blocks, block_size) = (
            u64::from(stats.blocks_available()),
            u64::from(stats.fragment_size()),
        );
        Ok(blocks.saturating_mul(block_size))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Err(std::io::Error::other("free space is only read on Linux"))
    }
}

/// `3600`, `90s`, `15m`, `6h`, `1d`: at least a minute.
fn parse_interval(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let (number, unit) = match raw.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => raw.split_at(at),
        None => (raw, "s"),
    };
    let number: u64 = number.parse()?;
    let seconds = match unit {
        "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        "d" => number.saturating_mul(86_400),
        other => bail!("unknown unit {other:?}"),
    };
    if seconds < 60 {
        bail!("at least a minute");
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Settings::from_env(&|name: &str| {
            pairs
                .iter()
                .find(|(candidate, _)| candidate == name)
                .map(|(_, value)| value.clone())
        })
    }

    #[test]
    fn settings_are_read_from_their_variables_and_bad_values_stop_the_start() {
        assert_eq!(settings(&[]).unwrap(), Settings::default());
        let read = settings(&[
            ("ORIGIN_READY_MIN_FREE_MB", "512"),
            ("ORIGIN_READY_MAX_EDGE_BACKLOG", "10"),
            ("ORIGIN_BACKUP_DIR", "/var/backups/origin"),
            ("ORIGIN_BACKUP_INTERVAL", "15m"),
            ("ORIGIN_BACKUP_KEEP", "3"),
            ("ORIGIN_WAL_AUTOCHECKPOINT", "0"),
        ])
        .unwrap();
        assert_eq!(read.ready_min_free_bytes, 512 * 1024 * 1024);
        assert_eq!(read.ready_max_edge_backlog, 10);
        assert_eq!(read.backup_dir, Some(PathBuf::from("/var/backups/origin")));
        assert_eq!(read.backup_interval, Duration::from_secs(900));
        assert_eq!(read.backup_keep, 3);
        assert_eq!(read.wal_autocheckpoint, 0);
        for bad in [
            ("ORIGIN_READY_MIN_FREE_MB", "lots"),
            ("ORIGIN_READY_MAX_EDGE_BACKLOG", "-1"),
            ("ORIGIN_BACKUP_INTERVAL", "10s"),
            ("ORIGIN_BACKUP_KEEP", "0"),
            ("ORIGIN_WAL_AUTOCHECKPOINT", "off"),
        ] {
            assert!(settings(&[bad]).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn backup_intervals_read_plain_seconds_and_units_and_refuse_under_a_minute() {
        assert_eq!(parse_interval("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_interval("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_interval("6h").unwrap(), Duration::from_secs(21_600));
        assert_eq!(parse_interval("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_interval("30s").is_err());
        assert!(parse_interval("5w").is_err());
        assert!(parse_interval("h").is_err());
    }
}
