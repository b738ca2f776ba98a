//! The breaker in front of a simulated upstream under open-loop load, in paused time:
//! how fast it trips in an outage, that background errors never trip it, and how fast it
//! closes once the upstream heals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_breaker::{BreakerHandle, Builder, CircuitBreakerLayer, State};
use seawall_sim::{run_paused, Latency, Load, Upstream};
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
    breaker: Builder,
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
    let open = Duration::from_secs(5);
    let (log, _) = run(
        || outage(10, 20),
        CircuitBreakerLayer::builder()
            .open_duration(open)
            .fixed_open_duration(),
        30,
    );
    let closed = first(&log, State::Closed, heal).expect("it closes");
    // Three probes at 100 req/s arrive within 30 ms and take 10 ms each.
    let probes = Duration::from_millis(50);
    assert!(
        closed - heal <= open + probes,
        "closed {:?} after healing: {log:?}",
        closed - heal
    );
    assert_eq!(log.last().map(|(_, s)| *s), Some(State::Closed));

    // With the open time growing on repeated trips, the bound is the open period in force
    // when the upstream heals.
    let (log, _) = run(
        || outage(10, 20),
        CircuitBreakerLayer::builder().seed(5),
        60,
    );
    let closed = first(&log, State::Closed, heal).expect("it closes");
    let last_open = log
        .iter()
        .filter(|(t, s)| *s == State::Open && *t < heal)
        .map(|(t, _)| *t)
        .next_back()
        .unwrap();
    let (half_open_at, next) = log
        .iter()
        .find(|(t, s)| *t > last_open && *s != State::Open)
        .copied()
        .unwrap();
    assert_eq!(next, State::HalfOpen, "{log:?}");
    let reopened_after = half_open_at - last_open;
    assert!(
        closed <= last_open + reopened_after + probes,
        "closed at {closed:?}, last opened at {last_open:?} for {reopened_after:?}: {log:?}"
    );
}
