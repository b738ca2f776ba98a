//! Load shedding: Seawall's shedding layer with each adaptive limit at its defaults, beside
//! tower's `ConcurrencyLimit` + `LoadShed` and a server with a bounded queue; and the overload
//! scenarios they are measured in (each states its capacity).
//!
//! Every overload scenario has 20 (or 40) workers serving log-normal 20 ms (σ 0.3) requests
//! from an unbounded FIFO queue, a server that serves requests whose client has gone, Poisson
//! arrivals and a 1 s client timeout. Capacity is workers / mean service time (20.92 ms):
//! 956 req/s for 20 workers.
//!
//! Each adaptive limit runs at its defaults, as a user gets it: the layer's default
//! (`Vegas::default()`, fed 1 s windows), `Gradient2::default()`,
//! `GradientController::default()` and `Aimd::default()`.
//!
//! tower-resilience's adaptive limiter times calls with the wall clock, so paused time cannot
//! measure it; it is not a column here. `benches/shed_realtime.rs` runs it beside Seawall's
//! default in real time.

use std::time::Duration;

use seawall_shed::limit::{Aimd, Gradient2, GradientController, Limit, Vegas};
use seawall_shed::ShedLayer;
use seawall_sim::{Abandonment, Arrivals, Capacity, ConfigError, Latency, Load, Upstream};
use tower::{Layer, ServiceBuilder};

use super::{erase, LabService, Stack};
use crate::{ms, secs, Scenario};

/// The columns of the overload scenarios (after `none`).
pub(super) const STACKS: [Stack; 6] = [
    Stack {
        name: "server queue 40",
        build: bounded_queue,
    },
    Stack {
        name: "tower ConcurrencyLimit(25) + LoadShed",
        build: tower_limit,
    },
    Stack {
        name: "Seawall shed Vegas (default)",
        build: |u, seed| shed(u, Vegas::builder().seed(seed).build().unwrap_or_default()),
    },
    Stack {
        name: "Seawall shed Gradient2",
        build: |u, _| shed(u, Gradient2::default()),
    },
    Stack {
        name: "Seawall shed Envoy gradient",
        build: |u, seed| {
            shed(
                u,
                GradientController::builder()
                    .seed(seed)
                    .build()
                    .unwrap_or_default(),
            )
        },
    },
    Stack {
        name: "Seawall shed AIMD",
        build: |u, _| shed(u, Aimd::default()),
    },
];

fn shed(upstream: Upstream, limit: impl Limit) -> LabService {
    let layer = ShedLayer::builder()
        .limit(limit)
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
    let limit = layer.clone();
    let recorded = tower::ServiceBuilder::new()
        .map_request(move |request| {
            crate::record_limit(limit.limit());
            request
        })
        .service(layer.layer(upstream));
    erase(recorded)
}

/// No shedding, and a server whose queue holds at most 40: the same as at most 60 requests
/// in the 20-worker server, which a `ConcurrencyLimit(60)` + `LoadShed` in front of it models
/// exactly while no client times out (none does: waits stay under 100 ms).
fn bounded_queue(upstream: Upstream, _seed: u64) -> LabService {
    erase(
        ServiceBuilder::new()
            .load_shed()
            .concurrency_limit(60)
            .service(upstream),
    )
}

/// The best hand-tuned static limit for 20 workers: 25 (the smallest that keeps every
/// worker busy between arrivals; 20 leaves workers idle, 30 and 40 only add queueing —
/// measured in `crates/seawall-shed/tests/overload.rs`).
fn tower_limit(upstream: Upstream, _seed: u64) -> LabService {
    erase(
        ServiceBuilder::new()
            .load_shed()
            .concurrency_limit(25)
            .service(upstream),
    )
}

fn latency() -> Latency {
    Latency::log_normal(ms(20), 0.3)
}

/// Requests per second `workers` serve.
fn capacity(workers: usize) -> f64 {
    workers as f64 / (0.020 * (0.3f64 * 0.3 / 2.0).exp())
}

fn upstream(seed: u64, first: usize, then: Option<usize>) -> Result<Upstream, ConfigError> {
    let mut b = Upstream::builder()
        .latency(latency())
        .capacity(Capacity::workers(first))
        .abandonment(Abandonment::Never)
        .seed(seed);
    if let Some(then) = then {
        b = b.at(STEP, move |p| p.capacity(Capacity::workers(then)));
    }
    b.build()
}

const STEP: Duration = Duration::from_secs(15);

fn load(rate: f64, seed: u64) -> Result<Load, ConfigError> {
    Load::builder()
        .rate(rate)
        .duration(secs(30))
        .arrivals(Arrivals::Poisson)
        .timeout(ms(1000))
        .seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .build()
}

/// The overload scenarios, each comparing `none` and `stacks`.
pub(crate) fn scenarios(stacks: Vec<Stack>) -> Vec<Scenario> {
    let with = |stacks: &[Stack]| [vec![super::baseline::NONE], stacks.to_vec()].concat();
    vec![
        Scenario {
            name: "overload-2x",
            about: "2× capacity: 1912 req/s offered to 20 workers × log-normal 20 ms (956 req/s), unbounded queue, 30 s, client timeout 1 s",
            upstream: |seed| upstream(seed, 20, None),
            load: |seed| load(2.0 * capacity(20), seed),
            outage: None,
            capacity: Some(|_| capacity(20)),
            stacks: with(&stacks),
        },
        Scenario {
            name: "overload-5x",
            about: "5× capacity: 4780 req/s offered to 20 workers × log-normal 20 ms (956 req/s), unbounded queue, 30 s, client timeout 1 s",
            upstream: |seed| upstream(seed, 20, None),
            load: |seed| load(5.0 * capacity(20), seed),
            outage: None,
            capacity: Some(|_| capacity(20)),
            stacks: with(&stacks),
        },
        Scenario {
            name: "capacity-halves",
            about: "40 → 20 workers at 15 s (1912 → 956 req/s) under 2868 req/s, 30 s, client timeout 1 s",
            upstream: |seed| upstream(seed, 40, Some(20)),
            load: |seed| load(1.5 * capacity(40), seed),
            outage: None,
            capacity: Some(|t| if t < 15 { capacity(40) } else { capacity(20) }),
            stacks: with(&stacks),
        },
        Scenario {
            name: "capacity-doubles",
            about: "20 → 40 workers at 15 s (956 → 1912 req/s) under 2868 req/s, 30 s, client timeout 1 s",
            upstream: |seed| upstream(seed, 20, Some(40)),
            load: |seed| load(1.5 * capacity(40), seed),
            outage: None,
            capacity: Some(|t| if t < 15 { capacity(20) } else { capacity(40) }),
            stacks: with(&stacks),
        },
    ]
}
