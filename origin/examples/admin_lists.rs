//! Times the back office's order lists and dashboard on a large database, with and without the
//! indexes of migration 0012: `cargo run -p origin --example admin_lists`
//! (`-- --write` also replaces the "Back-office lists" section of BENCHMARKS.md).
//!
//! It seeds a temporary SQLite file (migrated as the origin migrates it) with `ADMIN_LISTS_ROWS`
//! (default 100 000) users, recharge orders and gift orders, then times each read through the
//! same storage functions the admin API and the console call: first the database as migrated,
//! then after dropping the indexes 0012 made ("before"). Each figure is the median of 7 runs.

use std::time::Instant;

use anyhow::Context;
use origin::db::migrate;
use origin::db::order_reads::{
    self, GiftOrderFilter, GiftOrderSearch, Period, RechargeFilter, RechargeStatus,
};
use rusqlite::Connection;
use shared::pagination::PageRequest;

/// The section of BENCHMARKS.md this example writes (to the end of the file).
const MARKER: &str = "<!-- admin_lists -->";
const RUNS: usize = 7;
/// A wall-clock origin for the seeded times: 2025-01-01 00:00 UTC; one row every 5 minutes.
const BASE: i64 = 1_735_689_600;
const STEP: i64 = 300;

fn seed(connection: &mut Connection, rows: i64) -> anyhow::Result<()> {
    let tx = connection.transaction()?;
    let series =
        format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})");
    tx.execute_batch(&format!(
        "{series}
         INSERT INTO users (id, nickname, phone, created_at)
         SELECT i, 'user' || i, '138' || printf('%08d', i), {BASE} + i * {STEP} FROM n;
         {series}
         INSERT INTO recharge_orders (id, order_no, user_id, price_cents, pay_type, provider,
             trade_no, paid_at, created_at)
         SELECT i, 'R' || i, i * 7919 % {rows} + 1, (i % 500 + 1) * 100,
                CASE WHEN i % 3 = 0 THEN 'wechat' ELSE 'alipay' END, 'sandbox',
                CASE WHEN i % 4 = 0 THEN NULL ELSE 'T' || i END,
                CASE WHEN i % 4 = 0 THEN NULL ELSE {BASE} + i * {STEP} + 60 END,
                {BASE} + i * {STEP}
         FROM n;
         WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 20)
         INSERT INTO gifts (id, name, accumulate_points, stock, created_at)
         SELECT i, 'gift' || i, i * 10, 1000, {BASE} FROM g;
         {series}
         INSERT INTO gift_orders (id, order_no, user_id, gift_id, accumulate_points, ship_name,
             ship_phone, ship_province, ship_city, ship_county, ship_detail, express_company,
             tracking_no, shipped_at, created_at)
         SELECT i, 'G' || i, i * 104729 % {rows} + 1, i % 20 + 1, 10, '收货人' || (i % 30000),
                '139' || printf('%08d', i % 50000), '广东省', '深圳市', '南山区', '科技园 ' || i,
                CASE WHEN i <= {shipped} THEN '顺丰' END,
                CASE WHEN i <= {shipped} THEN 'SF' || i END,
                CASE WHEN i <= {shipped} THEN {BASE} + i * {STEP} + 86400 END,
                {BASE} + i * {STEP}
         FROM n;",
        // The oldest 95 % are shipped; the newest 5 % wait in the queue.
        shipped = rows * 95 / 100,
    ))?;
    tx.commit()?;
    Ok(())
}

/// The median time of `RUNS` runs of `read`, in milliseconds.
fn time(read: &mut dyn FnMut() -> anyhow::Result<usize>) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        std::hint::black_box(read()?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[RUNS / 2])
}

type Read<'a> = (&'static str, Box<dyn FnMut() -> anyhow::Result<usize> + 'a>);

