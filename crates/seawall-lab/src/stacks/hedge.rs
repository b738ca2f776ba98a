//! Hedged requests: tower's `Hedge`, tower-resilience's hedge and Seawall's hedge layer.

use std::time::Duration;

use seawall_sim::{Request, Upstream};
use tower::BoxError;

use super::{erase, LabService, Stack};

/// tower's `Hedge` as its docs suggest configuring it: hedge at p95, after 1,000 samples,
/// over a 10 s rotating histogram. It is neither `Clone` nor a `Layer`, so it sits behind a
/// `Buffer` to be shared by every request's task.
pub(super) const TOWER_HEDGE: Stack = Stack {
    name: "tower Hedge (p95, 1000 samples, 10 s)",
    build: tower_hedge,
};

/// Seawall's hedge layer at its defaults, untuned.
pub(super) const SEAWALL_HEDGE: Stack = Stack {
    name: "Seawall hedge (defaults)",
    build: seawall_hedge,
};

/// Seawall's hedge layer with a delay hand-picked for the heavy tail (12 ms, the top of its
/// fast mode), as a fixed-delay hedge (tower-resilience's, Polly's) would be configured by
/// someone who knows the distribution.
pub(super) const SEAWALL_HEDGE_12MS: Stack = Stack {
    name: "Seawall hedge (fixed 12 ms)",
    build: seawall_hedge_12ms,
};

/// tower-resilience's hedge with the fixed delay hand-picked for the heavy tail (12 ms), at
/// its default of two attempts (one hedge). Its delay is a `tokio::time::sleep`, so paused
/// time measures it (it reads `std::time::Instant` only to time its events).
pub(super) const TOWER_RESILIENCE_HEDGE_12MS: Stack = Stack {
    name: "tower-resilience hedge (fixed 12 ms)",
    build: tower_resilience_hedge_12ms,
};

/// tower-resilience's hedge with a fixed delay of 50 ms: a plausible guess that is not the
/// shape's.
pub(super) const TOWER_RESILIENCE_HEDGE_50MS: Stack = Stack {
    name: "tower-resilience hedge (fixed 50 ms)",
    build: tower_resilience_hedge_50ms,
};

/// Every request may be sent twice.
#[derive(Clone, Copy)]
struct Idempotent;

impl tower::hedge::Policy<Request> for Idempotent {
    fn clone_request(&self, request: &Request) -> Option<Request> {
        Some(*request)
    }

    fn can_retry(&self, _: &Request) -> bool {
        true
    }
}

fn tower_hedge(upstream: Upstream, _seed: u64) -> LabService {
    let upstream = tower::ServiceExt::<Request>::map_err(upstream, BoxError::from);
    let hedge = tower::hedge::Hedge::new::<Request>(
        upstream,
        Idempotent,
        1000,
        0.95,
        Duration::from_secs(10),
    );
    erase(tower::buffer::Buffer::new(hedge, 4096))
}

fn seawall(upstream: Upstream, layer: &seawall_hedge::HedgeLayer) -> LabService {
    let upstream = tower::ServiceExt::<Request>::map_err(upstream, BoxError::from);
    erase(tower::Layer::layer(layer, upstream))
}

fn seawall_hedge(upstream: Upstream, _seed: u64) -> LabService {
    seawall(upstream, &seawall_hedge::HedgeLayer::default())
}

fn seawall_hedge_12ms(upstream: Upstream, _seed: u64) -> LabService {
    let layer = seawall_hedge::HedgeLayer::builder()
        .delay(Duration::from_millis(12))
        .build()
        .unwrap_or_else(|e| unreachable!("a valid delay: {e}"));
    seawall(upstream, &layer)
}

fn tower_resilience(upstream: Upstream, delay: Duration) -> LabService {
    let layer = tower_resilience_hedge::HedgeLayer::new(delay);
    erase(tower::Layer::layer(&layer, upstream))
}

fn tower_resilience_hedge_12ms(upstream: Upstream, _seed: u64) -> LabService {
    tower_resilience(upstream, Duration::from_millis(12))
}

fn tower_resilience_hedge_50ms(upstream: Upstream, _seed: u64) -> LabService {
    tower_resilience(upstream, Duration::from_millis(50))
}
