//! The durable outbox of edge instructions: delivered to the edge's invalidation endpoint with
//! the shared secret, retried while the edge fails, never lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::TcpListener;

use crate::support::{PASSWORD, TestApp};

#[derive(Clone, Default)]
struct FakeEdge {
    received: Arc<Mutex<Vec<(String, String)>>>,
    failures_left: Arc<Mutex<u32>>,
    /// When set, only deliveries whose body contains it are failed, so that a delivery of some
    /// other row cannot take the failure meant for the one under test.
    fail_only_containing: Arc<Mutex<Option<String>>>,
}

async fn spawn_fake_edge(failures: u32) -> (String, FakeEdge) {
    let edge = FakeEdge {
        failures_left: Arc::new(Mutex::new(failures)),
        ..FakeEdge::default()
    };
    let state = edge.clone();
    let router = Router::new().route(
        "/__edge/invalidate",
        post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let mut failures = state.failures_left.lock().unwrap();
                let targeted = state
                    .fail_only_containing
                    .lock()
                    .unwrap()
                    .as_ref()
                    .is_none_or(|marker| body.contains(marker.as_str()));
                if *failures > 0 && targeted {
                    *failures -= 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let secret = headers
                    .get("x-edge-secret")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                state.received.lock().unwrap().push((secret, body));
                StatusCode::OK
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, edge)
}

#[tokio::test]
async fn an_admin_password_reset_revokes_its_sessions_at_the_edge_after_retries() {
    let (edge_url, edge) = spawn_fake_edge(0).await;
    let app = TestApp::spawn_with(|config| config.edge_url = edge_url).await;
    // TestApp runs the edge delivery task, as `origin serve` does (a second one here would race
    // it for the same row and deliver it twice).

    let token = app.admin_token().await;
    assert!(!token.is_empty());
    // The one failure set up next is meant for the revocation's delivery: it is aimed at the
    // session's id, so a delivery of some other row (whatever signing in queued) cannot take it.
    // (Waiting for the outbox to drain first still raced a row queued after the wait.)
    let sid: String = app
        .db()
        .query_row(
            "SELECT id FROM sessions WHERE revoked_at IS NULL AND admin = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    *edge.fail_only_containing.lock().unwrap() = Some(sid.clone());
    *edge.failures_left.lock().unwrap() = 1;
    // Resetting the admin's password ends the session just made; the edge must hear of it.
    origin::domain::identity::create_super_admin(&app.state, "root".into(), PASSWORD.into())
        .await
        .unwrap();
    let revoked: String = app
        .db()
        .query_row(
            "SELECT id FROM sessions WHERE revoked_reason = 'password_changed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(revoked, sid);

    // The first delivery fails (503); the retry after the back-off succeeds. (A deadline, not a
    // measurement: generous, so a loaded machine does not fail it.)
    let carrying = |received: &[(String, String)]| {
        received
            .iter()
            .filter(|(_, body)| body.contains(&sid))
            .cloned()
            .collect::<Vec<_>>()
    };
    for _ in 0..300 {
        if !carrying(&edge.received.lock().unwrap()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = carrying(&edge.received.lock().unwrap());
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].0, app.state.config.edge_secret.expose());
    assert!(received[0].1.contains(&sid), "{}", received[0].1);
    let (attempts, delivered): (i64, Option<i64>) = app
        .db()
        .query_row("SELECT attempts, delivered_at FROM edge_outbox WHERE instructions LIKE '%' || ?1 || '%'", [&sid], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(attempts, 2);
    assert!(delivered.is_some());
}

#[tokio::test]
async fn undelivered_instructions_wait_in_the_database_while_the_edge_is_down() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = TestApp::spawn_with(|config| config.edge_url = dead_url).await;
    // TestApp runs the edge delivery task, as `origin serve` does (a second one here would race
    // it for the same row and deliver it twice).
    app.admin_token().await;
    origin::domain::identity::create_super_admin(&app.state, "root".into(), PASSWORD.into())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (attempts, delivered, error): (i64, Option<i64>, Option<String>) = app
        .db()
        .query_row(
            "SELECT attempts, delivered_at, last_error FROM edge_outbox ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(attempts >= 1);
    assert_eq!(delivered, None);
    assert!(error.is_some());
}
