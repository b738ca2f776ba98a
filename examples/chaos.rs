//! Fault injection in a running axum service, serving only on 127.0.0.1 and stopping by
//! itself after driving a few requests at itself:
//!
//! - an **outcome fault** targeted by header: a request carrying `x-chaos-fault` is answered
//!   503 with `Retry-After: 5`, every other request reaches the handler. It is armed off and
//!   an operator switches it on through its handle, as one would from an admin endpoint;
//! - a **latency fault** on 20% of requests (seeded, so the same requests every run), 150 ms
//!   before the handler sees them.
//!
//! ```text
//! cargo run --example chaos --features chaos,axum,reqwest
//! ```
//!
//! Never expose a header-targeted fault to clients you do not control: strip the header at
//! the edge.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use seawall::chaos::{HeaderTarget, InjectLatencyLayer, InjectOutcomeLayer, Injection};
use seawall::core::latency::Latency;
use seawall::core::BoxError;
use tokio::time::Instant;
use tower::ServiceBuilder;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let outcome = InjectOutcomeLayer::new(
        Injection::builder()
            .rate(1.0)
            .seed(1)
            .target(HeaderTarget::present("x-chaos-fault")?)
            .enabled(false)
            .build()?,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .retry_after(Duration::from_secs(5));
    let operator = outcome.handle();
    let latency = InjectLatencyLayer::new(
        Injection::builder().rate(0.2).seed(7).build()?,
        Latency::constant(Duration::from_millis(150)),
    )?;

    let app = Router::new()
        .route("/orders", get(|| async { "order list" }))
        .layer(ServiceBuilder::new().layer(outcome).layer(latency));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let send = |marked: bool| {
        let mut request = client.get(format!("http://{addr}/orders"));
        if marked {
            request = request.header("x-chaos-fault", "1");
        }
        async move {
            let start = Instant::now();
            let response = request.send().await?;
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| format!(", retry-after {}", v.to_str().unwrap_or("?")))
                .unwrap_or_default();
            println!(
                "  {} {}{retry_after} in {} ms",
                if marked { "marked  " } else { "unmarked" },
                response.status(),
                start.elapsed().as_millis()
            );
            Ok::<_, BoxError>(response.status())
        }
    };

    println!("outcome fault armed but off:");
    send(true).await?;
    operator.enable();
    println!("the operator turns it on; only marked requests fail:");
    for i in 0..6 {
        send(i % 3 == 0).await?;
    }
    operator.disable();
    println!("and off again:");
    send(true).await?;

    let _ = stop.send(());
    server.await??;
    Ok(())
}
