//! The standard stacks end to end: a gateway calls an inventory service through the
//! facade's client standard stack ([`seawall::stack::ClientConfig`]); the inventory service
//! runs the server standard stack ([`seawall::stack::ServerConfig`]) in front of its own
//! upstream, which degrades: its capacity halves for 15 s (1.4× overload), then, once
//! restored, it fails every call for 10 s.
//!
//! The requests are `http::Request`s and the answers `http::Response`s, as in production;
//! only the network between the two services is left out (the call is in-process), and the
//! inventory's upstream is the simulator's. The inventory answers 200 when its upstream
//! served the call, 500 when it failed it, 503 when it refused it; the server stack adds its
//! own 503s (shedding) and 504s (its timeout).
//!
//! The columns: no layer at all; the same shape hand-built from tower's pieces (the client
//! retries any error twice with a 1 s timeout per attempt, the server sheds above a fixed
//! limit of 25 in flight, the best static limit for the healthy upstream, as in the overload
//! scenarios); and the two standard stacks at their defaults, with the client's timeouts set
//! to what the caller waits (2 s in all, 1 s per attempt) and every random draw seeded.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use seawall::stack::{BreakerConfig, ClientConfig, RetryConfig, ServerConfig};
use seawall_sim::{Abandonment, Capacity, Latency, Reply, Request, Upstream, UpstreamError};
use tower::{BoxError, Layer, ServiceBuilder, ServiceExt};

use super::tower_builtin::Attempts;
use super::{erase, LabService, Stack};
use crate::{ms, secs, Scenario};

/// When the inventory's upstream loses half its workers, and gets them back.
const OVERLOAD: (u64, u64) = (15, 30);
/// When it fails every call.
const OUTAGE: (u64, u64) = (35, 45);
/// Requests per second: 70% of the healthy capacity, 1.4× the halved one.
const RATE: f64 = 700.0;

/// What the inventory service receives: the gateway's request, its body made replayable by
/// the client stack.
type InventoryRequest = http::Request<seawall::http::ReplayableBody<Empty<Bytes>>>;

/// Requests per second `workers` serve: workers over the mean of a log-normal of median
/// 20 ms and σ 0.3 (20 ms × e^(σ²/2) = 20.92 ms).
fn capacity(workers: u32) -> f64 {
    f64::from(workers) / (0.020 * (0.3f64 * 0.3 / 2.0).exp())
}

/// The inventory service's answer to a call its upstream answered.
fn respond(
    result: Result<Reply, UpstreamError>,
) -> Result<http::Response<axum::body::Body>, BoxError> {
    let status = match result {
        Ok(_) => http::StatusCode::OK,
        Err(UpstreamError::Failed) => http::StatusCode::INTERNAL_SERVER_ERROR,
        Err(UpstreamError::QueueFull | UpstreamError::QueueTimeout) => {
            http::StatusCode::SERVICE_UNAVAILABLE
        }
    };
    let mut response = http::Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    Ok(response)
}

/// The gateway's request for a lab request.
fn request(_: Request) -> http::Request<Empty<Bytes>> {
    let mut request = http::Request::new(Empty::new());
    *request.uri_mut() = http::Uri::from_static("http://inventory.internal/items");
    request
}

/// Only a 2xx is a success for the caller.
fn outcome(result: Result<http::Response<Bytes>, BoxError>) -> Result<(), BoxError> {
    let response = result?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("inventory answered {}", response.status()).into())
    }
}

/// The client standard stack, its timeouts set to the caller's 2 s, seeded.
fn client_config(seed: u64) -> ClientConfig {
    ClientConfig {
        total_timeout: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(1),
        retry: RetryConfig {
            seed: Some(seed),
            ..RetryConfig::default()
        },
        breaker: BreakerConfig {
            seed: Some(seed.wrapping_add(1)),
            ..BreakerConfig::default()
        },
        ..ClientConfig::default()
    }
}

fn standard(upstream: Upstream, seed: u64) -> LabService {
    let inventory = ServiceExt::<InventoryRequest>::map_result(upstream, respond);
    let server = ServerConfig::default()
        .layer()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
        .layer(inventory);
    // The network between the services carries only the status here: the bodies are empty,
    // and dropping one ends it, which frees the server's shedding slot as a finished body
    // would.
    let server = ServiceExt::<InventoryRequest>::map_response(
        server,
        |response: http::Response<axum::body::Body>| response.map(|_| Bytes::new()),
    );
    let client = client_config(seed)
        .service::<_, Empty<Bytes>, Bytes>(server)
        .unwrap_or_else(|e| unreachable!("the settings are valid: {e}"));
    erase(client.map_request(request).map_result(outcome))
}

fn tower_equivalent(upstream: Upstream, _seed: u64) -> LabService {
    let server = ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(25)
        .service(upstream);
    let client = tower::retry::Retry::new(
        Attempts(2),
        tower::timeout::Timeout::new(server, Duration::from_secs(1)),
    );
    erase(client)
}

const STACKS: [Stack; 2] = [
    Stack {
        name: "tower by hand (retry 2, limit 25)",
        build: tower_equivalent,
    },
    Stack {
        name: "Seawall standard stacks",
        build: standard,
    },
];

/// The end-to-end scenario.
pub(crate) fn scenario() -> Scenario {
    Scenario {
        name: "end-to-end",
        about: "gateway → inventory → its upstream (20 workers × log-normal 20 ms: 956 req/s); the upstream's capacity halves from 15 s to 30 s (1.4× overload), then it fails every call (in 1 ms) from 35 s to 45 s; 700 req/s for 60 s, client timeout 2 s",
        upstream: |seed| {
            let healthy = Latency::log_normal(ms(20), 0.3);
            Upstream::builder()
                .latency(healthy.clone())
                .capacity(Capacity::workers(20))
                .abandonment(Abandonment::Never)
                .seed(seed)
                .at(secs(OVERLOAD.0), |p| p.capacity(Capacity::workers(10)))
                .at(secs(OVERLOAD.1), |p| p.capacity(Capacity::workers(20)))
                .at(secs(OUTAGE.0), |p| {
                    p.failure_rate(1.0).latency(Latency::constant(ms(1)))
                })
                .at(secs(OUTAGE.1), |p| p.failure_rate(0.0).latency(healthy))
                .build()
        },
        load: |seed| crate::scenarios::poisson(RATE, 60, 2000, seed),
        outage: Some((secs(OUTAGE.0), secs(OUTAGE.1))),
        capacity: Some(|t| {
            let overloaded = (OVERLOAD.0..OVERLOAD.1).contains(&t);
            capacity(if overloaded { 10 } else { 20 })
        }),
        stacks: [super::baseline(), STACKS.to_vec()].concat(),
    }
}
