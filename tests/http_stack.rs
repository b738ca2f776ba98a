//! A whole Seawall HTTP stack as a user would deploy it: an axum server with a circuit
//! breaker in `Router::layer`, called by a reqwest client with Seawall retries, over TCP on
//! 127.0.0.1.
#![cfg(all(
    feature = "axum",
    feature = "reqwest",
    feature = "retry",
    feature = "breaker"
))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use seawall::breaker::{self, State};
use seawall::http::client::ReqwestService;
use seawall::http::{RejectionResponseLayer, ReplayLayer};
use seawall::retry::{Backoff, HttpPolicy, RetryLayer};
use tower::{ServiceBuilder, ServiceExt};

/// What the server's handler saw.
#[derive(Default)]
struct Backend {
    healthy: AtomicBool,
    calls: AtomicUsize,
    bodies: std::sync::Mutex<Vec<Bytes>>,
}

#[tokio::test]
async fn breaker_sheds_with_503_and_the_client_neither_hammers_nor_loses_the_body() {
    let backend = Arc::new(Backend::default());
    backend.healthy.store(true, Ordering::SeqCst);

    // The server: a handler that fails with 503 while unhealthy, behind a breaker that trips
    // after 3 failures in a row and stays open for 30 s.
    let breaker = breaker::http::builder()
        .consecutive_failures(3)
        .failure_rate(None)
        .open_duration(Duration::from_secs(30))
        .fixed_open_duration()
        .build()
        .unwrap();
    let handle = breaker.handle();
    let app = Router::new()
        .route(
            "/orders",
            post({
                let backend = backend.clone();
                move |body: Bytes| async move {
                    backend.calls.fetch_add(1, Ordering::SeqCst);
                    backend.bodies.lock().unwrap().push(body);
                    if backend.healthy.load(Ordering::SeqCst) {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                }
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(breaker),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // The client: replayable bodies, then retries (3 attempts, keyed POSTs allowed).
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new().allow_keyed_post(true))
                .backoff(Backoff::constant(Duration::from_millis(1)))
                .unlimited_budget()
                .build()
                .unwrap(),
        )
        .service(ReqwestService::new(reqwest::Client::new()));
    let send = |body: &'static str| {
        let request = http::Request::post(format!("http://{addr}/orders"))
            .header("idempotency-key", body)
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let client = client.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(10), client.oneshot(request))
                .await
                .expect("no request may hang")
                .unwrap()
        }
    };

    assert_eq!(send("order-1").await.status(), 200);
    assert_eq!(handle.state(), State::Closed);

    // The backend goes down. The client retries the first failure, and the third failure
    // in a row trips the server's breaker.
    backend.healthy.store(false, Ordering::SeqCst);
    let response = send("order-2").await;
    assert_eq!(response.status(), 503);
    assert_eq!(handle.state(), State::Open);
    assert_eq!(backend.calls.load(Ordering::SeqCst), 1 + 3);
    // Every attempt carried the whole body.
    assert!(backend.bodies.lock().unwrap()[1..]
        .iter()
        .all(|b| b.as_ref() == b"order-2"));

    // Open: the server answers 503 at once with Retry-After and "do not retry", the handler
    // is not called, and the client does not retry.
    let response = send("order-3").await;
    assert_eq!(response.status(), 503);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(response.headers()["seawall-retry"], "no");
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("circuit open"));
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        4,
        "the open breaker kept the request, and its retries, away from the handler"
    );

    // An operator closes the breaker once the backend is back.
    backend.healthy.store(true, Ordering::SeqCst);
    handle.force_closed();
    assert_eq!(send("order-4").await.status(), 200);
    server.abort();
}
