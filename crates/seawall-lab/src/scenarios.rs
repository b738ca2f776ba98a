//! The lab's scenarios. Each one is a situation a real service meets, sized so that its
//! figures are stable from seed to seed. Every upstream here serves requests whose client
//! has gone ([`Abandonment::Never`]): the worst case, and what an HTTP/1.1 server does.

use seawall_sim::scenarios::Outage;
use seawall_sim::{Abandonment, Arrivals, Capacity, ConfigError, Latency, Load, Upstream};

use crate::stacks::{balancers, baseline, breakers, hedges, retries, shedding};
use crate::{ms, secs, Scenario};

/// Every scenario, in the order the lab runs them.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "steady",
            about: "healthy upstream: log-normal latency (median 20 ms), 0.1% errors, 1000 req/s for 60 s",
            upstream: |seed| {
                Upstream::builder()
                    .latency(Latency::log_normal(ms(20), 0.5))
                    .failure_rate(0.001)
                    .capacity(Capacity::workers(100).queue(1000))
                    .abandonment(Abandonment::Never)
                    .seed(seed)
                    .build()
            },
            load: |seed| poisson(1000.0, 60, 1000, seed),
            outage: None,
            capacity: None,
            stacks: baseline(),
        },
        Scenario {
            name: "outage",
            about: "upstream fails every request (fast, in 1 ms) from 20 s to 30 s, then recovers; 1000 req/s for 60 s",
            upstream: |seed| {
                fails_fast(20, 30)
                    .capacity(Capacity::workers(100).queue(1000))
                    .seed(seed)
                    .build()
            },
            load: |seed| poisson(1000.0, 60, 1000, seed),
            outage: Some((secs(20), secs(30))),
            capacity: None,
            stacks: [baseline(), retries(), breakers()].concat(),
        },
        Scenario {
            name: "heavy-tail",
            about: "98% of calls take ~10 ms, 2% take ~1 s; 1000 req/s for 60 s, client timeout 2 s",
            upstream: |seed| {
                Upstream::builder()
                    .latency(Latency::mixture([
                        (0.98, Latency::uniform(ms(8), ms(12))),
                        (0.02, Latency::uniform(ms(900), ms(1100))),
                    ]))
                    .abandonment(Abandonment::Never)
                    .seed(seed)
                    .build()
            },
            load: |seed| poisson(1000.0, 60, 2000, seed),
            outage: None,
            capacity: None,
            stacks: [baseline(), hedges()].concat(),
        },
        Scenario {
            name: "overload",
            about: "capacity halves at 20 s (40 → 20 workers at 20 ms: 2000 → 1000 req/s) under 1500 req/s; restored at 40 s",
            upstream: |seed| {
                Upstream::builder()
                    .latency(Latency::log_normal(ms(20), 0.3))
                    .capacity(Capacity::workers(40).queue(2000))
                    .abandonment(Abandonment::Never)
                    .seed(seed)
                    .at(secs(20), |p| p.capacity(Capacity::workers(20).queue(2000)))
                    .at(secs(40), |p| p.capacity(Capacity::workers(40).queue(2000)))
                    .build()
            },
            load: |seed| poisson(1500.0, 60, 1000, seed),
            outage: None,
            capacity: None,
            stacks: baseline(),
        },
        Scenario {
            name: "partial-outage",
            about: "3 replicas behind p2c, 1000 req/s in all for 40 s; replica 0 fails every request (fast, in 1 ms) from 10 s to 30 s; upstream figures are replica 0's",
            upstream: |seed| {
                fails_fast(10, 30).seed(seed).build()
            },
            load: |seed| poisson(1000.0, 40, 1000, seed),
            outage: Some((secs(10), secs(30))),
            capacity: None,
            stacks: balancers(),
        },
    ]
    .into_iter()
    .chain(crate::stacks::shed::scenarios(shedding()))
    .chain([
        crate::stacks::chain::scenario(),
        crate::stacks::brownout::scenario(),
        crate::stacks::standard::scenario(),
    ])
    .collect()
}

/// The outage the `outage`, `partial-outage` and `retry-chain` scenarios share: answers in
/// 8–12 ms, and every request failing fast (in 1 ms) from second `from` to second `to`.
pub(crate) fn fails_fast(from: u64, to: u64) -> Outage {
    Outage::new(secs(from), secs(to))
        .healthy(Latency::uniform(ms(8), ms(12)))
        .failing(Latency::constant(ms(1)))
        .abandonment(Abandonment::Never)
}

pub(crate) fn poisson(
    rate: f64,
    seconds: u64,
    timeout_ms: u64,
    seed: u64,
) -> Result<Load, ConfigError> {
    Load::builder()
        .rate(rate)
        .duration(secs(seconds))
        .arrivals(Arrivals::Poisson)
        .timeout(ms(timeout_ms))
        .seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .build()
}
