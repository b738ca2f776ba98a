//! The inventory service: the server standard stack, a switchable fault, an admin route.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use seawall::chaos::{ChaosHandle, InjectOutcomeLayer, Injection};
use seawall::core::BoxError;
use seawall::stack::{ServerConfig, ServerLayer};
use tokio::sync::watch;
use tower::ServiceBuilder;

/// A running inventory service.
pub(crate) struct Inventory {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Calls that reached `/items/{id}` (below the server stack, above the fault).
    pub(crate) calls: Arc<AtomicU64>,
    /// The server stack, to read its shedding limit.
    pub(crate) stack: ServerLayer,
}

#[derive(Clone)]
struct Admin {
    fault: ChaosHandle,
}

/// Starts inventory on an ephemeral port, its fault armed off.
pub(crate) async fn start(stop: watch::Receiver<bool>) -> Result<Inventory, BoxError> {
    // A 503 for the share of calls the operator chooses; seeded, so a run repeats.
    let fault = InjectOutcomeLayer::new(
        Injection::builder()
            .rate(1.0)
            .seed(1)
            .enabled(false)
            .name("inventory")
            .build()?,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let admin = Admin {
        fault: fault.handle(),
    };
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    let items = get(item).layer(
        ServiceBuilder::new()
            .map_request(move |request: axum::extract::Request| {
                counted.fetch_add(1, Ordering::Relaxed);
                request
            })
            .layer(fault),
    );
    let stack = ServerConfig::default().layer()?;
    let app = Router::new()
        .route("/items/{id}", items)
        .route("/admin/fault/{percent}", post(fault_on))
        .route("/admin/fault", axum::routing::delete(fault_off))
        .with_state(admin)
        .layer(stack.clone());
    let addr = crate::serve(app, stop).await?;
    Ok(Inventory { addr, calls, stack })
}

async fn item(Path(id): Path<u32>) -> String {
    format!("item {id}: 42 in stock")
}

/// `POST /admin/fault/{percent}`: injects the 503 into `percent`% of calls.
async fn fault_on(State(admin): State<Admin>, Path(percent): Path<u32>) -> StatusCode {
    match admin.fault.set_rate(f64::from(percent) / 100.0) {
        Ok(()) => {
            admin.fault.enable();
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// `DELETE /admin/fault`: every call reaches the handler again.
async fn fault_off(State(admin): State<Admin>) -> StatusCode {
    admin.fault.disable();
    StatusCode::NO_CONTENT
}
