//! Keyed breakers: eviction never lets an open breaker's key through, the overflow breaker
//! is counted, names stay bounded, keyless requests bypass, and per-route keys in axum.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_breaker::{CircuitBreakerLayer, KeyedCircuitBreakerBuilder, State};
use seawall_core::{find_rejection, RejectionKind};
use tokio::time::advance;
use tower::{service_fn, Layer, Service, ServiceExt};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Trips on the first failure, stays open exactly `open`.
fn one_strike(open: Duration) -> seawall_breaker::CircuitBreakerBuilder {
    CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .failure_rate(None)
        .open_duration(open)
        .fixed_open_duration()
        .jitter(0.0)
        .probes(1)
}

/// Requests are (key, fail); counts the calls that reach it per key.
fn upstream(
    calls: Arc<[AtomicUsize; 16]>,
) -> impl Service<(u32, bool), Response = (), Error = &'static str, Future = impl Send> + Clone {
    service_fn(move |(key, fail): (u32, bool)| {
        calls[key as usize % 16].fetch_add(1, Ordering::SeqCst);
        async move {
            if fail {
                Err("down")
            } else {
                Ok(())
            }
        }
    })
}

fn counters() -> Arc<[AtomicUsize; 16]> {
    Arc::new(std::array::from_fn(|_| AtomicUsize::new(0)))
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_outlives_a_shorter_idle_timeout() {
    // Idle timeout 1 s, open time 30 s: the configuration issue 8 found evicting open
    // breakers.
    let layer = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(one_strike(secs(30)))
        .max_keys(1)
        .idle_timeout(secs(1))
        .build()
        .unwrap();
    let calls = counters();
    let svc = layer.layer(upstream(calls.clone()));
    let _ = svc.clone().oneshot((1, true)).await;
    assert_eq!(layer.handle(&1).unwrap().state(), State::Open);

    // Key 1 sits unused past the idle timeout; a new key wants its place.
    advance(secs(5)).await;
    svc.clone().oneshot((2, false)).await.unwrap();
    assert!(
        layer.handle(&2).is_none(),
        "key 2 went to the overflow breaker"
    );
    assert_eq!(layer.overflow_requests(), 1);

    // Key 1's next request is still failed fast, with the time left: the failing host is
    // not called again before the open time ends.
    let err = svc.clone().oneshot((1, false)).await.unwrap_err();
    let rejection = find_rejection(err.as_ref()).unwrap();
    assert_eq!(rejection.kind(), RejectionKind::CircuitOpen);
    assert_eq!(rejection.retry_after(), Some(secs(25)));
    assert_eq!(
        calls[1].load(Ordering::SeqCst),
        1,
        "only the call that tripped it"
    );

    // Once the open time is over and the key has been idle for the idle timeout, its
    // breaker may go and a new key takes the room.
    advance(secs(26)).await;
    svc.clone().oneshot((3, false)).await.unwrap();
    assert!(layer.handle(&3).is_some());
    assert!(layer.handle(&1).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_breaker_set_by_hand_is_not_forgotten() {
    let layer = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(one_strike(secs(5)))
        .max_keys(1)
        .idle_timeout(secs(1))
        .build()
        .unwrap();
    let svc = layer.layer(upstream(counters()));
    svc.clone().oneshot((1, false)).await.unwrap();
    layer.handle(&1).unwrap().force_open();
    advance(secs(3600)).await;
    svc.clone().oneshot((2, false)).await.unwrap();
    assert!(layer.handle(&2).is_none());
    assert!(
        svc.clone().oneshot((1, false)).await.is_err(),
        "still forced open"
    );
    layer.handle(&1).unwrap().reset();
    advance(secs(2)).await;
    svc.clone().oneshot((2, false)).await.unwrap();
    assert!(
        layer.handle(&2).is_some(),
        "reset: an idle closed breaker makes room"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_routed_to_the_overflow_breaker_are_counted() {
    let log = seawall_sim::EventLog::new();
    let _events = log.install();
    let layer = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(one_strike(secs(5)).name("api"))
        .max_keys(2)
        .build()
        .unwrap();
    let svc = layer.layer(upstream(counters()));
    for _ in 0..5 {
        svc.clone().oneshot((1, false)).await.unwrap();
        svc.clone().oneshot((2, false)).await.unwrap();
    }
    assert_eq!(
        layer.overflow_requests(),
        0,
        "keys with a breaker are not counted"
    );
    for key in 3..13 {
        svc.clone().oneshot((key, false)).await.unwrap();
    }
    assert_eq!(layer.overflow_requests(), 10);
    // Each is an `overflow` event of the overflow breaker, for operators to see.
    let overflow_events = log
        .events()
        .into_iter()
        .filter(|e| e.event == "overflow")
        .inspect(|e| {
            assert_eq!(
                (e.layer.as_str(), e.name.as_str()),
                ("breaker", "api/overflow")
            )
        })
        .count();
    assert_eq!(overflow_events, 10);
    // They share one breaker: one failure among them fails all of them fast.
    let _ = svc.clone().oneshot((3, true)).await;
    assert!(svc.clone().oneshot((12, false)).await.is_err());
    assert_eq!(layer.overflow_requests(), 12);
    assert_eq!(layer.overflow_handle().state(), State::Open);
    assert_eq!(layer.overflow_handle().metrics().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn only_the_first_keys_are_named_in_metrics() {
    let layer = KeyedCircuitBreakerBuilder::new(|req: &(u32, bool)| req.0)
        .breaker(one_strike(secs(5)).name("api"))
        .max_keys(100)
        .idle_timeout(Duration::ZERO)
        .max_labels(3)
        .build()
        .unwrap();
    let svc = layer.layer(upstream(counters()));
    for key in 0..50 {
        svc.clone().oneshot((key, false)).await.unwrap();
    }
    let names: std::collections::BTreeSet<String> = (0..50)
        .map(|key| layer.handle(&key).unwrap().name().to_owned())
        .collect();
    let expected: std::collections::BTreeSet<String> = ["api/0", "api/1", "api/2", "api/other"]
        .map(String::from)
        .into();
    assert_eq!(names, expected, "50 keys, 4 names");
    assert_eq!(layer.overflow_handle().name(), "api/overflow");
}

#[tokio::test(start_paused = true)]
async fn requests_without_a_key_bypass_every_breaker() {
    let layer =
        KeyedCircuitBreakerBuilder::optional(|req: &(u32, bool)| (req.0 != 0).then_some(req.0))
            .breaker(one_strike(secs(5)))
            .build()
            .unwrap();
    let calls = counters();
    let svc = layer.layer(upstream(calls.clone()));
    for _ in 0..10 {
        let err = svc.clone().oneshot((0, true)).await.unwrap_err();
        assert_eq!(err.to_string(), "down", "the inner error, not a rejection");
    }
    assert_eq!(
        calls[0].load(Ordering::SeqCst),
        10,
        "all ten reached the service"
    );
    assert!(layer.is_empty(), "key 0 has no breaker");
    let _ = svc.clone().oneshot((1, true)).await;
    assert!(
        svc.clone().oneshot((1, false)).await.is_err(),
        "key 1 has one"
    );
    svc.clone().oneshot((0, false)).await.unwrap();
}
