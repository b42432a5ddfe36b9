//! The operators' web console (back-office issue), as operators use it: a 配送管理-only
//! operator sees only the shipping menu, ships an order and is refused a points adjustment; a
//! super-admin finds a user, adjusts their points with a reason through the confirmation step,
//! and finds the audit entry. Screenshots go to `target/screenshots/console-*.png`.

use std::sync::Arc;

use anyhow::{Context, ensure};
use origin::db::audit::Actor;
use origin::domain::admin;

use crate::support::{ADMIN_PASSWORD, ADMIN_USERNAME, Origin};
use tests::browser::Browser;

pub const SCENARIOS: &[crate::Named] = scenarios![
    a_delivery_operator_sees_only_shipping_ships_and_is_refused_points,
    a_super_admin_finds_a_user_adjusts_points_and_reads_the_audit_entry,
];

const SHIPPER: &str = "shipper";
const SHIPPER_PASSWORD: &str = "shipper-password-1";

fn database(origin: &Origin) -> anyhow::Result<rusqlite::Connection> {
    Ok(rusqlite::Connection::open(
        origin.state.config.database_path(),
    )?)
}

/// A member who can be found and adjusted (no password: members sign in elsewhere).
fn member(origin: &Origin, nickname: &str, phone: &str) -> anyhow::Result<i64> {
    let db = database(origin)?;
    db.execute(
        "INSERT INTO users (nickname, phone, created_at) VALUES (?1, ?2, ?3)",
        rusqlite::params![nickname, phone, origin::clock::now()],
    )?;
    Ok(db.last_insert_rowid())
}

