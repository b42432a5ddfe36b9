//! Forward-only embedded migrations, tracked by `PRAGMA user_version`.

use anyhow::Context;
use rusqlite::Connection;

/// Every migration, in order. Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_identity.sql"),
    include_str!("migrations/0002_edge_outbox.sql"),
    include_str!("migrations/0003_addresses.sql"),
    include_str!("migrations/0004_member_centre.sql"),
    include_str!("migrations/0005_uploads_comments.sql"),
    include_str!("migrations/0006_commerce_admin.sql"),
    include_str!("migrations/0007_trust_boundaries.sql"),
    include_str!("migrations/0008_upload_limits.sql"),
    include_str!("migrations/0009_deliveries.sql"),
    include_str!("migrations/0010_payment_reconciliation.sql"),
    include_str!("migrations/0011_wechat.sql"),
    include_str!("migrations/0012_admin_reads.sql"),
    include_str!("migrations/0013_user_reads.sql"),
    include_str!("migrations/0014_console_sessions.sql"),
    include_str!("migrations/0015_audit_submissions.sql"),
    include_str!("migrations/0016_points_earned.sql"),
    include_str!("migrations/0017_outbox_sealed.sql"),
    include_str!("migrations/0018_user_search.sql"),
    include_str!("migrations/0019_code_cap_lifts.sql"),
];

/// The schema version this binary migrates to (`PRAGMA user_version` once migrated).
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub fn apply(connection: &mut Connection) -> anyhow::Result<()> {
    apply_to(connection, MIGRATIONS.len())
}

/// Migrates up to schema `version` (tests of a migration start from the one before it).
pub fn apply_to(connection: &mut Connection, version: usize) -> anyhow::Result<()> {
    let current: usize =
        connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    anyhow::ensure!(
        current <= MIGRATIONS.len(),
        "the database is at schema version {current}, newer than this binary ({}); refusing to start",
        MIGRATIONS.len()
    );
    for (index, sql) in MIGRATIONS.iter().enumerate().take(version).skip(current) {
        let version = index + 1;
        let transaction = connection.transaction()?;
        transaction
            .execute_batch(sql)
            .with_context(|| format!("migration {version}"))?;
        transaction.pragma_update(None, "user_version", version as i64)?;
        transaction.commit()?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}
