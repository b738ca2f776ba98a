//! reqwest users keep `.send()`: Seawall's retry stack as a reqwest-middleware middleware,
//! against a real axum server on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use bytes::Bytes;
use seawall::core::find_rejection;
use seawall::http::client::middleware::{StackError, TowerMiddleware};
use seawall::http::ReplayLayer;
use seawall::rate_limit::RateLimitLayer;
use seawall::retry::{Backoff, HttpPolicy, RetryLayer};
use tower::ServiceBuilder;

/// The bodies of every attempt the server saw.
type Seen = Arc<Mutex<Vec<Bytes>>>;

/// Fails the first attempt with 503, then answers 200 with the body it got.
async fn flaky(State(seen): State<Seen>, body: Bytes) -> (StatusCode, Bytes) {
    let mut seen = seen.lock().unwrap();
    seen.push(body.clone());
    if seen.len() == 1 {
        (StatusCode::SERVICE_UNAVAILABLE, Bytes::from("try again"))
    } else {
        (StatusCode::OK, body)
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn send_is_retried_by_the_seawall_stack_with_the_same_body() {
    let seen = Seen::default();
    let app = Router::new()
        .route("/orders/42", put(flaky))
        .with_state(seen.clone());
    let addr = serve(app).await;

    let stack = ServiceBuilder::new().layer(ReplayLayer::default()).layer(
        RetryLayer::builder()
            .policy(HttpPolicy::new())
            .max_attempts(3)
            .backoff(Backoff::constant(Duration::from_millis(5)))
            .build()
            .unwrap(),
    );
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TowerMiddleware::new(stack))
        .build();

    let body = "{\"item\": \"umbrella\", \"count\": 2}";
    let response = client
        .put(format!("http://{addr}/orders/42"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), body);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one failed attempt, one retry");
    assert!(seen.iter().all(|b| b == body.as_bytes()), "{seen:?}");
}

/// A Seawall rejection in the stack reaches the caller as reqwest-middleware's
/// `Middleware` error, in which `find_rejection` finds it; reqwest's own errors stay
/// `Reqwest` errors.
#[tokio::test]
async fn errors_keep_their_kind() {
    let app = Router::new().route("/", get(|| async { "hello" }));
    let addr = serve(app).await;
    let limit = RateLimitLayer::builder(1, Duration::from_secs(60))
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TowerMiddleware::new(limit))
        .build();
    let url = format!("http://{addr}/");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let err = client.get(&url).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(err) = err else {
        panic!("a middleware error: {err:?}");
    };
    assert!(err.downcast_ref::<StackError>().is_some());
    let rejection = find_rejection(err.as_ref()).expect("the rate limit's rejection");
    assert_eq!(rejection.kind().http_status(), 429);
    assert!(rejection.retry_after().is_some());

    // Nothing listens on a port just freed: a connection error, reqwest's.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TowerMiddleware::new(ReplayLayer::default()))
        .build();
    let err = client
        .get(format!("http://{closed}/"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, reqwest_middleware::Error::Reqwest(e) if e.is_connect()),
        "{err:?}"
    );
}
