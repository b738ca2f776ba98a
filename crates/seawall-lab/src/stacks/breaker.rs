//! Seawall's circuit breaker.

use seawall_sim::Upstream;

use super::{erase, LabService, Stack};

/// Seawall's circuit breaker at its defaults, its open-time jitter seeded from the
/// scenario's seed.
pub(super) const SEAWALL_BREAKER: Stack = Stack {
    name: "Seawall breaker",
    build: seawall_breaker,
};

fn seawall_breaker(upstream: Upstream, seed: u64) -> LabService {
    let layer = seawall_breaker::CircuitBreakerLayer::builder()
        .seed(seed)
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
    erase(tower::Layer::layer(&layer, upstream))
}
