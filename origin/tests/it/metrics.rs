//! `GET /metrics` on the admin listener: the scrape parses as Prometheus text, every sample
//! belongs to a declared family, histograms are well formed, and the figures match what the
//! test did (requests by route and status, hashes admitted and refused, write batches, the
//! WAL, the edge outbox, payment callbacks by result, notifications by channel).

use std::collections::{BTreeMap, HashMap};

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp};

type Labels = Vec<(String, String)>;

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format, failing on anything malformed: a sample whose family
/// was not declared by a `# TYPE` line, a bad label set, a value that is not a number.
fn parse(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "twice: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line: {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("labels: {line}"));
                (name.to_owned(), parse_labels(body, line))
            }
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|kind| kind == "histogram"))
            })
            .unwrap_or(&name);
        assert!(types.contains_key(family), "undeclared family: {line}");
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    (types, samples)
}

fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(
            chars.next(),
            Some('"'),
            "label value must be quoted: {line}"
        );
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("escape at end: {line}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated value: {line}"),
            }
        }
        labels.insert(name, value);
        match chars.next() {
            Some(',') | None => {}
            Some(other) => panic!("unexpected {other:?}: {line}"),
        }
    }
    labels
}

struct Scrape {
    types: HashMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    async fn of(app: &TestApp) -> Scrape {
        let response = app
            .admin_request(Method::GET, "/metrics")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let (types, samples) = parse(&response.text().await.unwrap());
        let scrape = Scrape { types, samples };
        scrape.check_histograms();
        scrape
    }

