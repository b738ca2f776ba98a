//! The hedge layer's fast path (the first attempt answers before the delay) beside a bare
//! service and tower's `Hedge`, in the same run: time and allocations per call.
//!
//! `cargo bench --bench hedge --features hedge` runs it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall::hedge::HedgeLayer;
use tower::Layer;

mod common;

use common::{call_ready, ok_service};

fn main() {
    divan::main();
}

/// A runtime with a clock, which every hedge's timer needs; entered by the caller.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// The baseline: the same service with nothing in front of it.
#[divan::bench]
fn bare_service_fn(bencher: divan::Bencher) {
    let mut svc = ok_service();
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Every request may be sent twice.
#[derive(Clone, Copy)]
struct Idempotent;

impl tower::hedge::Policy<u64> for Idempotent {
    fn clone_request(&self, request: &u64) -> Option<u64> {
        Some(*request)
    }

    fn can_retry(&self, _: &u64) -> bool {
        true
    }
}

/// tower's `Hedge` as its docs configure it (p95, 1,000 samples, 10 s period), warmed up
/// so that it hedges.
#[divan::bench]
fn tower_hedge(bencher: divan::Bencher) {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let mut svc = tower::hedge::Hedge::new_with_mock_latencies::<u64>(
        ok_service(),
        Idempotent,
        1000,
        0.95,
        Duration::from_secs(10),
        &[10; 1000],
    );
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Seawall's hedge at its defaults (adaptive delay, budget), warmed up past its minimum of
/// samples so that every call arms its timer.
#[divan::bench]
fn seawall_hedge(bencher: divan::Bencher) {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let layer = HedgeLayer::default();
    let mut svc = layer.layer(ok_service());
    for _ in 0..1000 {
        call_ready(&mut svc, 1).unwrap();
    }
    assert!(layer.delay().is_some());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Seawall's hedge with a fixed delay and no budget: the timer and the clones alone.
#[divan::bench]
fn seawall_hedge_fixed_no_budget(bencher: divan::Bencher) {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let layer = HedgeLayer::builder()
        .delay(Duration::from_millis(10))
        .unlimited_budget()
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}
