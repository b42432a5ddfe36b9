//! A real headless Chromium, driven over WebDriver: `chromedriver` (Debian's `chromium-driver`)
//! on a free port, one browser session with a fresh profile, and the few verbs a scenario
//! needs — open a page, fill a field, click, read text, wait for an element, take a
//! screenshot. The browser tests of the operator console (`tests/tests/browser/`) use it;
//! `scripts/setup-chromium.sh` installs Chromium and chromedriver.
//!
//! Every verb that names an element by a CSS selector first waits for it (up to [`WAIT`]), so a
//! scenario reads as a person would act: `fill`, `fill`, `click`, then `wait_for_text` on what
//! the next page shows. Errors name the selector and the page's address.
//!
//! Chromium, chromedriver and everything they started are stopped when the [`Browser`] is
//! dropped, on a failed scenario's early return and on a panic alike; [`Browser::close`] ends
//! the session politely first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tempfile::TempDir;

/// How long a verb waits for its element (or `wait_for_text` for its text) by default.
pub const WAIT: Duration = Duration::from_secs(15);
/// The page's viewport, in CSS pixels (at scale 1); screenshots are this size.
pub const WINDOW: (u32, u32) = (1280, 900);

/// Debian's Chromium (a wrapper script that runs `/usr/lib/chromium/chromium`). `CHROMIUM`
/// overrides it.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Looked up on `PATH` (Debian installs `/usr/bin/chromedriver`). `CHROMEDRIVER` overrides it.
const CHROMEDRIVER: &str = "chromedriver";
const INSTALL_HINT: &str = "install Chromium and chromedriver with `bash scripts/setup-chromium.sh` \
     (Debian packages chromium and chromium-driver; scripts/setup.sh runs it)";

/// Headless Chromium with its chromedriver; both stop when this is dropped.
pub struct Browser {
    client: Option<Client>,
    driver: Option<Child>,
    /// The browser's profile and chromedriver's log; removed after both have stopped.
    dir: TempDir,
}

/// `name` as a program: a path when it has a `/`, otherwise the first match on `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|directory| directory.join(name))
        .find(|path| path.is_file())
}