    /// The value of the one sample called `name` with (at least) `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|sample| {
                sample.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| sample.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(matching.len() <= 1, "{name} {labels:?} is ambiguous");
        matching.first().map(|sample| sample.value)
    }

    /// Every histogram: buckets cumulative, `+Inf` equal to `_count`, per label set.
    fn check_histograms(&self) {
        for (family, _) in self.types.iter().filter(|(_, kind)| *kind == "histogram") {
            // Label set (without `le`) → (bound, cumulative count) per bucket.
            let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for sample in self
                .samples
                .iter()
                .filter(|s| s.name == format!("{family}_bucket"))
            {
                let mut labels = sample.labels.clone();
                let le = labels.remove("le").expect("le");
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                series
                    .entry(labels.into_iter().collect())
                    .or_default()
                    .push((bound, sample.value));
            }
            for (labels, buckets) in series {
                assert!(
                    buckets
                        .windows(2)
                        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                    "{family} {labels:?}"
                );
                let (last_bound, last) = *buckets.last().unwrap();
                assert!(last_bound.is_infinite());
                let count = self
                    .samples
                    .iter()
                    .find(|s| {
                        s.name == format!("{family}_count")
                            && s.labels.clone().into_iter().collect::<Vec<_>>() == labels
                    })
                    .expect("_count")
                    .value;
                assert_eq!(last, count, "{family} {labels:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_scrape_counts_requests_by_route_and_status_and_reports_the_database() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        let response = app
            .request(Method::GET, "/api/response_code")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let missing = app
        .request(Method::GET, "/api/no-such-route")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let (_, user_id) = app.member().await;
    let address = app
        .request(
            Method::DELETE,
            &format!("/api/users/self/addresses/{}", 999_999),
        )
        .header(
            "token",
            app.register_print(&app.phone()).await["access_token"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(address.status(), 404);
    assert!(user_id > 0);

    let scrape = Scrape::of(&app).await;
    assert_eq!(scrape.types["origin_http_requests_total"], "counter");
    assert_eq!(
        scrape.types["origin_http_request_duration_seconds"],
        "histogram"
    );
    let requests = |route: &str, method: &str, status: &str| {
        scrape.value(
            "origin_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/api/response_code", "GET", "200"), Some(3.0));
    assert_eq!(requests("unmatched", "GET", "404"), Some(1.0));
    // Routes are labelled by template, not by the id in the path.
    assert_eq!(
        requests("/api/users/self/addresses/{id}", "DELETE", "404"),
        Some(1.0)
    );
    assert_eq!(
        scrape.value(
            "origin_http_request_duration_seconds_count",
            &[
                ("route", "/api/response_code"),
                ("method", "GET"),
                ("status", "200")
            ]
        ),
        Some(3.0)
    );

    // Two registrations wrote: batches were committed, each of at least one job.
    let batches = scrape.value("origin_db_write_batches_total", &[]).unwrap();
    assert!(batches >= 2.0, "{batches}");
    assert_eq!(
        scrape.value("origin_db_write_batch_size_count", &[]),
        Some(batches)
    );
    assert_eq!(
        scrape.value("origin_db_commit_seconds_count", &[]),
        Some(batches)
    );
    let jobs = scrape.value("origin_db_write_batch_size_sum", &[]).unwrap();
    assert!(jobs >= batches);
    assert_eq!(
        scrape.value("origin_db_commit_failures_total", &[]),
        Some(0.0)
    );
    let wal = std::fs::metadata(app.dir.path().join("origin.sqlite3-wal"))
        .unwrap()
        .len();
    assert!(wal > 0);
    assert!(scrape.value("origin_db_wal_bytes", &[]).unwrap() > 0.0);
    assert!(scrape.value("origin_data_dir_free_bytes", &[]).unwrap() > 0.0);
    let pending = app.count("SELECT count(*) FROM edge_outbox WHERE delivered_at IS NULL");
    assert_eq!(
        scrape.value("origin_edge_outbox_pending", &[]),
        Some(pending as f64)
    );

    // The scrape itself is counted on the next one.
    let again = Scrape::of(&app).await;
    assert_eq!(
        again.value(
            "origin_http_requests_total",
            &[("route", "/metrics"), ("method", "GET"), ("status", "200")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn hashes_admitted_and_refused_are_counted_exactly() {
    let app = TestApp::spawn_with(|config| {
        config.hash_workers = 1;
        config.hash_queue = 0;
    })
    .await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let before = Scrape::of(&app).await;
    let started_before = before.value("origin_password_hashes_total", &[]).unwrap();
    assert!(started_before >= 1.0, "registration hashed a password");
    assert_eq!(
        before.value("origin_password_hash_capacity", &[]),
        Some(1.0)
    );
    assert_eq!(
        before.value("origin_password_hash_refusals_total", &[]),
        Some(0.0)
    );

    // Nine at once: under the ten attempts that would lock the account.
    let logins: Vec<_> = (0..9)
        .map(|_| {
            app.request_from(Method::POST, "/api/login", &app.fresh_ip())
                .json(&json!({ "username": phone, "password": PASSWORD }))
                .send()
        })
        .collect();
    let statuses: Vec<u16> = futures_statuses(logins).await;
    let busy = statuses.iter().filter(|s| **s == 503).count() as f64;
    let signed_in = statuses.iter().filter(|s| **s == 200).count() as f64;
    assert_eq!(busy + signed_in, 9.0, "{statuses:?}");
    assert!(
        busy > 0.0,
        "one hashing thread and no queue must refuse some of nine at once"
    );

    let after = Scrape::of(&app).await;
    assert_eq!(
        after.value("origin_password_hash_refusals_total", &[]),
        Some(busy)
    );
    assert_eq!(
        after.value("origin_password_hashes_total", &[]),
        Some(started_before + signed_in)
    );
    assert_eq!(
        after.value("origin_password_hashes_in_flight", &[]),
        Some(0.0)
    );
    assert_eq!(
        after.value(
            "origin_http_requests_total",
            &[
                ("route", "/api/login"),
                ("method", "POST"),
                ("status", "503")
            ]
        ),
        Some(busy)
    );
}

async fn futures_statuses(
    requests: Vec<impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static>,
) -> Vec<u16> {
    let handles: Vec<_> = requests.into_iter().map(tokio::spawn).collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap().unwrap().status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn the_edge_outbox_backlog_is_reported() {
    let app = TestApp::spawn().await;
    for user in 1..=3 {
        app.queue_edge_bump(user, 60).await;
    }
    let scrape = Scrape::of(&app).await;
    assert_eq!(scrape.value("origin_edge_outbox_pending", &[]), Some(3.0));
    assert!(
        scrape
            .value("origin_edge_outbox_oldest_age_seconds", &[])
            .unwrap()
            >= 60.0
    );
}

#[tokio::test]
async fn payment_callbacks_by_result_and_notifications_by_channel_are_counted() {
    let app = TestApp::spawn().await;
    let before = Scrape::of(&app).await;
    assert_eq!(before.types["origin_payment_callbacks_total"], "counter");
    assert_eq!(before.types["origin_notifications_total"], "counter");
    // Every label value is there from the start, at zero.
    for result in ["settled", "replayed", "refused"] {
        assert_eq!(
            before.value(
                "origin_payment_callbacks_total",
                &[("provider", "sandbox"), ("result", result)]
            ),
            Some(0.0)
        );
    }
    for channel in ["sms", "mail", "captcha"] {
        assert_eq!(
            before.value("origin_notifications_total", &[("channel", channel)]),
            Some(0.0)
        );
    }

    // Notifications: an SMS code (the member's registration), a captcha, and a sign-in code
    // for an unknown phone, refused in the transaction that would have queued it: not counted.
    let registered = app.register_print(&app.phone()).await;
    let token = registered["access_token"].as_str().unwrap().to_owned();
    app.captcha("metricsuser").await;
    let unknown = app
        .request_from(Method::POST, "/api/sms", &app.fresh_ip())
        .json(&json!({ "phone": app.phone(), "is_register": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);

    // Payment callbacks: one that pays, two replays of it, two refused (a wrong amount, a
    // wrong signature).
    let created = app
        .request(Method::POST, "/api/recharge_orders")
        .header("token", &token)
        .json(&json!({ "price": "20.00", "pay_type": "wechat" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let order_no = created["data"]["order_no"].as_str().unwrap().to_owned();
    let secret = app.state.config.pay_sandbox_secret.expose();
    let good = crate::support::sandbox_notify_form(secret, &order_no, "20.00", "T-1");
    let wrong_amount = crate::support::sandbox_notify_form(secret, &order_no, "19.99", "T-1");
    let mut forged = good.clone();
    for (name, value) in &mut forged {
        if name == "sign" {
            *value = "0".repeat(64);
        }
    }
    for (form, status) in [
        (&good, 200),
        (&good, 200),
        (&good, 200),
        (&wrong_amount, 400),
        (&forged, 400),
    ] {
        let answer = app
            .request(Method::POST, "/api/payments/sandbox/notify")
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status);
    }

    let after = Scrape::of(&app).await;
    let callbacks = |result: &str| {
        after.value(
            "origin_payment_callbacks_total",
            &[("provider", "sandbox"), ("result", result)],
        )
    };
    assert_eq!(callbacks("settled"), Some(1.0));
    assert_eq!(callbacks("replayed"), Some(2.0));
    assert_eq!(callbacks("refused"), Some(2.0));
    let notifications =
        |channel: &str| after.value("origin_notifications_total", &[("channel", channel)]);
    assert_eq!(notifications("sms"), Some(1.0));
    assert_eq!(notifications("captcha"), Some(1.0));
    assert_eq!(notifications("mail"), Some(0.0));
    // The same as what was committed to the outbox.
    for channel in ["sms", "mail", "captcha"] {
        let committed = app.count(&format!(
            "SELECT count(*) FROM outbox WHERE channel = '{channel}'"
        ));
        assert_eq!(notifications(channel), Some(committed as f64), "{channel}");
    }
}
