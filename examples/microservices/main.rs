//! Two services in one process, both real axum servers on ephemeral ports of 127.0.0.1:
//!
//! - **inventory** runs the server standard stack (`ServerConfig::layer`: rejections as
//!   responses, deadline, load shedding with priorities, timeout) around `/items/{id}`, with
//!   a fault-injection layer (`seawall::chaos`) in front of the handler that answers 503.
//!   The fault is armed off; the admin routes `POST /admin/fault/{percent}` and
//!   `DELETE /admin/fault` turn it on at a rate and off again, through its `ChaosHandle`;
//! - **gateway** answers `/stock/{id}` by calling inventory through the client standard
//!   stack (`ClientConfig::build` with its defaults: budgeted retries, a breaker per
//!   authority, attempt and total timeouts, the deadline sent on).
//!
//! A bounded load loop sends the gateway 100 requests a second for 8 seconds (800 in all)
//! while an operator flips the fault, and prints each second what the stack did:
//!
//! | seconds | fault | what to look for |
//! |---|---|---|
//! | 0 | off | every request answered; inventory sees one call per request |
//! | 1–2 | 20% of calls answer 503 | about 1.25 calls per request reach inventory: the retries, within the budget (20% of the second's requests plus 10), save nearly every request |
//! | 3–5 | every call answers 503 | 20 failed attempts in a row open the gateway's breaker for inventory within the first second, before the budget runs dry; then the gateway fails fast (503 with `Retry-After`, no call sent) and inventory sees one probe a second |
//! | 6–7 | off | the next probe succeeds, two more close the breaker, and every request is answered again |
//!
//! The last column is inventory's shedding limit (the server stack's adaptive limit, which
//! stays at its initial 20 under this light load).
//!
//! ```text
//! cargo run --example microservices --features full
//! ```
//!
//! It stops by itself after about ten seconds. The gateway itself has no stack of its own:
//! what it answers is what the client stack gave it, a rejection becoming its response
//! (`RejectionResponse`: 503 with `Retry-After` for an open breaker).

mod gateway;
mod inventory;
mod load;

use std::net::SocketAddr;

use axum::Router;
use seawall::core::BoxError;
use tokio::sync::watch;

/// Serves `app` on an ephemeral port of 127.0.0.1 until `stop` turns true.
async fn serve(app: Router, mut stop: watch::Receiver<bool>) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
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
    let (stop, stopped) = watch::channel(false);
    let inventory = inventory::start(stopped.clone()).await?;
    let gateway = gateway::start(inventory.addr, stopped).await?;
    println!(
        "inventory on http://{} (server standard stack), gateway on http://{} (client standard stack)",
        inventory.addr, gateway.addr
    );
    let result = load::run(&inventory, &gateway).await;
    let _ = stop.send(true);
    result
}