/// The last `lines` lines of a file, for error messages.
fn tail_of(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Where screenshots go: `target/screenshots/` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("screenshots")
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session with a fresh profile,
    /// a [`WINDOW`]-sized window and no sandbox (tests run as root in CI). Fails — never skips —
    /// when Chromium or chromedriver is missing, saying how to install them.
    pub async fn start() -> anyhow::Result<Browser> {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
        let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_owned());
        let chromium = find_program(&chromium)
            .with_context(|| format!("Chromium is not installed ({chromium}): {INSTALL_HINT}"))?;
        let driver = find_program(&driver)
            .with_context(|| format!("chromedriver is not installed ({driver}): {INSTALL_HINT}"))?;

        let dir = tempfile::Builder::new().prefix("browser-").tempdir()?;
        let log = dir.path().join("chromedriver.log");
        let port = crate::free_port()?;
        let mut command = Command::new(&driver);
        command.arg(format!("--port={port}"));
        let mut browser = Browser {
            client: None,
            driver: Some(crate::spawn_logged(command, &log)?),
            dir,
        };
        let webdriver = format!("http://127.0.0.1:{port}");
        browser.wait_for_driver(&webdriver, &log).await?;

        let profile = browser.dir.path().join("profile");
        let (width, height) = WINDOW;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "starting headless Chromium ({}) through chromedriver failed: {error}\n\
                     chromedriver log:\n{}",
                    chromium.display(),
                    tail_of(&log, 30)
                )
            })?;
        // `--window-size` sizes the window; the page gets it less the (invisible) browser
        // frame. Grow the window by that much, so the page and screenshots are [`WINDOW`].
        let inner = client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await?;
        let inner = |i: usize| inner[i].as_u64().map_or(0, |v| v as u32);
        let (frame_width, frame_height) = (
            width.saturating_sub(inner(0)),
            height.saturating_sub(inner(1)),
        );
        if frame_width > 0 || frame_height > 0 {
            client
                .set_window_size(width + frame_width, height + frame_height)
                .await?;
        }
        browser.client = Some(client);
        Ok(browser)
    }

    /// Waits until chromedriver answers `/status` (or has exited).
    async fn wait_for_driver(&mut self, webdriver: &str, log: &Path) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(driver) = self.driver.as_mut()
                && let Some(status) = driver.try_wait()?
            {
                bail!(
                    "chromedriver exited ({status}) before answering:\n{}",
                    tail_of(log, 30)
                );
            }
            if let Ok(response) = http.get(format!("{webdriver}/status")).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "chromedriver did not answer on {webdriver} within 20 s:\n{}",
            tail_of(log, 30)
        )
    }

    /// The WebDriver client, for what the verbs below do not cover (`execute`, cookies,
    /// `find_all`, `back`, …).
    pub fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a started browser has a session")
    }

    /// Opens `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client()
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))
    }

    /// The address of the page shown now.
    pub async fn url(&self) -> anyhow::Result<String> {
        Ok(self.client().current_url().await?.to_string())
    }

    /// The path of the page shown now (`/console/users`), without query or fragment.
    pub async fn path(&self) -> anyhow::Result<String> {
        Ok(self.client().current_url().await?.path().to_owned())
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> anyhow::Result<String> {
        Ok(self.client().title().await?)
    }

    /// Where a failed verb was: the page's address, for error messages.
    async fn here(&self) -> String {
        match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => format!("(address unknown: {error})"),
        }
    }

    /// `result` with the page's address in its error.
    async fn on_page<T>(
        &self,
        result: Result<T, fantoccini::error::CmdError>,
        doing: String,
    ) -> anyhow::Result<T> {
        match result {
            Ok(value) => Ok(value),
            Err(error) => bail!("{doing} on {}: {error}", self.here().await),
        }
    }

    /// The first element matching `css`, once there is one; fails after [`WAIT`].
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<Element> {
        self.wait_for_within(css, WAIT).await
    }

    /// [`Browser::wait_for`] with another timeout.
    pub async fn wait_for_within(&self, css: &str, timeout: Duration) -> anyhow::Result<Element> {
        match self
            .client()
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => Ok(element),
            Err(error) => bail!(
                "no element matches `{css}` on {} after {timeout:?}: {error}",
                self.here().await
            ),
        }
    }

    /// Whether an element matches `css` now (no waiting).
    pub async fn exists(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client().find_all(Locator::Css(css)).await?.is_empty())
    }

    /// Types `text` into the input or textarea matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let element = self.wait_for(css).await?;
        let result = element.clear().await;
        self.on_page(result, format!("clearing `{css}`")).await?;
        let result = element.send_keys(text).await;
        self.on_page(result, format!("typing into `{css}`")).await
    }

    /// Chooses the option with this `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let element = self.wait_for(css).await?;
        let result = element.select_by_value(value).await;
        self.on_page(result, format!("choosing {value:?} in `{css}`"))
            .await
    }

    /// Clicks the element matching `css` (a link, a button, a checkbox). A click that submits a
    /// form or follows a link starts the navigation; wait for something on the next page.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let element = self.wait_for(css).await?;
        let result = element.click().await;
        self.on_page(result, format!("clicking `{css}`")).await
    }

    /// The visible text of the first element matching `css` (as a person sees it: hidden
    /// parts left out, whitespace collapsed).
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let element = self.wait_for(css).await?;
        let result = element.text().await;
        self.on_page(result, format!("reading `{css}`")).await
    }

    /// The visible texts of every element matching `css` now (table rows, menu entries), in
    /// document order; empty when none matches.
    pub async fn texts(&self, css: &str) -> anyhow::Result<Vec<String>> {
        let mut texts = Vec::new();
        for element in self.client().find_all(Locator::Css(css)).await? {
            texts.push(element.text().await?);
        }
        Ok(texts)
    }

    /// The value of attribute `name` of the first element matching `css`.
    pub async fn attribute(&self, css: &str, name: &str) -> anyhow::Result<Option<String>> {
        let element = self.wait_for(css).await?;
        Ok(element.attr(name).await?)
    }

    /// Waits until the visible text of the first element matching `css` contains `needle`
    /// (e.g. after a form's submission, the next page's notice) and returns the whole text;
    /// fails after [`WAIT`] with the last text seen.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        loop {
            // The element may be replaced by a navigation between finding and reading it.
            if let Ok(element) = self.client().find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if text.contains(needle) {
                    return Ok(text);
                }
                last = text;
            }
            if Instant::now() >= deadline {
                bail!(
                    "`{css}` on {} did not show {needle:?} within {WAIT:?}; it showed: {last:?}",
                    self.here().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the window to `target/screenshots/<name>.png` and returns its path.
    /// `name` is letters, digits, `-`, `_` and `.` only.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(
            !name.is_empty()
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "screenshot name {name:?}: use letters, digits, '-', '_' and '.'"
        );
        let png = self
            .client()
            .screenshot()
            .await
            .context("taking a screenshot")?;
        let directory = screenshot_dir();
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("creating {}", directory.display()))?;
        let path = directory.join(format!("{name}.png"));
        std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Ends the session (Chromium quits) and stops chromedriver. Dropping does the same
    /// without the polite first step.
    pub async fn close(mut self) -> anyhow::Result<()> {
        if let Some(client) = self.client.take() {
            client.close().await.context("ending the browser session")?;
        }
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, and Chromium with its helpers are in it:
        // stopping the group leaves nothing behind, whether or not the session was closed.
        if let Some(mut driver) = self.driver.take() {
            crate::stop(&mut driver);
        }
    }
}
