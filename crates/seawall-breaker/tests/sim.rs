//! The breaker in front of a simulated upstream under open-loop load, in paused time:
//! how fast it trips in an outage, that background errors never trip it, and how fast it
//! closes once the upstream heals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_breaker::{BreakerHandle, CircuitBreakerBuilder, CircuitBreakerLayer, State};
use seawall_sim::{run_paused, Arrivals, Capacity, Latency, Load, Second, Summary, Upstream};
use tokio::time::Instant;
use tower::Layer;

type Log = Arc<Mutex<Vec<(Duration, State)>>>;

/// Notes the states the breaker enters, with the time since `start`, as the watch channel
/// reports them (it holds the latest state: transitions with no await between them show as
/// the last one; in this single-threaded simulation they come at separate moments).
fn watch(handle: &BreakerHandle, start: Instant) -> Log {
    let log: Log = Arc::default();
    let mut rx = handle.subscribe();
    let sink = log.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let state = *rx.borrow_and_update();
            sink.lock().unwrap().push((start.elapsed(), state));
        }
    });
    log
}

/// An upstream that is healthy (10 ms), fails every call from `from` to `to`, then heals.
fn outage(from: u64, to: u64) -> Upstream {
    Upstream::builder()
        .latency(Latency::constant(Duration::from_millis(10)))
        .at(Duration::from_secs(from), |p| p.failure_rate(1.0))
        .at(Duration::from_secs(to), |p| p.failure_rate(0.0))
        .seed(3)
        .build()
        .unwrap()
}

fn load(seconds: u64) -> Load {
    Load::builder()
        .rate(100.0)
        .duration(Duration::from_secs(seconds))
        .build()
        .unwrap()
}

/// Runs 100 req/s for `seconds` through `breaker` in front of `upstream`; returns the
/// transitions and the breaker's handle.
fn run(
    upstream: fn() -> Upstream,
    breaker: CircuitBreakerBuilder,
    seconds: u64,
) -> (Vec<(Duration, State)>, BreakerHandle) {
    run_paused(async move {
        let upstream = upstream();
        let layer = breaker.build().unwrap();
        let handle = layer.handle();
        let log = watch(&handle, Instant::now());
        let svc = layer.layer(upstream.clone());
        load(seconds).run(&upstream, svc).await;
        tokio::task::yield_now().await;
        let log = log.lock().unwrap().clone();
        (log, handle)
    })
}

fn first(log: &[(Duration, State)], state: State, after: Duration) -> Option<Duration> {
    log.iter()
        .find(|(t, s)| *s == state && *t >= after)
        .map(|(t, _)| *t)
}

#[test]
fn an_outage_at_100_rps_trips_within_a_second_on_either_condition() {
    let outage_start = Duration::from_secs(10);
    // max(5 failures at 100 req/s = 50 ms, 1 s)
    let bound = Duration::from_secs(1);
    let conditions = [
        (
            "5 in a row",
            CircuitBreakerLayer::builder()
                .consecutive_failures(5)
                .failure_rate(None),
        ),
        (
            "50% of the last 100 (at least 20)",
            CircuitBreakerLayer::builder().consecutive_failures(None),
        ),
        ("the defaults", CircuitBreakerLayer::builder()),
    ];
    for (name, breaker) in conditions {
        let (log, handle) = run(|| outage(10, 1000), breaker.seed(1), 12);
        let tripped = first(&log, State::Open, Duration::ZERO).expect("it trips");
        assert!(
            tripped >= outage_start,
            "{name}: no trip before the outage: {log:?}"
        );
        let took = tripped - outage_start;
        assert!(took <= bound, "{name}: tripped {took:?} into the outage");
        println!(
            "{name}: tripped {took:?} into the outage; trips {}",
            handle.metrics().trips
        );
    }
}

#[test]
fn one_percent_background_errors_for_ten_minutes_never_trip_the_defaults() {
    let (log, handle) = run(
        || {
            Upstream::builder()
                .latency(Latency::constant(Duration::from_millis(10)))
                .failure_rate(0.01)
                .seed(11)
                .build()
                .unwrap()
        },
        CircuitBreakerLayer::builder(),
        600,
    );
    let m = handle.metrics();
    assert!(m.failures > 500, "the upstream did fail: {m:?}");
    assert_eq!(m.trips, 0, "{log:?}");
    assert!(log.is_empty());
}

#[test]
fn after_the_upstream_heals_the_breaker_closes_within_one_open_period_plus_the_probes() {
    let heal = Duration::from_secs(20);
    // Two probe round trips at 100 req/s: the first probe alone, then the other two; each
    // waits up to 10 ms for a call to arrive and takes 10 ms.
    let probes = Duration::from_millis(50);
    let cases = [
        (
            "fixed 5 s",
            CircuitBreakerLayer::builder()
                .open_duration(Duration::from_secs(5))
                .fixed_open_duration(),
            Duration::from_secs(5),
        ),
        // The defaults: 1 s, lengthened by up to 10%.
        (
            "the defaults",
            CircuitBreakerLayer::builder().seed(5),
            Duration::from_millis(1_100),
        ),
    ];
    for (name, breaker, open) in cases {
        let (log, _) = run(|| outage(10, 20), breaker, 30);
        let closed = first(&log, State::Closed, heal).expect("it closes");
        assert!(
            closed - heal <= open + probes,
            "{name}: closed {:?} after healing: {log:?}",
            closed - heal
        );
        assert_eq!(log.last().map(|(_, s)| *s), Some(State::Closed));
    }
}

