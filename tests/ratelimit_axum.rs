//! The rate limit through the facade: keyed by an API-key header on a real axum server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use http::HeaderName;
use seawall::http::RejectionResponseLayer;
use seawall::rate_limit::{FromHeader, RateLimitLayer};
use tower::ServiceBuilder;

/// 2 requests a minute per `x-api-key`: each key gets its own 2, and requests without the
/// header share one limit rather than escaping it.
#[tokio::test]
async fn each_api_key_has_its_own_limit() {
    let limit = RateLimitLayer::builder(2, Duration::from_secs(60))
        .key_by(FromHeader::new(HeaderName::from_static("x-api-key")))
        .build()
        .unwrap();
    let app = Router::new().route("/", get(|| async { "hello" })).layer(
        ServiceBuilder::new()
            .layer(RejectionResponseLayer::infallible())
            .layer(limit.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    let status = |key: Option<&'static str>| {
        let mut request = client.get(format!("http://{addr}/"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let mut got = Vec::new();
    for key in [
        Some("a"),
        Some("a"),
        Some("a"),
        Some("b"),
        None,
        None,
        None,
        Some("b"),
    ] {
        got.push(status(key).await);
    }
    assert_eq!(got, [200, 200, 429, 200, 200, 200, 429, 200]);
    assert_eq!(limit.keys(), 3, "a, b and no key");
}
