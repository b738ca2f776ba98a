//! A reqwest client with Seawall's retries: replayable bodies, a retry budget, and a POST that
//! is retried only because it carries an `Idempotency-Key`.
//!
//! Run with `cargo run --example reqwest_client --features full`. It starts a small axum
//! server on 127.0.0.1 (a port the OS picks) whose endpoints fail their first attempt, calls
//! it, prints what each call did on both sides, and exits.
//!
//! The client stack, outermost first:
//!
//! 1. `ReplayLayer`: keeps the request body as it streams (up to 64 KiB), so a retry
//!    re-sends exactly the same bytes, even from a streamed body.
//! 2. `RetryLayer` with `HttpPolicy`: retries transient failures (503 here) of idempotent
//!    requests, and of POSTs that carry an `Idempotency-Key` (`allow_keyed_post`), at most 3
//!    attempts, within a budget shared by every request: 20% of requests plus a floor.
//! 3. `ReqwestService`: a `reqwest::Client` as a tower service.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use seawall::core::BoxError;
use seawall::http::client::ReqwestService;
use seawall::http::ReplayLayer;
use seawall::retry::{Backoff, HttpPolicy, RetryBudget, RetryLayer};
use tower::{ServiceBuilder, ServiceExt};

/// The server's memory: attempts seen per endpoint and key, orders already created.
#[derive(Default)]
struct Backend {
    attempts: Mutex<HashMap<String, u32>>,
    bodies: Mutex<HashMap<String, Vec<Bytes>>>,
    created: Mutex<HashMap<String, String>>,
}

impl Backend {
    /// Counts one more attempt at `what` and returns its number (1 for the first).
    fn attempt(&self, what: &str) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let n = attempts.entry(what.to_owned()).or_default();
        *n += 1;
        *n
    }

    fn attempts(&self, what: &str) -> u32 {
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.get(what).copied().unwrap_or(0)
    }
}

/// Fails its first attempt with 503, then answers 200.
async fn flaky(State(backend): State<Arc<Backend>>) -> (StatusCode, String) {
    let n = backend.attempt("GET /flaky");
    let status = if n == 1 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    println!("    server: GET /flaky, attempt {n} -> {status}");
    (status, format!("flaky answered on attempt {n}"))
}

/// Creates an order once per `Idempotency-Key`; fails the first attempt at each key with 503.
async fn orders(
    State(backend): State<Arc<Backend>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let what = format!("POST /orders key={key:?}");
    let n = backend.attempt(&what);
    backend
        .bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(what.clone())
        .or_default()
        .push(body.clone());
    let (status, text) = if n == 1 {
        (StatusCode::SERVICE_UNAVAILABLE, "try again".to_owned())
    } else {
        let mut created = backend.created.lock().unwrap_or_else(|e| e.into_inner());
        let order = created
            .entry(key)
            .or_insert_with(|| format!("order of {} bytes", body.len()));
        (StatusCode::CREATED, order.clone())
    };
    println!(
        "    server: {what}, attempt {n}, {} body bytes -> {status}",
        body.len()
    );
    (status, text)
}

/// Always 503: an outage.
async fn down(State(backend): State<Arc<Backend>>) -> StatusCode {
    backend.attempt("GET /down");
    StatusCode::SERVICE_UNAVAILABLE
}

