//! A client balancing over three replicas with tower's p2c, with and without a breaker per
//! endpoint, for the partial-outage scenario.
//!
//! The lab's [`Stack`] is built from one [`Upstream`], whose calls the lab counts. Here that
//! upstream is **replica 0, the one the scenario makes fail**; each stack builds the two
//! healthy replicas itself (10 ms ± 2 ms, never failing, seeded from the scenario's seed), at
//! the same simulated instant, so their clocks agree. So the lab's "upstream attempts"
//! figures are the calls that reached the failing replica.

use seawall_breaker::endpoint::EndpointBreakerLayer;
use seawall_breaker::CircuitBreakerLayer;
use seawall_sim::{balanced, Latency, Upstream};
use tower::Layer;

use super::{LabService, Stack};

/// p2c over the three replicas, each measured by its pending requests.
pub(super) const P2C: Stack = Stack {
    name: "p2c",
    build: p2c,
};

/// p2c with an `EndpointBreaker` (the breaker's defaults, at most half the endpoints
/// ejected) in front of each replica.
pub(super) const P2C_ENDPOINT_BREAKERS: Stack = Stack {
    name: "p2c + endpoint breakers",
    build: p2c_endpoint_breakers,
};

/// The three replicas: the scenario's `failing` one first, then two healthy ones.
fn replicas(failing: Upstream, seed: u64) -> Vec<Upstream> {
    let healthy = (1..3).map(|i| {
        Upstream::builder()
            .latency(Latency::uniform(crate::ms(8), crate::ms(12)))
            .seed(seed.wrapping_add(i))
            .build()
            .unwrap_or_else(|e| unreachable!("a valid upstream: {e}"))
    });
    std::iter::once(failing).chain(healthy).collect()
}

fn p2c(upstream: Upstream, seed: u64) -> LabService {
    balanced(replicas(upstream, seed), seed)
}

fn p2c_endpoint_breakers(upstream: Upstream, seed: u64) -> LabService {
    let layer = EndpointBreakerLayer::builder()
        .breaker(CircuitBreakerLayer::builder().seed(seed))
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
    let endpoints = replicas(upstream, seed)
        .into_iter()
        .map(|r| layer.layer(r))
        .collect();
    balanced(endpoints, seed)
}
