//! A brownout: the upstream neither fails outright nor stays healthy. From 20 s to 40 s of a
//! 60-second run, errors climb from 1% to 5% to 20% and a tenth of the calls take a second,
//! on 100 workers: the slow calls alone ask for 109 workers, so a queue builds as well.
//!
//! The stacks: none, Seawall's breaker at its defaults (it trips on failures: half of the
//! last 100 calls, or 20 in a row), and the same breaker also tripping on slow calls (5% of
//! the last 100 calls at 250 ms or more).

use std::time::Duration;

use seawall_breaker::CircuitBreakerLayer;
use seawall_sim::{Abandonment, Capacity, Latency, Upstream};

use super::{erase, LabService, Stack};
use crate::{ms, secs, Scenario};

/// A tenth of the calls take about a second while the brownout lasts.
fn browning() -> Latency {
    Latency::mixture([
        (0.9, Latency::uniform(ms(8), ms(12))),
        (0.1, Latency::uniform(ms(900), ms(1100))),
    ])
}

fn breaker(upstream: Upstream, seed: u64, slow: bool) -> LabService {
    let mut builder = CircuitBreakerLayer::builder().seed(seed);
    if slow {
        builder = builder.slow_calls(Duration::from_millis(250), 0.05);
    }
    let layer = builder
        .build()
        .unwrap_or_else(|e| unreachable!("the settings are valid: {e}"));
    erase(tower::Layer::layer(&layer, upstream))
}

/// The brownout's columns after `none`.
const STACKS: [Stack; 2] = [
    Stack {
        name: "Seawall breaker (defaults)",
        build: |u, seed| breaker(u, seed, false),
    },
    Stack {
        name: "Seawall breaker + slow calls (≥250 ms, 5%)",
        build: |u, seed| breaker(u, seed, true),
    },
];

/// The brownout scenario.
pub(crate) fn scenario() -> Scenario {
    Scenario {
        name: "brownout",
        about: "from 20 s to 40 s errors climb 1% → 5% → 20% (at 27 s, 34 s) and 10% of calls take ~1 s, on 100 workers; 1000 req/s for 60 s, client timeout 2 s",
        upstream: |seed| {
            Upstream::builder()
                .latency(Latency::uniform(ms(8), ms(12)))
                .failure_rate(0.001)
                .capacity(Capacity::workers(100))
                .abandonment(Abandonment::Never)
                .seed(seed)
                .at(secs(20), |p| p.latency(browning()).failure_rate(0.01))
                .at(secs(27), |p| p.failure_rate(0.05))
                .at(secs(34), |p| p.failure_rate(0.20))
                .at(secs(40), |p| {
                    p.latency(Latency::uniform(ms(8), ms(12)))
                        .failure_rate(0.001)
                })
                .build()
        },
        load: |seed| crate::scenarios::poisson(1000.0, 60, 2000, seed),
        outage: Some((secs(20), secs(40))),
        capacity: None,
        stacks: [super::baseline(), STACKS.to_vec()].concat(),
    }
}
