//! Hedged requests over a real network: a reqwest client with Seawall's hedge layer calls
//! an axum server on 127.0.0.1 that stalls 2% of requests. The stalled attempts are
//! cancelled on the server when their hedge wins, and every attempt sends the same bytes.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "hedge"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::put;
use axum::Router;
use bytes::Bytes;
use http_body_util::Full;
use seawall::hedge::{HedgeLayer, HttpPolicy};
use seawall::http::client::ReqwestService;
use seawall::http::ReplayLayer;
use tokio::sync::Notify;
use tower::{ServiceBuilder, ServiceExt};

/// What the server saw.
#[derive(Default)]
struct Backend {
    /// Every attempt's body, by the request's key.
    bodies: Mutex<HashMap<String, Vec<Bytes>>>,
    /// Handlers dropped before they answered: attempts the client cancelled.
    cancelled: AtomicUsize,
    changed: Notify,
}

/// Counts the handler as cancelled if it is dropped before it answers.
struct Stalled(Arc<Backend>);
impl Drop for Stalled {
    fn drop(&mut self) {
        self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_losing_attempt_is_cancelled_on_the_server_and_bodies_match() {
    let backend = Arc::new(Backend::default());
    let app = Router::new().route(
        "/doc/{key}",
        put({
            let backend = backend.clone();
            move |axum::extract::Path(key): axum::extract::Path<String>, body: Bytes| async move {
                let first = {
                    let mut bodies = backend.bodies.lock().unwrap();
                    let seen = bodies.entry(key.clone()).or_default();
                    seen.push(body);
                    seen.len() == 1
                };
                // The first attempt of every 50th request stalls until the client leaves.
                if first && (key.ends_with("00") || key.ends_with("50")) {
                    let _stalled = Stalled(backend.clone());
                    std::future::pending::<()>().await;
                }
                "stored"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let hedge = HedgeLayer::builder()
        .delay(Duration::from_millis(200))
        .unlimited_budget()
        .policy(HttpPolicy::new())
        .build()
        .unwrap();
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(hedge.clone())
        .service(ReqwestService::new(reqwest::Client::new()));

    for i in 0..100 {
        let key = format!("{i:03}");
        let body = format!("document {key}: {}", "x".repeat(1000 + i));
        let request = http::Request::put(format!("http://{addr}/doc/{key}"))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response =
            tokio::time::timeout(Duration::from_secs(10), client.clone().oneshot(request))
                .await
                .expect("no request may hang")
                .unwrap();
        assert_eq!(response.status(), 200, "request {key}");
    }

    // The two stalled attempts lost to their hedges; the server sees each dropped.
    tokio::time::timeout(Duration::from_secs(10), async {
        while backend.cancelled.load(Ordering::SeqCst) < 2 {
            let changed = backend.changed.notified();
            if backend.cancelled.load(Ordering::SeqCst) >= 2 {
                break;
            }
            changed.await;
        }
    })
    .await
    .expect("the server saw both losing attempts cancelled");
    assert_eq!(backend.cancelled.load(Ordering::SeqCst), 2);
    let stats = hedge.stats();
    assert_eq!((stats.hedges, stats.won), (2, 2), "{stats:?}");

    let bodies = backend.bodies.lock().unwrap();
    assert_eq!(bodies.values().map(Vec::len).sum::<usize>(), 102);
    for (key, seen) in bodies.iter() {
        assert!(
            seen.iter().all(|b| b == &seen[0]),
            "attempts of {key} differ"
        );
        assert!(seen[0].starts_with(format!("document {key}: ").as_bytes()));
    }
    server.abort();
}
