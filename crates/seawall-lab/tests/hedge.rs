//! The heavy-tail scenario's hedge columns: Seawall's defaults beside tower's `Hedge`,
//! tower-resilience's fixed-delay hedge and Seawall's own at a hand-picked fixed delay, in one
//! lab run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall_sim::{hedge_rate, run_paused, Latency, Request, Summary};
use tower::BoxError;

fn heavy_tail() -> impl Fn(&str) -> Summary {
    let report = seawall_lab::run(&["heavy-tail".to_string()], 1).unwrap();
    let scenario = report.scenarios.into_iter().next().unwrap();
    move |name: &str| {
        let found = scenario.results.iter().find(|r| r.stack == name);
        found
            .unwrap_or_else(|| panic!("no column {name}"))
            .summary
            .clone()
    }
}

#[test]
fn untuned_seawall_matches_the_hand_picked_delay_and_tower_misses_its_first_period() {
    let get = heavy_tail();
    let none = get("none");
    let seawall = get("Seawall hedge (defaults)");
    let picked = get("Seawall hedge (fixed 12 ms)");
    let tower = get("tower Hedge (p95, 1000 samples, 10 s)");
    let cut = none.latency_ms.p999 / seawall.latency_ms.p999;
    assert!(cut >= 40.0, "p99.9 cut {cut:.1}×");
    assert!(seawall.latency_ms.p999 <= picked.latency_ms.p999 + 1.0);
    // The slow calls of tower's first 10 s period are never hedged.
    assert!(tower.latency_ms.p999 > 500.0, "{:?}", tower.latency_ms);
    // The extra load is the share of slow calls drawn: 2% ± 0.17% (3σ over 60,000).
    assert!(
        seawall.amplification - 1.0 <= 0.0217,
        "{}",
        seawall.amplification
    );
}

/// tower-resilience's hedge sleeps on tokio's clock, so paused time measures it: a slow call
/// (2%, more than the 0.1% the p99.9 looks at) is answered by its hedge, sent on the delay's
/// tick and answered at most 12 ms later (the slowest fast call, on its tick). The p99.9 is
/// therefore the delay plus 12 ms. A hedge timed by the wall clock would not fire on the
/// paused clock's ticks (the 60 s run takes well under a second of real time), and its p99.9
/// would stay near the slow calls' ~1 s.
#[test]
fn tower_resilience_p999_is_its_delay_plus_the_slowest_fast_call() {
    let get = heavy_tail();
    let none = get("none");
    for (name, delay_ms) in [
        ("tower-resilience hedge (fixed 12 ms)", 12.0),
        ("tower-resilience hedge (fixed 50 ms)", 50.0),
    ] {
        let peer = get(name);
        assert_eq!(peer.requests, none.requests, "{name}");
        assert_eq!(peer.succeeded, peer.requests, "{name}");
        let p999 = peer.latency_ms.p999;
        assert!(
            (p999 - (delay_ms + 12.0)).abs() <= 1.0,
            "{name}: p99.9 {p999} ms"
        );
        assert!(
            peer.amplification > 1.0 + 0.0183,
            "{name}: hedges every slow call"
        );
    }
    // At 50 ms no fast call is still out when the timer fires: the extra load is the slow
    // calls alone, 2% ± 0.17% as for Seawall.
    let fifty = get("tower-resilience hedge (fixed 50 ms)");
    assert!(
        fifty.amplification - 1.0 <= 0.0217,
        "{}",
        fifty.amplification
    );
}

/// tower-resilience keeps its attempts in a `FuturesUnordered`, which polls only the
/// attempts that were woken, and polls them before its timer. The simulator's reply future
/// wakes its own task on the tick its answer is due, so an answer due on the tick the hedge's
/// timer fires on wins the tie: tower-resilience hedges P(S > d), as Seawall's layer does,
/// and not P(S > d − 1 ms) (every call that took 11 to 12 ms as well), which it did when
/// answers reached it only through the upstream's driver task.
#[test]
fn tower_resilience_wins_timer_ties_on_the_simulator() {
    let latency = Latency::log_normal(Duration::from_millis(10), 0.5);
    let delay = Duration::from_millis(12);
    let peer = run_paused(hedge_rate(latency.clone(), delay, 20_000, 3, |upstream| {
        tower::Layer::layer(&tower_resilience_hedge::HedgeLayer::new(delay), upstream)
    }))
    .unwrap();
    // Every hedge due is sent: no budget, no gate, as tower-resilience.
    let layer = seawall_hedge::HedgeLayer::builder()
        .delay(delay)
        .unlimited_budget()
        .min_win_rate(0.0)
        .build()
        .unwrap();
    let seawall = run_paused(hedge_rate(latency.clone(), delay, 20_000, 3, |upstream| {
        let upstream = tower::ServiceExt::<Request>::map_err(upstream, BoxError::from);
        tower::Layer::layer(&layer, upstream)
    }))
    .unwrap();
    let one_tick_early = latency.exceeds(Duration::from_millis(11));
    eprintln!(
        "hedged share at 12 ms: P(S > 12 ms) {:.4}, P(S > 11 ms) {one_tick_early:.4}, \
         tower-resilience {:.4}, Seawall {:.4}",
        peer.expected, peer.measured, seawall.measured
    );
    assert!(seawall.relative_error() <= 0.02, "{seawall:?}");
    assert!(peer.relative_error() <= 0.02, "{peer:?}");
    assert!(peer.measured < one_tick_early * 0.9, "{peer:?}");
}
