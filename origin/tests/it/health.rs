//! `GET /healthz` and `GET /readyz` on the admin listener: what each check sees, and that each
//! one alone turns readiness into 503.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::support::TestApp;

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app
        .admin_request(Method::GET, "/readyz")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn healthz_answers_alive_and_readyz_reports_every_check_ready() {
    let app = TestApp::spawn().await;
    let alive = app
        .admin_request(Method::GET, "/healthz")
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
    let alive = alive.json::<Value>().await.unwrap();
    assert_eq!(alive["status"], "alive");
    assert_eq!(alive["pid"], std::process::id());

    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    let checks = &body["checks"];
    for name in ["database", "writer", "disk", "edge_outbox"] {
        assert_eq!(checks[name]["ok"], true, "{name}: {body}");
    }
    let version = app.count("PRAGMA user_version");
    assert!(version >= 7);
    assert_eq!(checks["database"]["schema_version"], version);
    assert_eq!(checks["database"]["expected_schema_version"], version);
    assert!(checks["disk"]["free_bytes"].as_u64().unwrap() > 0);
    assert_eq!(checks["edge_outbox"]["pending"], 0);

    // Operations endpoints are not on the public listener.
    let public = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(public.status(), 404);
}

#[tokio::test]
async fn readyz_is_503_when_the_data_directory_is_short_of_space() {
    let app = TestApp::spawn_with(|config| config.ops.ready_min_free_bytes = u64::MAX).await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["checks"]["disk"]["ok"], false);
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["checks"]["writer"]["ok"], true);
}

#[tokio::test]
async fn readyz_is_503_while_edge_instructions_pile_up() {
    let app = TestApp::spawn_with(|config| config.ops.ready_max_edge_backlog = 1).await;
    assert_eq!(readiness(&app).await.0, 200);
    // The test app's edge is unreachable, so queued instructions stay queued.
    for user in 1..=2 {
        app.queue_edge_bump(user, 30).await;
    }
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    let outbox = &body["checks"]["edge_outbox"];
    assert_eq!(outbox["ok"], false);
    assert_eq!(outbox["pending"], 2);
    assert!(outbox["oldest_age_secs"].as_i64().unwrap() >= 30, "{body}");
}

#[tokio::test]
async fn readyz_is_503_when_the_schema_is_not_the_one_this_binary_migrates_to() {
    let app = TestApp::spawn().await;
    app.db().pragma_update(None, "user_version", 999).unwrap();
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["database"]["ok"], false);
    assert_eq!(body["checks"]["database"]["schema_version"], 999);
}

#[tokio::test]
async fn readyz_is_503_when_the_writer_does_not_take_a_job_in_time() {
    let app = TestApp::spawn().await;
    let db = app.state.db.clone();
    // Occupy the writer thread for longer than the readiness check waits.
    let stuck = tokio::spawn(async move {
        db.write(|_| -> origin::db::StorageResult<()> {
            std::thread::sleep(Duration::from_secs(3));
            Ok(())
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["writer"]["ok"], false);
    assert!(
        body["checks"]["writer"]["error"]
            .as_str()
            .unwrap()
            .contains("no answer"),
        "{body}"
    );
    stuck.await.unwrap().unwrap();
    assert_eq!(readiness(&app).await.0, 200);
}