/// An operator holding one role with only 配送管理, made the way an operator would with the
/// CLI (an account with a password) and the admin domain (a role, given to it).
async fn shipper(origin: &Origin) -> anyhow::Result<i64> {
    let state = &origin.state;
    let id = origin::domain::identity::create_super_admin(
        state,
        SHIPPER.into(),
        SHIPPER_PASSWORD.into(),
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    admin::save_role(
        state,
        Actor::cli(),
        "发货员".into(),
        vec!["配送管理".into()],
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    admin::update_user(state, Actor::cli(), id, None, Some(vec!["发货员".into()]))
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    Ok(id)
}

async fn sign_in(
    browser: &Browser,
    origin: &Origin,
    username: &str,
    password: &str,
) -> anyhow::Result<()> {
    browser.goto(&origin.at("/console/login")).await?;
    browser.fill("input[name=username]", username).await?;
    browser.fill("input[name=password]", password).await?;
    browser.click("#login-form button[type=submit]").await?;
    browser.wait_for_text("#whoami", username).await?;
    Ok(())
}

async fn a_delivery_operator_sees_only_shipping_ships_and_is_refused_points(
    origin: Arc<Origin>,
) -> anyhow::Result<()> {
    shipper(&origin).await?;
    let customer = member(&origin, "小明", "13800138001")?;
    {
        let db = database(&origin)?;
        db.execute(
            "INSERT INTO gifts (name, accumulate_points, stock, created_at) VALUES ('保温杯', 100, 5, 0)",
            [],
        )?;
        let gift = db.last_insert_rowid();
        db.execute(
            "INSERT INTO gift_orders (order_no, user_id, gift_id, accumulate_points, ship_name,
                 ship_phone, ship_province, ship_city, ship_county, ship_detail, created_at)
             VALUES ('G20261201001', ?1, ?2, 100, '小明', '13800138001', '广东省', '深圳市',
                     '南山区', '科技园 1 号', ?3)",
            rusqlite::params![customer, gift, origin::clock::now()],
        )?;
    }
    let browser = Browser::start().await?;
    sign_in(&browser, &origin, SHIPPER, SHIPPER_PASSWORD).await?;
    let menu = browser.texts("#menu a").await?;
    ensure!(
        menu == ["首页", "发货"],
        "a 配送管理-only operator sees the menu {menu:?}"
    );
    browser.screenshot("console-delivery-home").await?;

    browser.click("[data-menu=shipping]").await?;
    let row = browser.wait_for_text("#queue", "G20261201001").await?;
    ensure!(row.contains("未发货"), "the order is not waiting: {row}");
    let order = browser
        .attribute("#queue tbody tr", "id")
        .await?
        .context("the order's row has no id")?;
    browser
        .fill(&format!("#{order} input[name=express_company]"), "顺丰速运")
        .await?;
    browser
        .fill(&format!("#{order} input[name=tracking_no]"), "SF1234567890")
        .await?;
    browser.screenshot("console-shipping-form").await?;
    browser
        .click(&format!("#{order} button[type=submit]"))
        .await?;
    // htmx swaps the queue in place: the row now shows the tracking number.
    let shipped = browser
        .wait_for_text(&format!("#{order}"), "SF1234567890")
        .await?;
    ensure!(
        shipped.contains("已发货"),
        "the row after shipping: {shipped}"
    );
    browser.screenshot("console-shipped").await?;
    let tracking: Option<String> = database(&origin)?.query_row(
        "SELECT tracking_no FROM gift_orders WHERE order_no = 'G20261201001'",
        [],
        |row| row.get(0),
    )?;
    ensure!(
        tracking.as_deref() == Some("SF1234567890"),
        "stored: {tracking:?}"
    );

    // Points are 积分管理's: the page is refused by the server, not only hidden.
    browser
        .goto(&origin.at(&format!("/console/users/{customer}/points")))
        .await?;
    browser.wait_for_text("#error-title", "没有权限").await?;
    let message = browser.text("#error-message").await?;
    ensure!(message.contains("积分管理"), "the refusal says {message}");
    browser.screenshot("console-refused-points").await?;
    browser.close().await
}

async fn a_super_admin_finds_a_user_adjusts_points_and_reads_the_audit_entry(
    origin: Arc<Origin>,
) -> anyhow::Result<()> {
    member(&origin, "小红", "13800138002")?;
    let browser = Browser::start().await?;
    sign_in(&browser, &origin, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let menu = browser.texts("#menu a").await?;
    ensure!(
        menu.len() > 5,
        "a super-admin sees the whole menu: {menu:?}"
    );

    browser.click("[data-menu=users]").await?;
    browser.fill("#q", "小红").await?;
    browser.click("form.filters button[type=submit]").await?;
    browser.wait_for_text("#results", "13800138002").await?;
    browser.screenshot("console-users").await?;
    browser.click("#results a.user-link").await?;
    browser.wait_for_text("h1", "小红").await?;
    browser.screenshot("console-user").await?;

    browser.click("#adjust-points").await?;
    browser
        .fill("#adjust-form input[name=number]", "50")
        .await?;
    browser
        .fill("#adjust-form input[name=describe]", "活动奖励")
        .await?;
    browser.click("#adjust-form button[type=submit]").await?;
    // The confirmation step shows the figure it leads to; nothing is posted yet.
    browser.wait_for_text("#result", "50").await?;
    browser.screenshot("console-adjust-confirm").await?;
    browser.click("#confirm-adjust").await?;
    browser.wait_for_text("#notice", "积分已调整").await?;
    let points = browser.text("#points").await?;
    ensure!(points == "50", "points after the adjustment: {points}");
    let ledger = browser.text("#points-ledger").await?;
    ensure!(ledger.contains("活动奖励"), "the ledger: {ledger}");

    browser.click("[data-menu=audit]").await?;
    browser
        .fill("#audit-filters input[name=action]", "user.points")
        .await?;
    browser.click("#audit-filters button[type=submit]").await?;
    let log = browser.wait_for_text("#audit", "user.points").await?;
    ensure!(
        log.contains(ADMIN_USERNAME),
        "the entry names its actor: {log}"
    );
    browser.click("#audit tbody tr td a").await?;
    let entry = browser.wait_for_text("#audit-entry", "活动奖励").await?;
    ensure!(
        entry.contains("\"delta\": 50"),
        "the entry's detail: {entry}"
    );
    browser.screenshot("console-audit-entry").await?;
    browser.close().await
}
