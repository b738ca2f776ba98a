//! An axum service with breakers on both sides, serving only on 127.0.0.1 and stopping by
//! itself after driving a few requests at itself:
//!
//! - **outbound**: `/orders` calls a downstream (`/stock`, another local server) through a
//!   client-side breaker, which fails fast while the downstream is down;
//! - **inbound**: a breaker per matched route in `Router::layer`, so that a route whose
//!   downstream is down is failed fast at the edge without taking the other routes down;
//! - **health**: `/health` is added after `Router::layer`, so no breaker ever answers it.
//!
//! ```text
//! cargo run --example axum_server --features axum,reqwest,breaker
//! ```
//!
//! See `docs/breakers.md` for where each breaker goes and why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::Empty;
use seawall::breaker::keyed::axum::{matched_route, Route};
use seawall::breaker::{http as breaker_http, KeyedCircuitBreakerBuilder};
use seawall::core::BoxError;
use seawall::http::client::ReqwestService;
use seawall::http::{RejectionResponse, RejectionResponseLayer};
use tower::{ServiceBuilder, ServiceExt};

/// Serves `app` on an ephemeral port of 127.0.0.1 until `stop` fires.
async fn serve(
    app: Router,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<std::net::SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut stop = stop;
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            })
            .await;
    });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);

    // The downstream: answers 200 while up, 503 while down.
    let up = Arc::new(AtomicBool::new(true));
    let stock = serve(
        Router::new().route(
            "/stock",
            get({
                let up = up.clone();
                move || async move {
                    if up.load(Ordering::SeqCst) {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                }
            }),
        ),
        stop.clone(),
    )
    .await?;

    // Outbound: a client-side breaker in front of the downstream. Three failures in a row
    // open it for 10 s; meanwhile calls fail fast with a `CircuitOpen` rejection.
    let client_breaker = breaker_http::builder()
        .name("stock")
        .consecutive_failures(3)
        .open_duration(Duration::from_secs(10))
        .build()?;
    let stock_client = ServiceBuilder::new()
        .layer(client_breaker.clone())
        .service(ReqwestService::new(reqwest::Client::new()));
    let stock_url: Arc<str> = Arc::from(format!("http://{stock}/stock"));

    // `/orders` asks the downstream. A rejection from the client breaker becomes 503 with
    // Retry-After; a failed downstream, 502.
    let orders = move |State(url): State<Arc<str>>| {
        let client = stock_client.clone();
        async move {
            let request = http::Request::get(&*url).body(Empty::<Bytes>::new());
            let Ok(request) = request else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            match client.oneshot(request).await {
                Ok(response) if response.status().is_success() => "order placed".into_response(),
                Ok(_) => StatusCode::BAD_GATEWAY.into_response(),
                Err(error) => match RejectionResponse::find(error.as_ref()) {
                    Some(rejection) => rejection.into_response(),
                    None => StatusCode::BAD_GATEWAY.into_response(),
                },
            }
        }
    };

    // Inbound: one breaker per matched route (the fallback, with no route, bypasses them).
    // Five failures in a row open a route's breaker; an open one answers 503 at once.
    let route_breakers = KeyedCircuitBreakerBuilder::optional(matched_route::<axum::body::Body>)
        .breaker(
            breaker_http::builder()
                .name("routes")
                .consecutive_failures(5),
        )
        .build()?;
    let app = Router::new()
        .route("/orders", get(orders))
        .route("/users", get(|| async { "users" }))
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(route_breakers.clone()),
        )
        // After `layer`: outside every breaker.
        .route("/health", get(|| async { "ok" }))
        .with_state(stock_url);
    let server = serve(app, stop.clone()).await?;
    println!("serving on http://{server} (downstream on http://{stock})");

    let http = reqwest::Client::new();
    let round = |label: String| {
        let http = http.clone();
        async move {
            let mut line = format!("{label:<22}");
            for path in ["/orders", "/users", "/health"] {
                let response = http.get(format!("http://{server}{path}")).send().await?;
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!(" (retry after {v} s)"))
                    .unwrap_or_default();
                line.push_str(&format!(
                    "  {path} {}{retry_after}",
                    response.status().as_u16()
                ));
            }
            println!("{line}");
            Ok::<_, BoxError>(())
        }
    };

    round("downstream up".to_owned()).await?;
    up.store(false, Ordering::SeqCst);
    for i in 1..=6 {
        round(format!("downstream down, #{i}")).await?;
    }
    let orders_breaker = route_breakers.handle(&Route::new("/orders"));
    println!(
        "client breaker: {:?}; /orders breaker: {:?}; keys with a breaker: {}",
        client_breaker.handle().state(),
        orders_breaker.map(|h| h.state()),
        route_breakers.len(),
    );

    println!(
        "(502: the downstream failed; 503 retry after 11 s: the client breaker failed fast \
         (its 10 s open time plus up to 10% jitter, rounded up); 503 retry after 2 s: the \
         /orders route's own breaker failed fast at the edge)"
    );
    let _ = stop_tx.send(true);
    Ok(())
}
