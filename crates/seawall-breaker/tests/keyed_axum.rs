//! Server-side breakers in axum's `Router::layer`: one breaker per matched route, so one
//! failing route does not take the others down. (Over TCP, with a downstream breaker, in
//! the facade's `tests/server_breakers.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use seawall_breaker::keyed::axum::{matched_route, Route};
use seawall_breaker::{http, CircuitBreakerLayer, KeyedCircuitBreakerBuilder, State};
use seawall_http::RejectionResponseLayer;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// `/orders/{id}` fails with 503 (its downstream is down) and counts the calls that reach
/// it; `/users` answers 200. `breakers` goes in `Router::layer`; `/health` is added after
/// it.
fn app<L>(breakers: L, orders: Arc<AtomicUsize>) -> Router
where
    L: Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service:
        Service<Request<Body>, Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request<Body>>>::Response: axum::response::IntoResponse + 'static,
    <L::Service as Service<Request<Body>>>::Future: Send + 'static,
{
    Router::new()
        .route(
            "/orders/{id}",
            get(move || async move {
                orders.fetch_add(1, Ordering::SeqCst);
                StatusCode::SERVICE_UNAVAILABLE
            }),
        )
        .route("/users", get(|| async { StatusCode::OK }))
        .layer(breakers)
        .route("/health", get(|| async { StatusCode::OK }))
}

async fn status(app: &Router, path: &str) -> StatusCode {
    let req = Request::get(path).body(Body::empty()).unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

fn trips_after_two() -> seawall_breaker::CircuitBreakerBuilder<seawall_breaker::http::HttpClassifier>
{
    http::builder()
        .consecutive_failures(2)
        .failure_rate(None)
        .open_duration(Duration::from_secs(30))
        .fixed_open_duration()
}

#[tokio::test(start_paused = true)]
async fn a_failing_route_opens_its_own_breaker_only() {
    let breakers = KeyedCircuitBreakerBuilder::optional(matched_route::<Body>)
        .breaker(trips_after_two())
        .build()
        .unwrap();
    let orders = Arc::new(AtomicUsize::new(0));
    let app = app(
        ServiceBuilder::new()
            .layer(RejectionResponseLayer::infallible())
            .layer(breakers.clone()),
        orders.clone(),
    );
    // Two different ids, one route template: one key.
    assert_eq!(
        status(&app, "/orders/1").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&app, "/orders/2").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let route = breakers.handle(&Route::new("/orders/{id}")).unwrap();
    assert_eq!(route.state(), State::Open);

    // /orders now fails fast (503 with Retry-After, the handler is not called)...
    let req = Request::get("/orders/3").body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "30");
    assert_eq!(orders.load(Ordering::SeqCst), 2);
    // ...while the other routes answer.
    for _ in 0..5 {
        assert_eq!(status(&app, "/users").await, StatusCode::OK);
        assert_eq!(status(&app, "/health").await, StatusCode::OK);
    }
    // The fallback (no matched route) bypasses the breakers; /health is outside them.
    assert_eq!(status(&app, "/nope").await, StatusCode::NOT_FOUND);
    assert_eq!(breakers.len(), 2, "/orders/{{id}} and /users");
    assert!(breakers.handle(&Route::new("/health")).is_none());
}

#[tokio::test(start_paused = true)]
async fn one_plain_breaker_in_router_layer_takes_every_route_down() {
    // What issue 8 saw: a plain breaker in `Router::layer` is one breaker for all routes.
    let breaker = CircuitBreakerLayer::builder()
        .classify(seawall_breaker::http::HttpClassifier::new())
        .consecutive_failures(2)
        .failure_rate(None)
        .build()
        .unwrap();
    let app = app(
        ServiceBuilder::new()
            .layer(RejectionResponseLayer::infallible())
            .layer(breaker),
        Arc::new(AtomicUsize::new(0)),
    );
    status(&app, "/orders/1").await;
    status(&app, "/orders/1").await;
    assert_eq!(
        status(&app, "/users").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&app, "/health").await,
        StatusCode::OK,
        "added after the layer"
    );
}

#[tokio::test(start_paused = true)]
async fn a_key_function_can_keep_health_routes_out() {
    // With the health route inside `Router::layer`, the key function leaves it out.
    let breakers = KeyedCircuitBreakerBuilder::optional(|req: &Request<Body>| {
        matched_route(req).filter(|route| route.as_str() != "/health")
    })
    .breaker(trips_after_two())
    .build()
    .unwrap();
    let checks = Arc::new(AtomicUsize::new(0));
    let counted = checks.clone();
    let app = Router::new()
        .route(
            "/health",
            get(move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
                StatusCode::SERVICE_UNAVAILABLE
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(breakers.clone()),
        );
    for _ in 0..5 {
        // A failing health check is reported as it is, never failed fast.
        assert_eq!(
            status(&app, "/health").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert_eq!(
        checks.load(Ordering::SeqCst),
        5,
        "every check reached the handler"
    );
    assert!(breakers.is_empty());
}
