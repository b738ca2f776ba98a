//! The hedge under load it must not add to: an upstream at capacity, and an outage with a
//! budget shared with the retry layer. Print the figures with
//! `cargo test -p seawall-hedge --test load -- --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall_hedge::HedgeLayer;
use seawall_retry::RetryLayer;
use seawall_sim::scenarios::Outage;
use seawall_sim::{run_paused, Arrivals, Capacity, Latency, Load, Request, Summary, Upstream};
use tower::{BoxError, Layer, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn poisson(rate: f64, seconds: u64, timeout: Duration) -> Load {
    Load::builder()
        .rate(rate)
        .duration(Duration::from_secs(seconds))
        .arrivals(Arrivals::Poisson)
        .timeout(timeout)
        .seed(7)
        .build()
        .unwrap()
}

/// 20 workers at log-normal 20 ms (σ 0.5, mean 22.7 ms): about 880 requests/s.
fn at_capacity() -> Upstream {
    Upstream::builder()
        .latency(Latency::log_normal(ms(20), 0.5))
        .capacity(Capacity::workers(20).queue(1000))
        .seed(1)
        .build()
        .unwrap()
}

#[test]
fn at_capacity_hedging_does_not_lower_goodput() {
    for rate in [850.0, 950.0] {
        let (none, hedged, stats) = run_paused(async move {
            let load = poisson(rate, 30, Duration::from_secs(1));
            let upstream = at_capacity();
            let inner = ServiceExt::<Request>::map_err(upstream.clone(), BoxError::from);
            let none = load.run(&upstream, inner).await;
            let upstream = at_capacity();
            let inner = ServiceExt::<Request>::map_err(upstream.clone(), BoxError::from);
            let layer = HedgeLayer::default();
            let hedged = load.run(&upstream, layer.layer(inner)).await;
            (none, hedged, layer.stats())
        });
        println!(
            "at capacity, {rate} req/s: goodput {:.1} → {:.1} req/s, p99 {:.1} → {:.1} ms, \
             extra load {:.2}%, {stats:?}",
            none.goodput_rps,
            hedged.goodput_rps,
            none.latency_ms.p99,
            hedged.latency_ms.p99,
            (hedged.amplification - 1.0) * 100.0
        );
        if rate < 880.0 {
            // Just under capacity: hedges lose (they queue behind their first attempt), the
            // gate stops them, and the goodput is the same.
            assert!(hedged.goodput_rps >= 0.995 * none.goodput_rps);
            assert!(hedged.amplification - 1.0 <= 0.02);
            // Hedges that only queue do not slow everyone down (187 ms without the gate, and 3.7% extra load).
            assert!(hedged.latency_ms.p99 <= 1.25 * none.latency_ms.p99);
        }
    }
}

/// Healthy: 98% ~10 ms, 2% ~1 s; from 10 s to 20 s every call fails in 1 ms.
fn outage() -> Upstream {
    Outage::new(Duration::from_secs(10), Duration::from_secs(20))
        .healthy(Latency::mixture([
            (0.98, Latency::uniform(ms(8), ms(12))),
            (0.02, Latency::uniform(ms(900), ms(1100))),
        ]))
        .failing(Latency::constant(ms(1)))
        .seed(2)
        .build()
        .unwrap()
}

async fn retried(shared: bool) -> (Summary, u64) {
    let upstream = outage();
    let retry = RetryLayer::builder().seed(3).build().unwrap();
    let hedge = match (shared, retry.budget()) {
        (true, Some(budget)) => HedgeLayer::builder().shared_budget(budget.clone()),
        _ => HedgeLayer::builder(),
    }
    .build()
    .unwrap();
    let inner = ServiceExt::<Request>::map_err(upstream.clone(), BoxError::from);
    let stack = retry.layer(hedge.layer(inner));
    let summary = poisson(1000.0, 30, Duration::from_secs(2))
        .run(&upstream, stack)
        .await;
    (summary, hedge.stats().hedges)
}

#[test]
fn a_budget_shared_with_retries_holds_their_combined_extra_load() {
    let ((shared, shared_hedges), (separate, separate_hedges)) =
        run_paused(async { (retried(true).await, retried(false).await) });
    for (name, s, hedges) in [
        ("shared budget", &shared, shared_hedges),
        ("separate budgets", &separate, separate_hedges),
    ] {
        println!(
            "outage 10–20 s, retry over hedge, {name}: worst second {:.3}× (second {}), \
             whole run {:.3}×, {hedges} hedges, p99.9 {:.1} ms",
            s.worst_second.load, s.worst_second.t, s.amplification, s.latency_ms.p999
        );
    }
    // The retry budget's share: 20% of the second's requests plus 10, for retries and hedges
    // together (a calendar second overlaps two of the budget's sliding windows: 1% slack).
    assert!(
        shared.worst_second.load <= 1.2 + 0.01 + 0.01,
        "{:?}",
        shared.worst_second
    );
    assert!(separate.worst_second.load > shared.worst_second.load + 0.03);
    assert!(
        shared_hedges > 0,
        "the hedges drew on the shared budget too"
    );
}