fn reads<'a>(connection: &'a Connection, rows: i64) -> Vec<Read<'a>> {
    let first = PageRequest { page: 1, limit: 20 };
    // 80 % of the way down the unfiltered lists.
    let deep = PageRequest {
        page: u32::try_from(rows * 4 / 5 / 20).unwrap_or(1).max(1),
        limit: 20,
    };
    let week = Period {
        from: Some(BASE + rows / 2 * STEP),
        until: Some(BASE + rows / 2 * STEP + 7 * 86_400),
    };
    let user = Some(rows / 2 + 1);
    let recharge = |filter: RechargeFilter,
                    request: PageRequest|
     -> Box<dyn FnMut() -> anyhow::Result<usize> + 'a> {
        Box::new(move || {
            Ok(order_reads::recharge_page(connection, &filter, request)?
                .0
                .len())
        })
    };
    let gifts = |filter: GiftOrderFilter,
                 request: PageRequest|
     -> Box<dyn FnMut() -> anyhow::Result<usize> + 'a> {
        Box::new(move || {
            Ok(order_reads::gift_order_page(connection, &filter, request)?
                .0
                .len())
        })
    };
    let r = RechargeFilter::default;
    let g = GiftOrderFilter::default;
    let search = |q: &str| GiftOrderSearch::new(q);
    let today = (BASE + rows * STEP + 8 * 3600) / 86_400;
    let users = |q: Option<&'static str>,
                 request: PageRequest|
     -> Box<dyn FnMut() -> anyhow::Result<usize> + 'a> {
        Box::new(move || Ok(origin::db::users::search(connection, q, request)?.0.len()))
    };
    vec![
        ("users: first page", users(None, first)),
        ("users: deep page (80 %)", users(None, deep)),
        (
            "users: search a nickname part (`user4242`)",
            users(Some("user4242"), first),
        ),
        (
            "users: search a whole phone",
            users(Some("13800004242"), first),
        ),
        (
            "users: search a part every phone holds (`1380`)",
            users(Some("1380"), first),
        ),
        (
            "users: search two characters (`42`: too short for the index, a scan)",
            users(Some("42"), first),
        ),
        ("recharge: first page", recharge(r(), first)),
        ("recharge: deep page (80 %)", recharge(r(), deep)),
        (
            "recharge: status=pending",
            recharge(
                RechargeFilter {
                    status: Some(RechargeStatus::Pending),
                    ..r()
                },
                first,
            ),
        ),
        (
            "recharge: status=paid",
            recharge(
                RechargeFilter {
                    status: Some(RechargeStatus::Paid),
                    ..r()
                },
                first,
            ),
        ),
        (
            "recharge: status=paid, deep page",
            recharge(
                RechargeFilter {
                    status: Some(RechargeStatus::Paid),
                    ..r()
                },
                deep,
            ),
        ),
        (
            "recharge: user_id",
            recharge(
                RechargeFilter {
                    user_id: user,
                    ..r()
                },
                first,
            ),
        ),
        (
            "recharge: pay_type=wechat",
            recharge(
                RechargeFilter {
                    pay_type: Some("wechat".into()),
                    ..r()
                },
                first,
            ),
        ),
        (
            "recharge: from/to (a week)",
            recharge(
                RechargeFilter {
                    period: week,
                    ..r()
                },
                first,
            ),
        ),
        ("gift orders: first page (queue)", gifts(g(), first)),
        ("gift orders: deep page (80 %)", gifts(g(), deep)),
        (
            "gift orders: status=1 (unshipped)",
            gifts(
                GiftOrderFilter {
                    shipped: Some(false),
                    ..g()
                },
                first,
            ),
        ),
        (
            "gift orders: status=2 (shipped)",
            gifts(
                GiftOrderFilter {
                    shipped: Some(true),
                    ..g()
                },
                first,
            ),
        ),
        (
            "gift orders: user_id",
            gifts(
                GiftOrderFilter {
                    user_id: user,
                    ..g()
                },
                first,
            ),
        ),
        (
            "gift orders: q=tracking no.",
            gifts(
                GiftOrderFilter {
                    search: search("SF4242"),
                    ..g()
                },
                first,
            ),
        ),
        (
            "gift orders: q=phone",
            gifts(
                GiftOrderFilter {
                    search: search("13900004242"),
                    ..g()
                },
                first,
            ),
        ),
        (
            "gift orders: q=name",
            gifts(
                GiftOrderFilter {
                    search: search("收货人4242"),
                    ..g()
                },
                first,
            ),
        ),
        (
            "gift orders: from/to (a week)",
            gifts(
                GiftOrderFilter {
                    period: week,
                    ..g()
                },
                first,
            ),
        ),
        (
            "export: the unshipped queue (all rows)",
            Box::new(move || {
                let filter = GiftOrderFilter {
                    shipped: Some(false),
                    ..GiftOrderFilter::default()
                };
                Ok(order_reads::gift_order_rows(connection, &filter, 50_000, 0)?.len())
            }),
        ),
        (
            "stats: 30 days + totals",
            Box::new(move || {
                let days = order_reads::daily(connection, 8 * 3600, today, 30)?;
                order_reads::pending_shipments(connection)?;
                order_reads::delivery_failures_since(connection, BASE)?;
                Ok(days.len())
            }),
        ),
    ]
}

