//! A real upstream: an axum server on 127.0.0.1 (an ephemeral port) whose faults are
//! Seawall's chaos layers, switched by the schedule, and which logs the time every call
//! reaches it.
//!
//! Outermost first: the call log → failures (`InjectOutcomeLayer`, 503 at once, off until
//! the schedule turns it on) → slow calls (`InjectLatencyLayer`, 0.9–1.1 s, off likewise)
//! → service time (`InjectLatencyLayer` at rate 1: 8–12 ms, as the simulated upstream)
//! → a handler that answers `ok`.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use http::StatusCode;
use seawall_chaos::{InjectLatencyLayer, InjectOutcomeLayer, Injection};
use seawall_core::latency::Latency;
use seawall_core::{BoxError, ConfigError};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::util::MapRequestLayer;

use super::drive::Log;
use super::schedule::Switches;

/// A running live upstream. Dropping it stops the server.
#[derive(Debug)]
pub struct LiveUpstream {
    /// Its address, `http://127.0.0.1:PORT/`.
    pub url: String,
    /// Its chaos switches, for the schedule.
    pub switches: Switches,
    /// When each call reached it.
    pub calls: Log<Instant>,
    server: JoinHandle<()>,
}

impl Drop for LiveUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn injection(rate: f64, enabled: bool, seed: u64, name: &str) -> Result<Injection, ConfigError> {
    Injection::builder()
        .rate(rate)
        .enabled(enabled)
        .seed(seed)
        .name(name)
        .build()
}

/// Starts an upstream on 127.0.0.1, healthy until its [`Switches`] say otherwise; every
/// injection is seeded from `seed`.
///
/// # Errors
///
/// When the port cannot be bound, or a chaos layer refuses its settings.
pub async fn start(seed: u64) -> Result<LiveUpstream, BoxError> {
    let service_time = InjectLatencyLayer::new(
        injection(1.0, true, seed ^ 0x5E7, "service time")?,
        Latency::uniform(Duration::from_millis(8), Duration::from_millis(12)),
    )?;
    let slow = InjectLatencyLayer::new(
        injection(0.0, false, seed ^ 0x510, "slow calls")?,
        Latency::uniform(Duration::from_millis(900), Duration::from_millis(1100)),
    )?;
    let fail = InjectOutcomeLayer::new(
        injection(0.0, false, seed ^ 0xFA1, "failures")?,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let switches = Switches {
        fail: fail.handle(),
        slow: slow.handle(),
    };
    let calls = Log::new();
    let log = calls.clone();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(service_time)
        .layer(slow)
        .layer(fail)
        .layer(MapRequestLayer::new(move |request| {
            log.push(Instant::now());
            request
        }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let server = tokio::spawn(async move {
        // The server stops when the run drops it; an accept error ends it early, and the
        // run then sees its calls fail.
        let _ = axum::serve(listener, app).await;
    });
    Ok(LiveUpstream {
        url,
        switches,
        calls,
        server,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::live::schedule::Phase;

    async fn status(url: &str) -> StatusCode {
        reqwest::get(url).await.unwrap().status()
    }

    // Real sockets on 127.0.0.1 in paused time: the upstream's 8–12 ms service time passes
    // on the paused clock.
    #[tokio::test(start_paused = true)]
    async fn the_switches_fail_and_heal_the_real_upstream() {
        let upstream = start(1).await.unwrap();
        assert!(upstream.url.starts_with("http://127.0.0.1:"));
        assert_eq!(status(&upstream.url).await, StatusCode::OK);
        let mut phase = Phase {
            at: Duration::ZERO,
            failure_rate: 1.0,
            slow_share: 0.0,
        };
        upstream.switches.apply(&phase);
        assert_eq!(status(&upstream.url).await, StatusCode::SERVICE_UNAVAILABLE);
        phase.failure_rate = 0.0;
        upstream.switches.apply(&phase);
        assert_eq!(status(&upstream.url).await, StatusCode::OK);
        // Every call reached it, the failed one too.
        assert_eq!(upstream.calls.snapshot().len(), 3);
    }
}
