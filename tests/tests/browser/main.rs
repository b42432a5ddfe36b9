//! The browser tests: the operator console (and the admin listener's other pages) in a real
//! headless Chromium, driven through chromedriver (`tests::browser::Browser`). The origin's
//! routers run in this process on free ports with fresh state (`support::Origin`), started once;
//! no edge is involved (the console is on the private admin listener). Each scenario starts its
//! own browser, so no cookie or page carries over from one to the next. A module per area lists
//! its scenarios in `SCENARIOS`; `AREAS` orders the areas; scenarios run one at a time.
//!
//! Chromium and chromedriver come from `scripts/setup-chromium.sh` (run by scripts/setup.sh);
//! without them every scenario fails, saying so. Screenshots go to `target/screenshots/`.
//!
//! As in the end-to-end suite, a scenario cannot be written and not run: the first trial,
//! `registry::every_scenario_is_registered`, fails for any scenario-shaped function that no
//! list names.

#![deny(dead_code)]

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use libtest_mimic::{Arguments, Failed, Trial};
use support::Origin;

/// One operator story in the browser.
type Scenario = fn(Arc<Origin>) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

/// A scenario with its name, `browser::<area>::<function>`.
type Named = (&'static str, Scenario);

/// `scenarios![first, second]`: an area's scenarios in the order they run.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        &[$((
            concat!(module_path!(), "::", stringify!($name)),
            (|origin| Box::pin($name(origin))) as $crate::Scenario,
        )),*]
    };
}

mod support;

mod console;
mod docs;

/// Every area, in the order its scenarios run.
const AREAS: &[&[Named]] = &[docs::SCENARIOS, console::SCENARIOS];

fn main() -> std::process::ExitCode {
    let mut arguments = Arguments::from_args();
    arguments.test_threads = Some(1);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let scenarios: Vec<(&str, Scenario)> = AREAS
        .iter()
        .flat_map(|area| area.iter())
        .map(|&(name, scenario)| (name.strip_prefix("browser::").unwrap_or(name), scenario))
        .collect();
    let selected = |name: &str| match arguments.filter.as_deref() {
        None => true,
        Some(filter) if arguments.exact => name == filter,
        Some(filter) => name.contains(filter),
    };
    let wanted = !arguments.list && scenarios.iter().any(|(name, _)| selected(name));
    let origin = if wanted {
        match runtime.block_on(Origin::start()) {
            Ok(origin) => Some(Arc::new(origin)),
            Err(error) => {
                eprintln!("could not start the origin: {error:#}");
                return std::process::ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let registry = Trial::test(
        "registry::every_scenario_is_registered",
        every_scenario_is_registered,
    );
    let trials = std::iter::once(registry)
        .chain(scenarios.into_iter().map(|(name, scenario)| {
            let origin = origin.clone();
            let handle = runtime.handle().clone();
            Trial::test(name, move || {
                let origin = origin.context("origin not started")?;
                handle
                    .block_on(scenario(origin))
                    .map_err(|error| format!("{error:#}").into())
            })
        }))
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    drop(origin);
    // The origin's tasks end with the runtime.
    drop(runtime);
    conclusion.exit_code()
}

/// Every top-level `async fn` in this target's sources that takes an `Arc<Origin>` (the
/// scenario signature) is in some area's list, and no name is listed twice.
fn every_scenario_is_registered() -> Result<(), Failed> {
    let registered: Vec<&str> = AREAS
        .iter()
        .flat_map(|area| area.iter())
        .map(|(name, _)| name.rsplit("::").next().unwrap_or(name))
        .collect();
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    tests::registry::every_scenario_is_registered(&registered, &directory, "Arc<Origin>")
        .map_err(Failed::from)
}
