//! Issue 8, "a server's own breaker takes the whole server down", end to end over TCP on
//! 127.0.0.1: `/orders` calls a downstream through a client-side breaker, and the server has
//! breakers keyed per matched route in `Router::layer`. When the downstream goes down,
//! `/orders` fails fast while `/users` and `/health` keep answering 200.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "breaker"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::Empty;
use seawall::breaker::keyed::axum::{matched_route, Route};
use seawall::breaker::{
    http as breaker_http, CircuitBreakerLayer, KeyedCircuitBreakerBuilder, State,
};
use seawall::http::client::ReqwestService;
use seawall::http::{RejectionResponse, RejectionResponseLayer};
use tower::{ServiceBuilder, ServiceExt};

/// What the test watches: the downstream's health and the calls that reach each side.
#[derive(Default)]
struct Counts {
    downstream_up: AtomicBool,
    downstream_calls: AtomicUsize,
    orders_calls: AtomicUsize,
}

/// Serves `app` on an ephemeral port of 127.0.0.1; returns its address.
async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn a_downstream_outage_fails_orders_fast_and_leaves_other_routes_up() {
    let counts = Arc::new(Counts::default());
    counts.downstream_up.store(true, Ordering::SeqCst);

    // The downstream: 200 while up, 503 while down.
    let downstream = serve(Router::new().route(
        "/stock",
        get({
            let counts = counts.clone();
            move || async move {
                counts.downstream_calls.fetch_add(1, Ordering::SeqCst);
                if counts.downstream_up.load(Ordering::SeqCst) {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    ))
    .await;

    // The outbound breaker: the server's client for the downstream.
    let client_breaker = breaker_http::builder()
        .consecutive_failures(3)
        .failure_rate(None)
        .open_duration(Duration::from_secs(30))
        .fixed_open_duration()
        .build()
        .unwrap();
    let client_handle = client_breaker.handle();
    let client = ServiceBuilder::new()
        .layer(client_breaker)
        .service(ReqwestService::new(reqwest::Client::new()));
    let stock_url = format!("http://{downstream}/stock");

    // `/orders` asks the downstream; its failures and the client breaker's rejections
    // become 503s.
    let orders = move |AppState(counts): AppState<Arc<Counts>>| {
        let client = client.clone();
        let request = http::Request::get(stock_url.as_str())
            .body(Empty::<Bytes>::new())
            .unwrap();
        async move {
            counts.orders_calls.fetch_add(1, Ordering::SeqCst);
            match client.oneshot(request).await {
                Ok(response) if response.status().is_success() => StatusCode::OK.into_response(),
                Ok(response) => response.status().into_response(),
                Err(error) => match RejectionResponse::find(error.as_ref()) {
                    Some(rejection) => rejection.into_response(),
                    None => StatusCode::BAD_GATEWAY.into_response(),
                },
            }
        }
    };

    // The inbound breakers: one per matched route, in `Router::layer`; `/health` is added
    // after the layer, so no breaker ever sees it.
    let server_breakers = KeyedCircuitBreakerBuilder::optional(matched_route::<axum::body::Body>)
        .breaker(
            breaker_http::builder()
                .consecutive_failures(5)
                .failure_rate(None)
                .open_duration(Duration::from_secs(30))
                .fixed_open_duration(),
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route("/orders", get(orders))
        .route("/users", get(|| async { "users" }))
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(server_breakers.clone()),
        )
        .route("/health", get(|| async { "ok" }))
        .with_state(counts.clone());
    let server = serve(app).await;

    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let request = http.get(format!("http://{server}{path}"));
        async move {
            let response = tokio::time::timeout(Duration::from_secs(10), request.send())
                .await
                .expect("no request may hang")
                .unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (response.status(), retry_after)
        }
    };

    for path in ["/orders", "/users", "/health"] {
        assert_eq!(get(path).await.0, StatusCode::OK, "{path} while healthy");
    }

    // The downstream goes down. Three 503s open the client breaker; its rejections are
    // 503s too, and five in a row open the server's breaker for `/orders` alone.
    counts.downstream_up.store(false, Ordering::SeqCst);
    for i in 0..5 {
        assert_eq!(
            get("/orders").await.0,
            StatusCode::SERVICE_UNAVAILABLE,
            "#{i}"
        );
        // Everything else keeps answering throughout.
        assert_eq!(get("/users").await.0, StatusCode::OK, "/users after #{i}");
        assert_eq!(get("/health").await.0, StatusCode::OK, "/health after #{i}");
    }
    assert_eq!(client_handle.state(), State::Open);
    assert_eq!(counts.downstream_calls.load(Ordering::SeqCst), 1 + 3);
    let orders_breaker = server_breakers.handle(&Route::new("/orders")).unwrap();
    assert_eq!(orders_breaker.state(), State::Open);
    assert_eq!(
        server_breakers
            .handle(&Route::new("/users"))
            .unwrap()
            .state(),
        State::Closed
    );

    // Now `/orders` fails fast at the server's edge: 503 with Retry-After, without running
    // the handler or reaching the downstream.
    let handled = counts.orders_calls.load(Ordering::SeqCst);
    for _ in 0..20 {
        let (status, retry_after) = get("/orders").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=30).contains(&secs), "{secs}");
    }
    assert_eq!(counts.orders_calls.load(Ordering::SeqCst), handled);
    assert_eq!(counts.downstream_calls.load(Ordering::SeqCst), 4);
    for path in ["/users", "/health"] {
        assert_eq!(
            get(path).await.0,
            StatusCode::OK,
            "{path} during the outage"
        );
    }
    assert_eq!(
        server_breakers.len(),
        2,
        "/orders and /users; /health has none"
    );
}

#[tokio::test]
async fn one_plain_server_breaker_would_have_taken_every_route_down() {
    // The set-up issue 8 reported, over TCP: one breaker in `Router::layer`.
    let breaker = CircuitBreakerLayer::builder()
        .classify(seawall::http::HttpClassifier::new())
        .consecutive_failures(5)
        .failure_rate(None)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/orders", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/users", get(|| async { "users" }))
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(breaker),
        );
    let server = serve(app).await;
    let http = reqwest::Client::new();
    for _ in 0..5 {
        http.get(format!("http://{server}/orders"))
            .send()
            .await
            .unwrap();
    }
    let users = http
        .get(format!("http://{server}/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        users.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "one breaker for all"
    );
}
