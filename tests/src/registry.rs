//! The check both scenario suites (`tests/tests/e2e`, `tests/tests/browser`) run first: every
//! scenario written is listed in some area's `SCENARIOS`, and none twice. It catches what the
//! dead-code lint cannot: a scenario that is only called from another one.

use std::collections::BTreeSet;
use std::path::Path;

/// `registered`: the listed scenarios' function names; `directory`: the suite's sources;
/// `marker`: what a scenario's signature contains (its argument type, e.g. `Arc<System>`).
pub fn every_scenario_is_registered(
    registered: &[&str],
    directory: &Path,
    marker: &str,
) -> Result<(), String> {
    let unique: BTreeSet<&str> = registered.iter().copied().collect();
    if unique.len() != registered.len() {
        return Err(format!("a scenario is listed twice: {registered:?}"));
    }
    let mut defined = BTreeSet::new();
    let entries = std::fs::read_dir(directory).map_err(|error| error.to_string())?;
    for entry in entries {
        let path = entry.map_err(|error| error.to_string())?.path();
        let source = std::fs::read_to_string(&path).map_err(|error| error.to_string())?;
        for line in source.lines() {
            let Some(rest) = line
                .strip_prefix("async fn ")
                .or_else(|| line.strip_prefix("pub async fn "))
            else {
                continue;
            };
            let start = source.find(line).unwrap_or_default();
            let signature = &source[start..];
            let signature = &signature[..signature.find('{').unwrap_or(signature.len())];
            if signature.contains(marker) {
                let name = rest.split('(').next().unwrap_or(rest);
                defined.insert(name.to_owned());
            }
        }
    }
    let unlisted: Vec<&String> = defined
        .iter()
        .filter(|name| !unique.contains(name.as_str()))
        .collect();
    if !unlisted.is_empty() {
        return Err(format!(
            "scenarios defined in {} but in no area's SCENARIOS: {unlisted:?}",
            directory.display()
        ));
    }
    // The scan must see every listed scenario, or it could miss an unlisted one too.
    let unseen: Vec<&&str> = unique
        .iter()
        .filter(|name| !defined.contains(**name))
        .collect();
    if !unseen.is_empty() {
        return Err(format!(
            "listed scenarios this check did not find: {unseen:?}"
        ));
    }
    Ok(())
}
