//! The circuit breaker's closed-state success path beside a bare service and the peer
//! breakers (tower-resilience's and failsafe's), in the same run.
//!
//! `cargo bench --bench breaker --features breaker` runs it. Each benchmark calls a
//! service that answers at once through a closed breaker, so the figure is what the
//! breaker adds to a successful call; divan's allocation profiler counts allocations.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use seawall::breaker::CircuitBreakerLayer;
use tower::{Layer, Service};

mod common;

use common::{call_ready, ok_service};

fn main() {
    divan::main();
}

/// The baseline: the same service with nothing in front of it.
#[divan::bench]
fn bare_service_fn(bencher: divan::Bencher) {
    let mut svc = ok_service();
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Seawall's breaker with its defaults: 20 failures in a row, or 50% of the last 100
/// calls (at least 20).
#[divan::bench]
fn seawall_breaker(bencher: divan::Bencher) {
    let layer = CircuitBreakerLayer::builder().build().unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Seawall's breaker counting only failures in a row (no rate window).
#[divan::bench]
fn seawall_breaker_consecutive_only(bencher: divan::Bencher) {
    let layer = CircuitBreakerLayer::builder()
        .failure_rate(None)
        .consecutive_failures(5)
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Seawall's breaker over a 10 s time window with slow-call detection: reads the clock
/// twice per call.
#[divan::bench]
fn seawall_breaker_time_window_slow_calls(bencher: divan::Bencher) {
    let layer = CircuitBreakerLayer::builder()
        .time_window(Duration::from_secs(10), 10)
        .slow_calls(Duration::from_secs(1), 0.5)
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// tower-resilience's circuit breaker with a comparable configuration (50% of the last 100
/// calls).
#[divan::bench]
fn tower_resilience_circuitbreaker(bencher: divan::Bencher) {
    let layer = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// failsafe's breaker (no tower integration: its future wraps the inner call, which is how
/// a tower user would put it in front of a service) with its default policy.
#[divan::bench]
fn failsafe_breaker(bencher: divan::Bencher) {
    use failsafe::futures::CircuitBreaker as _;
    let breaker = failsafe::Config::new().build();
    let mut svc = ok_service();
    let mut cx = Context::from_waker(Waker::noop());
    bencher.bench_local(|| {
        assert!(svc.poll_ready(&mut cx).is_ready());
        let mut fut = pin!(breaker.call(svc.call(divan::black_box(41))));
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(result) => result.is_ok(),
            Poll::Pending => panic!("benchmarked call did not complete at once"),
        }
    });
}