/// A request body that arrives in three chunks, as an upload would.
type Streamed =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn streamed(chunks: [&'static str; 3]) -> Streamed {
    let frames: Vec<_> = chunks
        .into_iter()
        .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
        .collect();
    StreamBody::new(futures_util::stream::iter(frames))
}

async fn run(addr: SocketAddr, backend: Arc<Backend>) -> Result<(), BoxError> {
    // A budget of 20% of requests plus 1 retry a second over 10 s (a floor of 10 retries): a
    // tenth of the default floor, so that the outage below shows the 20% soon.
    let budget = Arc::new(
        RetryBudget::builder()
            .percent_can_retry(0.2)
            .min_per_second(1)
            .build()?,
    );
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new().allow_keyed_post(true))
                .max_attempts(3)
                .backoff(Backoff::constant(Duration::from_millis(20)))
                .budget(budget.clone())
                .build()?,
        )
        .service(ReqwestService::new(reqwest::Client::new()));
    let url = |path: &str| format!("http://{addr}{path}");

    println!("1. GET /flaky: a transient 503 is retried");
    let request = http::Request::get(url("/flaky")).body(Full::new(Bytes::new()))?;
    let response = client.clone().oneshot(request).await?;
    let status = response.status();
    let text = response.into_body().collect().await?.to_bytes();
    println!(
        "   client: {status} {:?} after {} attempts\n",
        String::from_utf8_lossy(&text),
        backend.attempts("GET /flaky")
    );
    expect(status == StatusCode::OK, "GET /flaky succeeds on its retry")?;

    println!("2. POST /orders with Idempotency-Key and a streamed body: retried, same bytes");
    let request = http::Request::post(url("/orders"))
        .header("idempotency-key", "order-42")
        .body(streamed(["{\"item\": ", "\"umbrella\", ", "\"count\": 2}"]))?;
    let response = client.clone().oneshot(request).await?;
    let status = response.status();
    let text = response.into_body().collect().await?.to_bytes();
    let what = "POST /orders key=\"order-42\"";
    let bodies = backend
        .bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(what)
        .cloned()
        .unwrap_or_default();
    let same = bodies.windows(2).all(|w| w[0] == w[1]);
    println!(
        "   client: {status} {:?} after {} attempts; every attempt carried the same body: {same}\n",
        String::from_utf8_lossy(&text),
        bodies.len(),
    );
    expect(
        status == StatusCode::CREATED && bodies.len() == 2 && same && bodies[0].len() == 32,
        "the keyed POST succeeds on its retry with the whole body each time",
    )?;

    println!("3. POST /orders without Idempotency-Key: not retried (it could create two orders)");
    let request = http::Request::post(url("/orders")).body(Full::new(Bytes::from("{}")))?;
    let response = client.clone().oneshot(request).await?;
    let attempts = backend.attempts("POST /orders key=\"\"");
    println!(
        "   client: {} after {attempts} attempt; the caller decides what to do\n",
        response.status(),
    );
    expect(
        response.status() == StatusCode::SERVICE_UNAVAILABLE && attempts == 1,
        "a POST without a key is sent once",
    )?;

    let requests = 200;
    println!("4. GET /down x {requests}, an outage: the budget caps the retries");
    let before = budget.refused();
    let mut failed = 0;
    for _ in 0..requests {
        let request = http::Request::get(url("/down")).body(Full::new(Bytes::new()))?;
        let response = client.clone().oneshot(request).await?;
        if response.status() != StatusCode::OK {
            failed += 1;
        }
    }
    let attempts = backend.attempts("GET /down");
    println!(
        "   client: {failed} of {requests} requests failed; the server saw {attempts} attempts \
         ({} retries; with 3 attempts and no budget it would have seen {}), \
         and the budget refused {} retries",
        attempts.saturating_sub(requests),
        requests * 3,
        budget.refused() - before,
    );
    // The budget allows the floor of 10 plus 20% of the 203 requests, less the 2 retries above.
    expect(
        failed == requests && attempts > requests && attempts <= requests + 48,
        "the budget lets a few retries through, not two per request",
    )?;
    Ok(())
}

/// Fails the example, so that CI notices, when what it shows stopped being true.
fn expect(holds: bool, what: &str) -> Result<(), BoxError> {
    if holds {
        Ok(())
    } else {
        Err(format!("expected: {what}").into())
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let backend = Arc::new(Backend::default());
    let app = Router::new()
        .route("/flaky", get(flaky))
        .route("/orders", post(orders))
        .route("/down", get(down))
        .with_state(backend.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("server on http://{addr}: /flaky and /orders fail a first attempt, /down all\n");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    // Whatever happens, the example ends: a hung call fails it after 30 s.
    let outcome = tokio::time::timeout(Duration::from_secs(30), run(addr, backend)).await;
    let _ = stop.send(());
    server.await??;
    outcome.map_err(|_| "the example did not finish within 30 s")?
}
