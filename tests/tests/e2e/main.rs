//! The end-to-end suite: the real origin and the real worker under `wrangler dev`, started once
//! with fresh state, driven through the edge as clients of both documents would. A module per
//! area lists its scenarios in `SCENARIOS`, beside their definitions; `AREAS` below orders the
//! areas. Scenarios run one at a time, in that order.
//!
//! A scenario cannot be written and not run: one missing from its area's list is dead code,
//! which this crate denies, and the first trial, `registry::every_scenario_is_registered` (run
//! without starting the system), fails for any scenario-shaped function that no list names.

#![deny(dead_code)]

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use libtest_mimic::{Arguments, Failed, Trial};
use tests::{Build, System};

/// One client story against the running system.
type Scenario = fn(Arc<System>) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

/// A scenario with its name, `e2e::<area>::<function>`.
type Named = (&'static str, Scenario);

/// `scenarios![first, second]`: an area's scenarios in the order they run, each named after its
/// function.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        &[$((
            concat!(module_path!(), "::", stringify!($name)),
            (|system| Box::pin($name(system))) as $crate::Scenario,
        )),*]
    };
}

mod support;

mod auth;
mod cache;
mod clients;
mod commerce;
mod limits;
mod protocol;
mod resilience;
mod uploads;

/// Every area, in the order its scenarios run. The scenarios do not depend on each other's
/// data (each makes its own users, names and client addresses), with one exception, which
/// this order encodes: `resilience` disturbs the whole system (a worker panics, the origin is
/// stopped and restarted), so it runs after every other area.
const AREAS: &[&[Named]] = &[
    clients::SCENARIOS,
    auth::SCENARIOS,
    limits::SCENARIOS,
    cache::SCENARIOS,
    uploads::SCENARIOS,
    commerce::SCENARIOS,
    protocol::SCENARIOS,
    resilience::SCENARIOS,
];

fn main() -> std::process::ExitCode {
    let mut arguments = Arguments::from_args();
    arguments.test_threads = Some(1);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let scenarios: Vec<(&str, Scenario)> = AREAS
        .iter()
        .flat_map(|area| area.iter())
        .map(|&(name, scenario)| (name.strip_prefix("e2e::").unwrap_or(name), scenario))
        .collect();
    let selected = |name: &str| match arguments.filter.as_deref() {
        None => true,
        Some(filter) if arguments.exact => name == filter,
        Some(filter) => name.contains(filter),
    };
    let wanted = !arguments.list && scenarios.iter().any(|(name, _)| selected(name));
    let system = if wanted {
        match runtime.block_on(System::start(Build::Debug)) {
            Ok(system) => Some(Arc::new(system)),
            Err(error) => {
                eprintln!("could not start origin + wrangler dev: {error:#}");
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
            let system = system.clone();
            let handle = runtime.handle().clone();
            Trial::test(name, move || {
                let system = system.context("system not started")?;
                handle
                    .block_on(scenario(system))
                    .map_err(|error| format!("{error:#}").into())
            })
        }))
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    if conclusion.has_failed()
        && let Some(system) = &system
    {
        eprintln!(
            "--- origin log (tail) ---\n{}",
            tail(&system.origin_log(), 40)
        );
    }
    drop(system);
    conclusion.exit_code()
}

/// Every top-level `async fn` in this suite's sources that takes an `Arc<System>` (the
/// scenario signature) is in some area's list, and no name is listed twice. This catches what
/// the dead-code lint cannot: a scenario that is only called from another one.
fn every_scenario_is_registered() -> Result<(), Failed> {
    let registered: Vec<&str> = AREAS
        .iter()
        .flat_map(|area| area.iter())
        .map(|(name, _)| name.rsplit("::").next().unwrap_or(name))
        .collect();
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    tests::registry::every_scenario_is_registered(&registered, &directory, "Arc<System>")
        .map_err(Failed::from)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
