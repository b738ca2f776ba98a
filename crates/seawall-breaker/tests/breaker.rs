//! The breaker as a user meets it: its decisions, its hints, its trip conditions, its
//! manual controls and keyed breakers, all in paused time (half-open probes: `half_open.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use seawall_breaker::{CircuitBreakerLayer, KeyedCircuitBreakerBuilder, State};
use tokio::time::advance;
use tokio_test::{assert_pending, assert_ready_ok};
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_test::mock;

mod common;
use common::{consecutive, flaky, retry_after, secs};

#[test]
fn bad_settings_are_errors_that_name_the_field() {
    let cases: Vec<(seawall_breaker::CircuitBreakerBuilder, &str)> = vec![
        (
            CircuitBreakerLayer::builder().failure_rate(1.5),
            "failure_rate",
        ),
        (
            CircuitBreakerLayer::builder().failure_rate(0.0),
            "failure_rate",
        ),
        (
            CircuitBreakerLayer::builder().consecutive_failures(0),
            "consecutive_failures",
        ),
        (
            CircuitBreakerLayer::builder().count_window(0),
            "count_window",
        ),
        (
            CircuitBreakerLayer::builder()
                .count_window(10)
                .min_calls(11),
            "min_calls",
        ),
        (
            CircuitBreakerLayer::builder().time_window(secs(1), 0),
            "time_window",
        ),
        (
            CircuitBreakerLayer::builder().open_duration(Duration::ZERO),
            "open_duration",
        ),
        (
            CircuitBreakerLayer::builder().open_backoff(2.0, Duration::from_millis(500)),
            "max_open_duration",
        ),
        (
            CircuitBreakerLayer::builder().open_backoff(0.5, secs(60)),
            "open_multiplier",
        ),
        (CircuitBreakerLayer::builder().jitter(-0.1), "jitter"),
        (CircuitBreakerLayer::builder().probes(0), "probes"),
        (
            CircuitBreakerLayer::builder().probe_timeout(Duration::ZERO),
            "probe_timeout",
        ),
        (
            CircuitBreakerLayer::builder().slow_calls(Duration::ZERO, 0.5),
            "slow_call",
        ),
    ];
    for (builder, field) in cases {
        let err = builder.build().unwrap_err();
        assert!(err.to_string().starts_with(field), "{field}: {err}");
    }
    let err = KeyedCircuitBreakerBuilder::new(|_: &()| ())
        .max_keys(0)
        .build::<()>()
        .unwrap_err();
    assert!(err.to_string().contains("max_keys"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_is_ready_at_once_and_rejects_without_touching_the_inner_service() {
    let layer = consecutive(2).build().unwrap();
    let handle = layer.handle();
    let (mut svc, mut inner) = mock::spawn_layer::<(), (), _>(layer);

    // Closed: readiness is the inner service's.
    inner.allow(0);
    assert_pending!(svc.poll_ready());
    inner.allow(2);
    for _ in 0..2 {
        assert_ready_ok!(svc.poll_ready());
        let call = svc.call(());
        let (_, respond) = inner.next_request().await.unwrap();
        respond.send_error("down");
        assert!(call.await.is_err());
    }
    assert_eq!(handle.state(), State::Open);

    // Open: ready even though the inner service is not, and the call never reaches it.
    inner.allow(0);
    assert_ready_ok!(svc.poll_ready());
    let err = svc.call(()).await.unwrap_err();
    assert_eq!(retry_after(&err), Some(secs(5)));
    assert_pending!(inner.poll_request());
    assert_eq!(handle.metrics().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn the_hint_counts_down_and_repeated_trips_open_for_longer_up_to_the_cap() {
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .failure_rate(None)
        .open_duration(secs(5))
        .open_backoff(2.0, secs(15))
        .jitter(0.0)
        .probes(1)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(flaky());
    let _ = svc.clone().oneshot(true).await;
    advance(secs(2)).await;
    let err = svc.clone().oneshot(false).await.unwrap_err();
    assert_eq!(retry_after(&err), Some(secs(3)));

    // Each failed probe reopens for twice as long, up to 15 s.
    for expected in [10, 15, 15] {
        advance(handle.remaining_open().unwrap()).await;
        assert_eq!(handle.state(), State::HalfOpen);
        assert!(svc.clone().oneshot(true).await.is_err(), "the probe fails");
        assert_eq!(handle.remaining_open(), Some(secs(expected)));
    }
    // A successful probe closes it and the growth starts over.
    advance(secs(15)).await;
    svc.clone().oneshot(false).await.unwrap();
    assert_eq!(handle.state(), State::Closed);
    let _ = svc.clone().oneshot(true).await;
    assert_eq!(handle.remaining_open(), Some(secs(5)));
    assert_eq!(handle.metrics().trips, 5);
}

#[tokio::test(start_paused = true)]
async fn the_failure_rate_trips_only_past_the_minimum_and_the_threshold() {
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(None)
        .failure_rate(0.5)
        .count_window(10)
        .min_calls(6)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(flaky());
    for fail in [false, false, true, true, true] {
        let _ = svc.clone().oneshot(fail).await;
    }
    assert_eq!(
        handle.state(),
        State::Closed,
        "3 of 5, but 5 calls are below the minimum of 6"
    );
    for fail in [false, false, false, false, false] {
        let _ = svc.clone().oneshot(fail).await;
    }
    assert_eq!(handle.metrics().window_failures, 3);
    // The oldest calls leave the window as new ones come: 4 of the last 10 failed...
    let _ = svc.clone().oneshot(true).await;
    assert_eq!(handle.metrics().window_failures, 4);
    assert_eq!(handle.state(), State::Closed);
    // ...then 5 of the last 10: 50% trips it.
    let _ = svc.clone().oneshot(true).await;
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_time_window_forgets_old_failures() {
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(None)
        .failure_rate(0.5)
        .time_window(secs(10), 10)
        .min_calls(4)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(flaky());
    for fail in [true, true, false] {
        let _ = svc.clone().oneshot(fail).await;
    }
    advance(secs(10)).await;
    for fail in [false, false, false, true] {
        let _ = svc.clone().oneshot(fail).await;
    }
    assert_eq!(
        handle.state(),
        State::Closed,
        "1 of 4 in the window; the old 2 are gone"
    );
    assert_eq!(handle.metrics().window_calls, 4);
    let _ = svc.clone().oneshot(true).await;
    let _ = svc.clone().oneshot(true).await;
    assert_eq!(handle.state(), State::Open, "3 of 6");
}

#[tokio::test(start_paused = true)]
async fn slow_calls_trip_the_breaker_and_a_slow_probe_fails() {
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(None)
        .failure_rate(None)
        .slow_calls(Duration::from_millis(500), 0.5)
        .count_window(4)
        .min_calls(4)
        .probes(1)
        .fixed_open_duration()
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, &str>(())
    }));
    for ms in [10, 600, 10, 600] {
        svc.clone().oneshot(ms).await.unwrap();
    }
    assert_eq!(
        handle.state(),
        State::Open,
        "half of the last 4 took 500 ms or more"
    );
    assert_eq!(handle.metrics().slow_calls, 2);
    advance(secs(5)).await;
    svc.clone().oneshot(700).await.unwrap();
    assert_eq!(
        handle.state(),
        State::Open,
        "a slow probe counts as a failed one"
    );
    advance(secs(5)).await;
    svc.clone().oneshot(10).await.unwrap();
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn every_transition_reaches_the_watch_channel_and_manual_modes_behave() {
    let log = seawall_sim::EventLog::new();
    let _events = log.install();
    let layer = consecutive(1).probes(1).build().unwrap();
    let handle = layer.handle();
    let mut changes = handle.subscribe();
    let svc = layer.layer(flaky());
    let mut seen = Vec::new();
    fn note(rx: &mut tokio::sync::watch::Receiver<State>, seen: &mut Vec<State>) {
        if rx.has_changed().unwrap() {
            seen.push(*rx.borrow_and_update());
        }
    }
    let _ = svc.clone().oneshot(true).await;
    note(&mut changes, &mut seen);
    advance(secs(5)).await;
    svc.clone().oneshot(false).await.unwrap();
    // The half-open and closed messages came in one go; the counter shows both happened.
    note(&mut changes, &mut seen);
    assert_eq!(seen, [State::Open, State::Closed]);
    assert_eq!(handle.metrics().probes, 1);

    handle.force_open();
    note(&mut changes, &mut seen);
    let err = svc.clone().oneshot(false).await.unwrap_err();
    assert_eq!(
        retry_after(&err),
        None,
        "forced open has no end to announce"
    );

    for (command, state) in [
        (
            &(|h: &seawall_breaker::BreakerHandle| h.force_closed()) as &dyn Fn(&_),
            State::ForcedClosed,
        ),
        (
            &|h: &seawall_breaker::BreakerHandle| h.disable(),
            State::Disabled,
        ),
        (
            &|h: &seawall_breaker::BreakerHandle| h.metrics_only(),
            State::MetricsOnly,
        ),
    ] {
        command(&handle);
        note(&mut changes, &mut seen);
        for _ in 0..5 {
            assert!(svc.clone().oneshot(true).await.is_err());
        }
        assert_eq!(handle.state(), state, "never trips");
        svc.clone().oneshot(false).await.expect("calls go through");
    }
    handle.reset();
    note(&mut changes, &mut seen);
    assert_eq!(
        seen,
        [
            State::Open,
            State::Closed,
            State::ForcedOpen,
            State::ForcedClosed,
            State::Disabled,
            State::MetricsOnly,
            State::Closed
        ]
    );
    let m = handle.metrics();
    assert_eq!(
        m.failures,
        1 + 5 + 5,
        "forced closed and metrics-only count; disabled does not"
    );
    let _ = svc.clone().oneshot(true).await;
    assert_eq!(handle.state(), State::Open, "reset is back to normal");

    // Every transition was also a tracing event, at WARN when the breaker opened.
    let transitions: Vec<String> = log
        .events()
        .into_iter()
        .filter(|e| e.layer == "breaker")
        .map(|e| e.event)
        .collect();
    assert_eq!(
        transitions,
        [
            "open",
            "half_open",
            "closed",
            "forced_open",
            "forced_closed",
            "disabled",
            "metrics_only",
            // Metrics-only: each of the five failures would have tripped it.
            "would_trip",
            "would_trip",
            "would_trip",
            "would_trip",
            "would_trip",
            "closed",
            "open"
        ]
    );
    assert!(log
        .events()
        .iter()
        .any(|e| e.event == "open" && e.level == tracing::Level::WARN));
}

#[tokio::test(start_paused = true)]
async fn keyed_breakers_are_independent_and_bounded() {
    let layer = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(consecutive(1).probes(1))
        .max_keys(2)
        .idle_timeout(secs(60))
        .build()
        .unwrap();
    let svc = layer.layer(service_fn(|(_, fail): (u32, bool)| async move {
        if fail {
            Err("down")
        } else {
            Ok(())
        }
    }));
    // Key 1 trips; key 2 is unaffected.
    let _ = svc.clone().oneshot((1, true)).await;
    svc.clone().oneshot((2, false)).await.unwrap();
    assert_eq!(layer.handle(&1).unwrap().state(), State::Open);
    assert_eq!(layer.handle(&2).unwrap().state(), State::Closed);
    assert_eq!(layer.len(), 2);

    // Key 3 arrives with the table full and both keys in use: neither is forgotten (key 2
    // is closed but was just used), and key 3 shares the overflow breaker.
    svc.clone().oneshot((3, false)).await.unwrap();
    assert_eq!(layer.len(), 2);
    assert!(layer.handle(&3).is_none());
    assert!(layer.handle(&2).is_some());
    assert_eq!(layer.handle(&1).unwrap().state(), State::Open);

    // A flood of new keys does not grow the table; they all share the overflow breaker.
    for key in 4..100 {
        svc.clone().oneshot((key, false)).await.unwrap();
    }
    assert_eq!(layer.len(), 2, "a flood of keys does not grow the table");
    assert!(layer.handle(&4).is_none());
    let _ = svc.clone().oneshot((50, true)).await;
    assert_eq!(layer.overflow_handle().state(), State::Open);
    let err = svc.clone().oneshot((1000, false)).await.unwrap_err();
    assert_eq!(
        retry_after(&err),
        Some(secs(5)),
        "overflow keys share its state"
    );

    // Once keys 1 and 2 sit idle for the idle timeout, new keys get their own breakers
    // again, whatever state the idle ones were in (key 1 was left open).
    advance(secs(60)).await;
    let _ = svc.clone().oneshot((7, true)).await;
    assert_eq!(layer.handle(&7).unwrap().state(), State::Open);
    svc.clone().oneshot((8, false)).await.unwrap();
    assert_eq!(layer.handle(&8).unwrap().state(), State::Closed);
    assert!(layer.handle(&1).is_none() && layer.handle(&2).is_none());
}

#[tokio::test(start_paused = true)]
async fn keys_tripped_and_abandoned_do_not_fill_the_table_for_good() {
    let layer = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(consecutive(1))
        .max_keys(4)
        .idle_timeout(secs(60))
        .build()
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(Some(rx)));
    let svc = layer.layer(service_fn(move |(key, fail): (u32, bool)| {
        // Key 1003's call hangs until told to finish.
        let hang = (key == 1003).then(|| rx.lock().unwrap().take()).flatten();
        async move {
            if let Some(rx) = hang {
                let _ = rx.await;
                return Ok(());
            }
            if fail {
                Err("down")
            } else {
                Ok(())
            }
        }
    }));
    // An attacker sends one failing request per made-up key until the table is full; one
    // of them is still in flight.
    for key in 1000..1003 {
        let _ = svc.clone().oneshot((key, true)).await;
    }
    let mut in_flight = tokio_test::task::spawn(svc.clone().oneshot((1003, false)));
    assert_pending!(in_flight.poll());
    assert_eq!(layer.len(), 4);
    assert_eq!(layer.handle(&1000).unwrap().state(), State::Open);

    // An hour later nobody has used those keys. The attacker's next key gets a breaker of
    // its own (and trips only that), instead of tripping the shared overflow breaker...
    advance(secs(3600)).await;
    let _ = svc.clone().oneshot((9999, true)).await;
    assert_eq!(layer.handle(&9999).unwrap().state(), State::Open);
    assert_eq!(layer.overflow_handle().state(), State::Closed);
    // ...and legitimate new keys get theirs and go through.
    for key in 1..3 {
        svc.clone().oneshot((key, false)).await.unwrap();
        assert!(layer.handle(&key).is_some());
    }
    assert_eq!(layer.len(), 4);
    // The key with a call in flight was idle just as long but is still held: kept.
    assert!(layer.handle(&1003).is_some());
    tx.send(()).unwrap();
    assert_ready_ok!(in_flight.poll());
}

#[tokio::test(start_paused = true)]
async fn new_keys_cannot_make_a_breaker_forget_a_building_outage() {
    let layer = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(consecutive(20))
        .max_keys(2)
        .idle_timeout(secs(60))
        .build()
        .unwrap();
    let svc = layer.layer(flaky_keyed());
    // Key 1 is 19 failures into an outage; key 2 is healthy.
    for _ in 0..19 {
        let _ = svc.clone().oneshot((1, true)).await;
    }
    svc.clone().oneshot((2, false)).await.unwrap();
    // A stream of new keys arrives while the table is full (and neither key is idle).
    for key in 3..500 {
        svc.clone().oneshot((key, false)).await.unwrap();
        advance(Duration::from_millis(10)).await;
        if key % 50 == 0 {
            svc.clone().oneshot((2, false)).await.unwrap();
        }
    }
    assert_eq!(layer.handle(&1).unwrap().metrics().consecutive_failures, 19);
    // The 20th failure trips key 1's breaker: the count was not wiped to make room.
    let _ = svc.clone().oneshot((1, true)).await;
    assert_eq!(layer.handle(&1).unwrap().state(), State::Open);
    assert_eq!(layer.handle(&2).unwrap().state(), State::Closed);
}

fn flaky_keyed(
) -> impl Service<(u32, bool), Response = (), Error = &'static str, Future = impl Send> + Clone {
    service_fn(|(_, fail): (u32, bool)| async move {
        if fail {
            Err("down")
        } else {
            Ok(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn extreme_settings_that_build_never_panic() {
    let builders = [
        consecutive(1).probes(1).probe_timeout(Duration::MAX),
        consecutive(1)
            .open_duration(Duration::MAX)
            .fixed_open_duration(),
        consecutive(1)
            .open_duration(Duration::from_secs(u64::MAX / 4))
            .open_backoff(100.0, Duration::MAX),
        consecutive(1)
            .open_duration(Duration::from_nanos(1))
            .open_backoff(100.0, Duration::MAX)
            .jitter(1.0),
        consecutive(1)
            .open_duration(Duration::MAX)
            .open_backoff(100.0, Duration::MAX)
            .jitter(1.0)
            .probe_timeout(Duration::MAX),
        CircuitBreakerLayer::builder()
            .failure_rate(1.0)
            .min_calls(1)
            .slow_calls(Duration::MAX, 1.0)
            .time_window(secs(500 * 365 * 24 * 3600), 1)
            .probes(1000)
            .probe_timeout(Duration::from_nanos(1)),
    ];
    for builder in builders {
        let layer = builder.build().unwrap();
        let handle = layer.handle();
        let svc = layer.layer(service_fn(|fail: bool| async move {
            if fail {
                Err("down")
            } else {
                std::future::pending::<Result<(), &str>>().await
            }
        }));
        // Trip, wait, probe (a probe that never finishes), trip again, many times over.
        let mut hanging = Vec::new();
        for _ in 0..12 {
            let _ = svc.clone().oneshot(true).await;
            let _ = format!("{handle:?} {layer:?} {svc:?} {:?}", handle.metrics());
            let _ = handle.remaining_open();
            advance(secs(3600)).await;
            let mut probe = tokio_test::task::spawn(svc.clone().oneshot(false));
            let _ = probe.poll();
            hanging.push(probe);
            let _ = format!("{:?} {:?}", handle.state(), handle.metrics());
            advance(Duration::from_nanos(1)).await;
            let _ = svc.clone().oneshot(true).await;
        }
        assert_ne!(handle.metrics().trips, 0);
    }
    let keyed = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(consecutive(1).probe_timeout(Duration::MAX))
        .max_keys(1)
        .idle_timeout(Duration::MAX)
        .build()
        .unwrap();
    let svc = keyed.layer(flaky_keyed());
    for key in 0..5 {
        let _ = svc.clone().oneshot((key, true)).await;
        advance(secs(3600)).await;
    }
    assert_eq!(keyed.len(), 1);
}

/// The builders' old names still compile (deprecated), so that code written against them
/// keeps building while it moves to `CircuitBreakerBuilder` / `KeyedCircuitBreakerBuilder`.
#[test]
#[allow(deprecated)]
fn the_old_builder_names_still_build_breakers() {
    let old: seawall_breaker::Builder = seawall_breaker::CircuitBreakerLayer::builder();
    assert!(old.consecutive_failures(3).build().is_ok());
    let keyed = seawall_breaker::KeyedBuilder::new(|key: &u8| *key);
    assert!(keyed.max_keys(4).build::<u8>().is_ok());
}