/// The lab's outage scenario (`seawall-lab --scenario outage`): an upstream of 8–12 ms with
/// 100 workers and a queue of 1,000, failing every call in 1 ms from 20 s until `heal`.
fn lab_outage(seed: u64, heal: Duration) -> Upstream {
    let healthy = || Latency::uniform(Duration::from_millis(8), Duration::from_millis(12));
    Upstream::builder()
        .latency(healthy())
        .capacity(Capacity::workers(100).queue(1000))
        .seed(seed)
        .at(Duration::from_secs(20), |p| {
            p.failure_rate(1.0)
                .latency(Latency::constant(Duration::from_millis(1)))
        })
        .at(heal, |p| p.failure_rate(0.0).latency(healthy()))
        .build()
        .unwrap()
}

/// The lab's load: Poisson arrivals at 1,000 req/s, a 1 s client timeout.
fn lab_load(seed: u64, seconds: u64) -> Load {
    Load::builder()
        .rate(1000.0)
        .duration(Duration::from_secs(seconds))
        .arrivals(Arrivals::Poisson)
        .timeout(Duration::from_secs(1))
        .seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .build()
        .unwrap()
}

/// The breaker at its defaults (jitter seed 1, as in the lab) in the lab's outage
/// scenario, and the same run with no breaker.
struct Outage {
    none: Summary,
    breaker: Summary,
    log: Vec<(Duration, State)>,
}

fn lab_run(seed: u64, heal: Duration, seconds: u64) -> Outage {
    run_paused(async move {
        let upstream = lab_outage(seed, heal);
        let none = lab_load(seed, seconds)
            .run(&upstream, upstream.clone())
            .await;
        let upstream = lab_outage(seed, heal);
        let layer = CircuitBreakerLayer::builder().seed(1).build().unwrap();
        let log = watch(&layer.handle(), Instant::now());
        let breaker = lab_load(seed, seconds)
            .run(&upstream, layer.layer(upstream.clone()))
            .await;
        tokio::task::yield_now().await;
        let log = log.lock().unwrap().clone();
        Outage { none, breaker, log }
    })
}

fn attempts(series: &[Second], from: u64, to: u64) -> Vec<u64> {
    series
        .iter()
        .filter(|s| (from..to).contains(&s.t))
        .map(|s| s.upstream_attempts)
        .collect()
}

/// Issue 8, section 3: at its defaults, the breaker must cost (almost) no successes in the
/// lab's outage scenario — within 2 points of no breaker at all, so it notices the heal
/// within about a second — while the upstream gets at most 1% of its normal load during the
/// outage; and a dead upstream gets at most one probe a second on average over ten minutes.
///
/// `cargo test -p seawall-breaker --test sim -- --nocapture the_defaults` prints the figures
/// `docs/benchmarks.md` quotes.
#[test]
fn the_defaults_cost_no_successes_in_the_lab_outage_and_probe_at_most_once_a_second() {
    let outage = (Duration::from_secs(20), Duration::from_secs(30));
    for seed in 1..=3 {
        let Outage { none, breaker, log } = lab_run(seed, outage.1, 60);
        let tripped = first(&log, State::Open, outage.0).expect("it trips") - outage.0;
        let recovered = first(&log, State::Closed, outage.1).expect("it closes") - outage.1;
        let during = attempts(&breaker.series, 20, 30);
        let reached: u64 = during.iter().sum();
        let normal: u64 = none
            .series
            .iter()
            .filter(|s| (20..30).contains(&s.t))
            .map(|s| s.sent)
            .sum();
        let worst = during.iter().copied().max().unwrap_or(0);
        let probes_while_open: u64 = attempts(&breaker.series, 21, 30).iter().sum();
        println!(
            "seed {seed}: success {:.2}% (none {:.2}%); tripped {tripped:?} into the outage; \
             closed {recovered:?} after the heal; upstream during the outage {reached} calls \
             = {:.2}% of {normal} (worst second {worst}, the first: the trip's failures); \
             {probes_while_open} probes in 21-29 s",
            breaker.success_rate * 100.0,
            none.success_rate * 100.0,
            reached as f64 / normal as f64 * 100.0,
        );
        assert!(
            breaker.success_rate >= none.success_rate - 0.02,
            "seed {seed}: {:.4} against {:.4} with no breaker",
            breaker.success_rate,
            none.success_rate
        );
        assert!(
            reached * 100 <= normal,
            "seed {seed}: the upstream got {reached} of {normal} calls during the outage"
        );
        assert!(
            recovered <= Duration::from_millis(1_200),
            "seed {seed}: closed {recovered:?} after the heal: {log:?}"
        );
    }

    // Ten minutes down: how often does the breaker probe?
    let heal = Duration::from_secs(620);
    let Outage { breaker, log, .. } = lab_run(1, heal, 630);
    let probes = attempts(&breaker.series, 21, 620);
    let total: u64 = probes.iter().sum();
    let per_second = total as f64 / probes.len() as f64;
    let worst = probes.iter().copied().max().unwrap_or(0);
    let recovered = first(&log, State::Closed, heal).expect("it closes") - heal;
    println!(
        "10-minute outage: {total} probes in {} s = {per_second:.3}/s (worst second {worst}); \
         closed {recovered:?} after the heal",
        probes.len()
    );
    assert!(per_second <= 1.0, "{per_second} probes/s");
    assert!(recovered <= Duration::from_millis(1_200), "{recovered:?}");
}
