//! The origin's integration tests, one binary with a module per area, so the crate and its
//! dependencies are linked once instead of once per file. Most tests drive a `TestApp` (the
//! real routers on `127.0.0.1:0`, a fresh SQLite file); what only the binary does runs on
//! `origin serve` itself (`support::process`). No test changes process-wide state (environment,
//! working directory, logging), so all of them can share this one process; a test's name is
//! its module and function, e.g. `cargo test -p origin --test it crash::`.

mod support;

mod addresses;
mod admin;
mod admin_orders;
mod admin_user_reads;
mod backup;
mod comments;
mod commerce;
mod console;
mod console_catalog;
mod crash;
mod delivery_mail;
mod delivery_sms;
mod dev_script;
mod edge_outbox;
mod health;
mod litestream;
mod logging;
mod login_modes;
mod member;
mod metrics;
mod payments;
#[cfg(target_os = "linux")]
mod placement;
mod platform;
mod print_auth;
mod profile;
mod readme;
mod scheduled_backup;
mod shutdown;
mod store_auth;
mod token_cache;
mod trust_boundaries;
mod uploads;
mod wechat;
