//! Faults scripted with Seawall's chaos layers between the stack and the simulated
//! upstream: a brownout by injection, on an upstream that is itself healthy, and the same
//! brownout behind Seawall's retry, to show what a layer does against faults of a known
//! rate. No scenario of `scenarios::all` runs them: this module's test does, on a scenario of
//! its own. Live mode scripts its faults with the chaos layers itself (`live::upstream`).

use std::time::Duration;

use seawall_chaos::{InjectFaultLayer, InjectLatencyLayer, InjectedFault, Injection};
use seawall_core::latency::Latency;
use seawall_sim::{Request, Upstream};
use tower::{BoxError, Layer, ServiceExt};

use super::{erase, LabService, Stack};

/// The share of calls the injected brownout fails at once.
pub const BROWNOUT_FAULT_RATE: f64 = 0.05;
/// The share of calls the injected brownout delays before they reach the upstream.
pub const BROWNOUT_DELAY_RATE: f64 = 0.05;
/// How long a delayed call waits.
pub const BROWNOUT_DELAY: Duration = Duration::from_millis(200);

/// The injected brownout alone.
pub(super) const INJECTED_BROWNOUT: Stack = Stack {
    name: "injected brownout",
    build: injected_brownout,
};

/// Seawall's retry at its defaults in front of the injected brownout.
pub(super) const RETRY_OVER_INJECTED_BROWNOUT: Stack = Stack {
    name: "Seawall retry, injected brownout",
    build: retry_over_injected_brownout,
};

/// A brownout by injection in front of `upstream`: [`BROWNOUT_FAULT_RATE`] of calls fail
/// with [`InjectedFault`] without reaching it, and [`BROWNOUT_DELAY_RATE`] of those that
/// do reach it wait [`BROWNOUT_DELAY`] first. Both draws are seeded from `seed` (each layer
/// from its own stream), so the run repeats.
pub fn brownout_by_injection(upstream: Upstream, seed: u64) -> LabService {
    let upstream = ServiceExt::<Request>::map_err(upstream, BoxError::from);
    let injection = |rate, stream: u64| {
        Injection::builder()
            .rate(rate)
            .seed(seed ^ stream)
            .build()
            .unwrap_or_else(|e| unreachable!("the brownout's rates are valid: {e}"))
    };
    let delay = InjectLatencyLayer::new(
        injection(BROWNOUT_DELAY_RATE, 0xDE1A_u64),
        Latency::constant(BROWNOUT_DELAY),
    )
    .unwrap_or_else(|e| unreachable!("a constant latency is valid: {e}"));
    let fault = InjectFaultLayer::new(injection(BROWNOUT_FAULT_RATE, 0xFA17), InjectedFault::new);
    erase(fault.layer(delay.layer(upstream)))
}

fn injected_brownout(upstream: Upstream, seed: u64) -> LabService {
    brownout_by_injection(upstream, seed)
}

fn retry_over_injected_brownout(upstream: Upstream, seed: u64) -> LabService {
    let layer = seawall_retry::RetryLayer::builder()
        .seed(seed)
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
    erase(layer.layer(brownout_by_injection(upstream, seed)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use seawall_sim::{Abandonment, Latency, Load};

    use super::*;
    use crate::{ms, secs, Scenario};

    fn scenario() -> Scenario {
        Scenario {
            name: "injected-brownout",
            about: "a healthy upstream (10 ms) behind injected faults; 1000 req/s for 20 s",
            upstream: |seed| {
                Upstream::builder()
                    .latency(Latency::constant(ms(10)))
                    .abandonment(Abandonment::Never)
                    .seed(seed)
                    .build()
            },
            load: |seed| {
                Load::builder()
                    .rate(1000.0)
                    .duration(secs(20))
                    .timeout(ms(1000))
                    .seed(seed)
                    .build()
            },
            outage: None,
            capacity: None,
            stacks: super::super::chaos(),
        }
    }

    #[test]
    fn the_injected_brownout_fails_and_delays_its_share_and_repeats() {
        let result = scenario().run(3).unwrap();
        let alone = &result.results[0].summary;
        let requests = alone.requests as f64;
        // 5% of 20,000 requests: 1,000 ± 3.3σ (σ ≈ 30.8).
        let failed = alone.failed as f64;
        assert!((requests * 0.05 - failed).abs() < 110.0, "{alone:?}");
        assert_eq!(alone.timed_out, 0);
        // 5% of the rest wait 200 ms: the 99th percentile is a delayed call.
        assert!(alone.latency_ms.p99 >= 210.0, "{:?}", alone.latency_ms);
        assert!(alone.latency_ms.p50 < 20.0, "{:?}", alone.latency_ms);

        // Retries absorb nearly all of the injected faults.
        let retried = &result.results[1].summary;
        assert!(retried.success_rate > 0.995, "{retried:?}");

        // The same seed, the same figures: every draw was seeded (the lab refuses runs
        // that seed from entropy).
        let again = scenario().run(3).unwrap();
        assert_eq!(again.results[0].summary.failed, alone.failed);
        assert_eq!(
            again.results[0].summary.latency_ms.p99,
            alone.latency_ms.p99
        );
        assert_eq!(again.results[1].summary.failed, retried.failed);
    }
}
