//! The lab's scenarios. Each one is a situation a real service meets, sized so that its
//! figures are stable from seed to seed.

use seawall_sim::{Arrivals, Capacity, ConfigError, Latency, Load, Upstream};

use crate::{erase, ms, secs, LabService, Scenario, Stack};

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
                    .seed(seed)
                    .build()
            },
            load: |seed| poisson(1000.0, 60, 1000, seed),
            stacks: baseline(),
        },
        Scenario {
            name: "outage",
            about: "upstream fails every request (fast, in 1 ms) from 20 s to 30 s, then recovers; 1000 req/s for 60 s",
            upstream: |seed| {
                Upstream::builder()
                    .latency(Latency::uniform(ms(8), ms(12)))
                    .capacity(Capacity::workers(100).queue(1000))
                    .seed(seed)
                    .at(secs(20), |p| p.failure_rate(1.0).latency(Latency::constant(ms(1))))
                    .at(secs(30), |p| p.failure_rate(0.0).latency(Latency::uniform(ms(8), ms(12))))
                    .build()
            },
            load: |seed| poisson(1000.0, 60, 1000, seed),
            stacks: {
                let mut stacks = baseline();
                stacks.extend(retry_stacks());
                stacks.push(Stack {
                    name: "Seawall breaker",
                    build: seawall_breaker,
                });
                stacks
            },
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
                    .seed(seed)
                    .build()
            },
            load: |seed| poisson(1000.0, 60, 2000, seed),
            stacks: baseline(),
        },
        Scenario {
            name: "overload",
            about: "capacity halves at 20 s (40 → 20 workers at 20 ms: 2000 → 1000 req/s) under 1500 req/s; restored at 40 s",
            upstream: |seed| {
                Upstream::builder()
                    .latency(Latency::log_normal(ms(20), 0.3))
                    .capacity(Capacity::workers(40).queue(2000))
                    .seed(seed)
                    .at(secs(20), |p| p.capacity(Capacity::workers(20).queue(2000)))
                    .at(secs(40), |p| p.capacity(Capacity::workers(40).queue(2000)))
                    .build()
            },
            load: |seed| poisson(1500.0, 60, 1000, seed),
            stacks: baseline(),
        },
    ]
}

fn poisson(rate: f64, seconds: u64, timeout_ms: u64, seed: u64) -> Result<Load, ConfigError> {
    Load::builder()
        .rate(rate)
        .duration(secs(seconds))
        .arrivals(Arrivals::Poisson)
        .timeout(ms(timeout_ms))
        .seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .build()
}

/// The stacks every scenario compares; later layers add their columns here.
fn baseline() -> Vec<Stack> {
    vec![Stack {
        name: "none",
        build: none,
    }]
}

/// No resilience layer at all: the client calls the upstream directly.
fn none(upstream: Upstream) -> LabService {
    erase(upstream)
}

/// Retries: tower's `Retry` with a policy that counts only attempts (3 retries), and
/// Seawall's retry layer at its defaults (3 attempts, 20% + 10/s budget).
fn retry_stacks() -> Vec<Stack> {
    vec![
        Stack {
            name: "tower Retry (attempts only)",
            build: tower_retry_attempts,
        },
        Stack {
            name: "Seawall retry",
            build: seawall_retry,
        },
    ]
}

/// tower's retry policy as most code writes it: retry any error, up to `.0` more times.
#[derive(Clone, Copy)]
struct Attempts(u32);

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for Attempts {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        if result.is_err() && self.0 > 0 {
            self.0 -= 1;
            Some(std::future::ready(()))
        } else {
            None
        }
    }

    fn clone_request(&mut self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}

fn tower_retry_attempts(upstream: Upstream) -> LabService {
    erase(tower::retry::Retry::new(Attempts(3), upstream))
}

fn seawall_retry(upstream: Upstream) -> LabService {
    let layer = seawall_retry::RetryLayer::builder()
        .seed(1)
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
    let upstream =
        tower::ServiceExt::<seawall_sim::Request>::map_err(upstream, tower::BoxError::from);
    erase(tower::Layer::layer(&layer, upstream))
}

/// Seawall's circuit breaker at its defaults (20 failures in a row, or 50% of the last 100
/// calls), with a fixed jitter seed so the lab's figures repeat.
fn seawall_breaker(upstream: Upstream) -> LabService {
    let layer = seawall_breaker::CircuitBreakerLayer::builder()
        .seed(1)
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
    erase(tower::Layer::layer(&layer, upstream))
}
