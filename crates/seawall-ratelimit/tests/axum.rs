//! The limit in axum: across axum's per-request clones, and over the wire to a reqwest
//! client as 429 with the exact `Retry-After`, keyed per peer IP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{Request, StatusCode};
use seawall_http::RejectionResponseLayer;
use seawall_ratelimit::{PeerIp, RateLimitLayer};
use tower::{ServiceBuilder, ServiceExt};

/// tower #794: a limit in `Router::layer` must hold although axum clones the service for
/// every request (and the router itself is cloned for each `oneshot` here). 3 a minute:
/// exactly 3 of 10 requests get through, over two routes, the rest get 429.
#[tokio::test(start_paused = true)]
async fn the_limit_holds_across_axums_clones() {
    let limit = RateLimitLayer::builder(3, Duration::from_secs(60))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/other", get(|| async { "other" }))
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(limit),
        );
    let mut statuses = Vec::new();
    for i in 0..10 {
        let path = if i % 2 == 0 { "/" } else { "/other" };
        let request = Request::get(path).body(Body::empty()).unwrap();
        statuses.push(app.clone().oneshot(request).await.unwrap().status());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 3, "{statuses:?}");
    assert!(statuses[3..]
        .iter()
        .all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A real server on 127.0.0.1, a real reqwest client: 1 request a minute per peer IP, so
/// the second gets 429 with `Retry-After: 60` (the 60 s wait, less the milliseconds the
/// first request took, rounded up to whole seconds).
#[tokio::test]
async fn a_real_client_gets_429_with_the_exact_retry_after() {
    let limit = RateLimitLayer::builder(1, Duration::from_secs(60))
        .key_by(PeerIp)
        .build()
        .unwrap();
    let app = Router::new().route("/", get(|| async { "hello" })).layer(
        ServiceBuilder::new()
            .layer(RejectionResponseLayer::infallible())
            .layer(limit.clone()),
    );
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    let first = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.text().await.unwrap(), "hello");
    let second = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "60");
    // One key: the client's address, 127.0.0.1 (not a shared `None`: connect info was found).
    assert_eq!(limit.keys(), 1);
    let key = Some(std::net::IpAddr::from([127, 0, 0, 1]));
    assert!(
        limit.limit().check_key(&key).is_err(),
        "127.0.0.1 spent its minute"
    );
    assert!(
        limit.limit().check_key(&None).is_ok(),
        "no other key was touched"
    );
}
