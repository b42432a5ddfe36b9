//! The admin API's documentation page (Swagger UI on the admin listener): the first scenario,
//! which proves the harness — a real page, rendered by its scripts, read and photographed.

use std::sync::Arc;

use anyhow::ensure;

use crate::support::Origin;
use tests::browser::Browser;

pub const SCENARIOS: &[crate::Named] = scenarios![admin_docs_render_the_admin_api];

/// `/admin/docs` loads Swagger UI, which fetches `/admin/openapi.json` and renders its title
/// and operations: only a browser that runs the page's scripts shows them.
async fn admin_docs_render_the_admin_api(origin: Arc<Origin>) -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    browser.goto(&origin.at("/admin/docs")).await?;
    // The document's title, as Swagger UI renders it from `/admin/openapi.json`.
    browser
        .wait_for_text(".info .title", "Back-office API")
        .await?;
    // An operation of the admin document, rendered from the JSON the page fetched.
    let operations = browser.wait_for_text("#swagger-ui", "/admin/login").await?;
    ensure!(
        operations.contains("POST"),
        "the admin login operation is shown without its method: {operations}"
    );
    let path = browser.screenshot("admin-docs").await?;
    let png = std::fs::read(&path)?;
    ensure!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    browser.close().await
}
