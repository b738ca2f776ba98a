//! The hedge's figures in the simulator (paused time). Print them with
//! `cargo test -p seawall-hedge --test figures -- --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall_hedge::HedgeLayer;
use seawall_sim::{
    hedge_rate, run_paused, Abandonment, Arrivals, Latency, Load, Request, Summary, Upstream,
};
use tower::{BoxError, Layer, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// "The Tail at Scale": 98% of calls take ~10 ms, 2% take ~1 s.
fn tail_at_scale() -> Latency {
    Latency::mixture([
        (0.98, Latency::uniform(ms(8), ms(12))),
        (0.02, Latency::uniform(ms(900), ms(1100))),
    ])
}

fn load(seconds: u64, seed: u64) -> Load {
    Load::builder()
        .rate(1000.0)
        .duration(Duration::from_secs(seconds))
        .arrivals(Arrivals::Poisson)
        .timeout(Duration::from_secs(2))
        .seed(seed)
        .build()
        .unwrap()
}

/// Runs `load` against `upstream`, through `layer` if there is one.
async fn run(upstream: Upstream, load: &Load, layer: Option<&HedgeLayer>) -> Summary {
    let inner = ServiceExt::<Request>::map_err(upstream.clone(), BoxError::from);
    match layer {
        Some(layer) => load.run(&upstream, layer.layer(inner)).await,
        None => load.run(&upstream, inner).await,
    }
}

/// The largest share of hedges in any second (hedges / requests sent that second).
fn worst_extra(summary: &Summary) -> f64 {
    summary
        .series
        .iter()
        .filter(|s| s.sent > 100)
        .map(|s| (s.upstream_attempts as f64 - s.sent as f64) / s.sent as f64)
        .fold(f64::MIN, f64::max)
}

#[test]
fn the_hedge_rate_is_p_s_greater_than_d() {
    let check = run_paused(hedge_rate(
        Latency::log_normal(ms(10), 0.5),
        ms(12),
        20_000,
        3,
        |upstream| {
            // Every hedge due is sent: no budget, no gate (at 12 ms few hedges win here).
            let layer = HedgeLayer::builder()
                .delay(ms(12))
                .unlimited_budget()
                .min_win_rate(0.0)
                .build()
                .unwrap();
            layer.layer(ServiceExt::<Request>::map_err(upstream, BoxError::from))
        },
    ))
    .unwrap();
    println!(
        "hedge rate: measured {:.4}, P(S > d) = {:.4} ({:+.2}%)",
        check.measured,
        check.expected,
        (check.measured / check.expected - 1.0) * 100.0
    );
    assert!(check.relative_error() < 0.02, "{check:?}");
}

#[test]
fn tail_at_scale_untuned_cuts_p999_forty_fold_for_two_percent() {
    let (none, hedged, first_hedge) = run_paused(async {
        let upstream = || {
            Upstream::builder()
                .latency(tail_at_scale())
                .abandonment(Abandonment::Never)
                .seed(1)
                .build()
                .unwrap()
        };
        let load = load(60, 7);
        let none = run(upstream(), &load, None).await;
        let layer = HedgeLayer::default();
        let hedged = run(upstream(), &load, Some(&layer)).await;
        let first = hedged
            .series
            .iter()
            .find(|s| s.upstream_attempts > s.sent)
            .map(|s| s.t);
        let stats = layer.stats();
        assert!(
            stats.won as f64 >= 0.97 * stats.hedges as f64,
            "hedges go to the slow calls only: {stats:?}"
        );
        (none, hedged, first)
    });
    let cut = none.latency_ms.p999 / hedged.latency_ms.p999;
    let extra = hedged.amplification - 1.0;
    println!(
        "tail at scale, defaults: p99.9 {:.1} → {:.1} ms ({cut:.1}×), p99 {:.1} → {:.1} ms, \
         extra load {:.2}% (worst second {:.2}%), first hedge in second {first_hedge:?}",
        none.latency_ms.p999,
        hedged.latency_ms.p999,
        none.latency_ms.p99,
        hedged.latency_ms.p99,
        extra * 100.0,
        worst_extra(&hedged) * 100.0
    );
    assert!(cut >= 40.0, "p99.9 cut only {cut:.1}×");
    // The hedges are the slow calls: 2% of them on average, and 2% ± 0.17% (three standard
    // deviations) among 60,000 draws.
    let three_sigma = 3.0 * (0.02f64 * 0.98 / hedged.requests as f64).sqrt();
    assert!(
        extra <= 0.02 + three_sigma,
        "extra load {:.2}%",
        extra * 100.0
    );
    assert_eq!(first_hedge, Some(0), "hedging starts in the first second");
}

#[test]
fn the_percentile_counts_the_losers_so_it_is_not_biased_low() {
    // Heavy tails (log-normal): a first attempt that loses to its hedge is among the
    // slowest. Counted at the time it was cut short (or not at all, as tower's `Hedge`
    // does), it pulls p95 down and hedges grow: 8.2% of requests at σ = 2. Counted as an
    // at-least sample, about 5%, a little under when the window's noise pushes the estimate
    // up.
    for sigma in [0.5, 1.0, 2.0] {
        let (summary, stats) = run_paused(async move {
            let upstream = Upstream::builder()
                .latency(Latency::log_normal(ms(20), sigma))
                .seed(3)
                .build()
                .unwrap();
            let layer = HedgeLayer::builder()
                .unlimited_budget()
                .min_win_rate(0.0)
                .build()
                .unwrap();
            let summary = run(upstream, &load(20, 3), Some(&layer)).await;
            (summary, layer.stats())
        });
        let extra = summary.amplification - 1.0;
        println!(
            "log-normal σ={sigma}, p95 delay: {:.2}% hedged, {stats:?}",
            extra * 100.0
        );
        assert!(
            (0.035..=0.056).contains(&extra),
            "{:.2}% hedged",
            extra * 100.0
        );
    }
}

/// Before 30 s: 98% ~10 ms, 2% ~1 s. After: 98% ~100 ms, 2% ~3 s.
fn shifting() -> Upstream {
    Upstream::builder()
        .latency(tail_at_scale())
        .at(Duration::from_secs(30), |p| {
            p.latency(Latency::mixture([
                (0.98, Latency::uniform(ms(80), ms(120))),
                (0.02, Latency::uniform(ms(2700), ms(3300))),
            ]))
        })
        .seed(5)
        .build()
        .unwrap()
}

/// Runs 30 s of load before the shift and 30 s after it through one stack.
async fn before_and_after(layer: Option<HedgeLayer>) -> (Summary, Summary) {
    let upstream = shifting();
    let load = Load::builder()
        .rate(1000.0)
        .duration(Duration::from_secs(30))
        .arrivals(Arrivals::Poisson)
        .timeout(Duration::from_secs(5))
        .seed(11)
        .build()
        .unwrap();
    let before = run(upstream.clone(), &load, layer.as_ref()).await;
    tokio::time::sleep_until(upstream.origin() + Duration::from_secs(30)).await;
    let after = run(upstream, &load, layer.as_ref()).await;
    (before, after)
}

#[test]
fn the_delay_follows_a_shift_where_a_fixed_one_cannot() {
    let runs = run_paused(async {
        let mut runs = Vec::new();
        for (name, layer) in [
            ("none", None),
            ("Seawall, defaults", Some(HedgeLayer::default())),
            (
                "fixed 12 ms",
                Some(HedgeLayer::builder().delay(ms(12)).build().unwrap()),
            ),
            (
                "fixed 120 ms",
                Some(HedgeLayer::builder().delay(ms(120)).build().unwrap()),
            ),
        ] {
            runs.push((name, before_and_after(layer).await));
        }
        runs
    });
    let (none_before, none_after) = &runs[0].1;
    for (name, (before, after)) in &runs {
        println!(
            "shift, {name}: p99.9 before {:.1} ms ({:.1}×), after {:.1} ms ({:.1}×); \
             extra load {:.2}% / {:.2}%, worst second {:.2}% / {:.2}%",
            before.latency_ms.p999,
            none_before.latency_ms.p999 / before.latency_ms.p999,
            after.latency_ms.p999,
            none_after.latency_ms.p999 / after.latency_ms.p999,
            (before.amplification - 1.0) * 100.0,
            (after.amplification - 1.0) * 100.0,
            worst_extra(before) * 100.0,
            worst_extra(after) * 100.0,
        );
    }
    let (before, after) = &runs[1].1;
    assert!(none_before.latency_ms.p999 / before.latency_ms.p999 >= 10.0);
    assert!(none_after.latency_ms.p999 / after.latency_ms.p999 >= 10.0);
    // The budget: 5% of the second's requests plus 10, every second, both sides.
    for run in [before, after] {
        for s in run.series.iter().filter(|s| s.sent > 100) {
            let hedges = s.upstream_attempts.saturating_sub(s.sent);
            assert!(
                hedges as f64 <= 0.05 * s.sent as f64 + 10.0 + 3.0,
                "second {}: {hedges} hedges for {} requests",
                s.t,
                s.sent
            );
        }
    }
}
