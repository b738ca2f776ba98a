//! The gateway: answers `/stock/{id}` by calling inventory through the client standard stack.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use seawall::core::{BoxError, RejectionKind};
use seawall::http::RejectionResponse;
use seawall::stack::{ClientConfig, RetryConfig, StandardClient};
use tokio::sync::watch;

/// What the gateway answered, counted since it started.
#[derive(Default)]
pub(crate) struct Answers {
    /// Inventory answered (possibly after retries).
    pub(crate) ok: AtomicU64,
    /// Inventory still failed after the retries the stack allowed.
    pub(crate) failed: AtomicU64,
    /// The breaker was open: failed fast, nothing sent to inventory.
    pub(crate) failed_fast: AtomicU64,
    /// Anything else (a timeout, a connection error).
    pub(crate) other: AtomicU64,
}

/// A running gateway.
pub(crate) struct Gateway {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// The client stack it calls inventory through, to read its retry budget.
    pub(crate) client: StandardClient,
    /// What it answered.
    pub(crate) answers: Arc<Answers>,
}

#[derive(Clone)]
struct Shared {
    client: StandardClient,
    inventory: Arc<str>,
    answers: Arc<Answers>,
}

/// Starts the gateway on an ephemeral port, calling inventory at `inventory`.
pub(crate) async fn start(
    inventory: SocketAddr,
    stop: watch::Receiver<bool>,
) -> Result<Gateway, BoxError> {
    // The client standard stack with its defaults; only the jitter is seeded.
    let config = ClientConfig {
        retry: RetryConfig {
            seed: Some(1),
            ..RetryConfig::default()
        },
        ..ClientConfig::default()
    };
    let client = config.build(reqwest::Client::new())?;
    let answers = Arc::new(Answers::default());
    let shared = Shared {
        client: client.clone(),
        inventory: Arc::from(format!("http://{inventory}")),
        answers: answers.clone(),
    };
    let app = Router::new()
        .route("/stock/{id}", get(stock))
        .with_state(shared);
    let addr = crate::serve(app, stop).await?;
    Ok(Gateway {
        addr,
        client,
        answers,
    })
}

async fn stock(State(shared): State<Shared>, Path(id): Path<u32>) -> Response {
    let answers = &shared.answers;
    let url = format!("{}/items/{id}", shared.inventory);
    let request = match shared.client.reqwest().get(url).build() {
        Ok(request) => request,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    match shared.client.execute(request).await {
        Ok(response) if response.status().is_success() => {
            answers.ok.fetch_add(1, Ordering::Relaxed);
            response.text().await.unwrap_or_default().into_response()
        }
        Ok(_) => {
            answers.failed.fetch_add(1, Ordering::Relaxed);
            StatusCode::BAD_GATEWAY.into_response()
        }
        Err(error) => match RejectionResponse::find(error.as_ref()) {
            Some(rejection) => {
                let counter = if rejection.kind() == RejectionKind::CircuitOpen {
                    &answers.failed_fast
                } else {
                    &answers.other
                };
                counter.fetch_add(1, Ordering::Relaxed);
                rejection.into_response()
            }
            None => {
                answers.other.fetch_add(1, Ordering::Relaxed);
                StatusCode::BAD_GATEWAY.into_response()
            }
        },
    }
}