fn measure(connection: &Connection, rows: i64) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let mut figures = Vec::new();
    for (name, mut read) in reads(connection, rows) {
        figures.push((name, time(&mut read)?));
    }
    Ok(figures)
}

fn main() -> anyhow::Result<()> {
    let rows: i64 = match std::env::var("ADMIN_LISTS_ROWS") {
        Ok(raw) => raw.parse().context("ADMIN_LISTS_ROWS")?,
        Err(_) => 100_000,
    };
    let dir = tempfile::tempdir()?;
    let mut connection = Connection::open(dir.path().join("admin_lists.sqlite3"))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    migrate::apply(&mut connection)?;
    let started = Instant::now();
    seed(&mut connection, rows)?;
    eprintln!(
        "seeded {rows} users, recharge orders and gift orders in {:.1?}",
        started.elapsed()
    );

    let after = measure(&connection, rows)?;
    // The indexes migration 0012 made, dropped: the schema before it (plus its columns).
    let made: Vec<String> = {
        let migration = include_str!("../core/src/db/migrations/0012_admin_reads.sql");
        migration
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(3)
            .filter(|words| words[0] == "CREATE" && words[1] == "INDEX")
            .map(|words| words[2].to_owned())
            .collect()
    };
    for index in &made {
        connection.execute_batch(&format!("DROP INDEX {index}"))?;
    }
    let before = measure(&connection, rows)?;

    let mut table = format!(
        "{MARKER}\n## Back-office lists (`cargo run -p origin --example admin_lists`)\n\n\
         {rows} users, {rows} recharge orders and {rows} gift orders (95 % shipped) in a temporary \
         SQLite file; each read is the storage function the admin API and the console call \
         (count + page of 20), the median of {RUNS} runs, warm cache, dev profile (SQLite itself is built with opt-level 2 there). \"Before\" drops the {} \
         indexes of migration 0012; \"after\" is the database as migrated. Measured on a shared 2-core machine while others compiled: figures move by up to 2x between runs; the ratios are the point. \
         The user search matches a part of the account, phone, e-mail or nickname (`LIKE '%q%'`), which no B-tree index serves; \
         since migration 0018 a trigram full-text index (SQLite FTS5 `trigram`, in both columns here) finds the candidates of a query of three characters or more, \
         so a rare part is an index read, while a part most users hold still counts them all and a shorter query still scans.\n\n\
         | read | before ms | after ms |\n|---|---:|---:|\n",
        made.len()
    );
    for ((name, before), (_, after)) in before.iter().zip(&after) {
        table.push_str(&format!("| {name} | {before:.2} | {after:.2} |\n"));
    }
    print!("{table}");
    if std::env::args().any(|arg| arg == "--write") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
        let old = std::fs::read_to_string(path)?;
        let kept = old.split(MARKER).next().unwrap_or_default().trim_end();
        std::fs::write(path, format!("{kept}\n\n{table}"))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
