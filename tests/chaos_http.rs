//! Fault injection in a running system: an axum server on 127.0.0.1 with an outcome fault
//! targeted by header, called by a real reqwest client. Only the marked request fails, with
//! the chosen status and `Retry-After`, and the operator's switch turns it off.
#![cfg(all(feature = "chaos", feature = "axum", feature = "reqwest"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use seawall::chaos::{HeaderTarget, InjectOutcomeLayer, Injection};

#[tokio::test]
async fn a_marked_request_gets_the_injected_status_and_retry_after() {
    let calls = Arc::new(AtomicUsize::new(0));
    let injection = Injection::builder()
        .rate(1.0)
        .seed(1)
        .target(HeaderTarget::present("x-chaos-fault").unwrap())
        // Armed off, as in production: nothing happens until the operator enables it.
        .enabled(false)
        .build()
        .unwrap();
    let layer = InjectOutcomeLayer::new(injection, StatusCode::SERVICE_UNAVAILABLE)
        .retry_after(Duration::from_secs(5));
    let handle = layer.handle();
    let app = Router::new()
        .route(
            "/orders",
            get({
                let calls = calls.clone();
                move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    "order list"
                }
            }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let send = |marked: bool| {
        let mut request = client.get(format!("http://{addr}/orders"));
        if marked {
            request = request.header("x-chaos-fault", "1");
        }
        async move {
            tokio::time::timeout(Duration::from_secs(10), request.send())
                .await
                .expect("no request may hang")
                .unwrap()
        }
    };

    // Disabled: even the marked request reaches the handler.
    assert_eq!(send(true).await.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    handle.enable();
    let response = send(true).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.text().await.unwrap(), "injected fault");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the handler was not called"
    );

    // Unmarked requests are untouched while the fault is on.
    for _ in 0..5 {
        let response = send(false).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "order list");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 6);

    handle.disable();
    assert_eq!(send(true).await.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 7);
    server.abort();
}
