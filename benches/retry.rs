//! The retry layer's success path (the first attempt succeeds) beside a bare service,
//! tower's `Retry` with its `TpsBudget` and tower-resilience's retry with its token-bucket
//! budget, in the same run.
//!
//! `cargo bench --bench retry --features retry` runs it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use seawall::core::clock::CoarseClock;
use seawall::core::BoxError;
use seawall::retry::{RetryBudget, RetryLayer};
use tower::retry::budget::TpsBudget;
use tower::Layer;

mod common;

use common::{call_ready, ok_service, TowerBudgetPolicy};

fn main() {
    divan::main();
}

/// The baseline: the same service with nothing in front of it.
#[divan::bench]
fn bare_service_fn(bencher: divan::Bencher) {
    let mut svc = ok_service();
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

#[divan::bench]
fn tower_retry_tps_budget(bencher: divan::Bencher) {
    let policy = TowerBudgetPolicy(Arc::new(TpsBudget::default()));
    let mut svc = tower::retry::Retry::new(policy, ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

#[divan::bench]
fn seawall_retry(bencher: divan::Bencher) {
    let layer = RetryLayer::builder().seed(1).build().unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// tower-resilience 0.14's retry with a token-bucket budget (its builder's defaults: 10
/// tokens a second, at most 100): a success deposits. Its future is boxed, so one
/// allocation per call.
#[divan::bench]
fn tower_resilience_retry_token_bucket(bencher: divan::Bencher) {
    let budget = tower_resilience_retry::RetryBudgetBuilder::new()
        .token_bucket()
        .build()
        .unwrap();
    let layer = tower_resilience_retry::RetryLayer::<u64, u64, BoxError>::builder()
        .max_attempts(3)
        .budget(budget)
        .build();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// A runtime whose one worker runs the coarse clock's ticker, beside the bench thread.
fn ticker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap()
}

/// Seawall's retry whose budget stamps deposits with a `CoarseClock` (10 ms tick).
#[divan::bench]
fn seawall_retry_coarse_clock(bencher: divan::Bencher) {
    let runtime = ticker_runtime();
    let clock = runtime.block_on(async { CoarseClock::start(Duration::from_millis(10)).unwrap() });
    let budget = RetryBudget::builder().coarse_clock(clock).build().unwrap();
    let layer = RetryLayer::builder()
        .budget(Arc::new(budget))
        .seed(1)
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Seawall's retry without a budget, to show what the budget's deposit costs.
#[divan::bench]
fn seawall_retry_no_budget(bencher: divan::Bencher) {
    let layer = RetryLayer::builder()
        .unlimited_budget()
        .seed(1)
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// The budget's deposit alone: one clock reading and one compare-and-swap.
#[divan::bench]
fn seawall_budget_deposit(bencher: divan::Bencher) {
    let budget = RetryBudget::default();
    bencher.bench_local(|| budget.deposit());
}

/// The deposit alone with a `CoarseClock`: one atomic load instead of the clock reading.
#[divan::bench]
fn seawall_budget_deposit_coarse_clock(bencher: divan::Bencher) {
    let runtime = ticker_runtime();
    let clock = runtime.block_on(async { CoarseClock::start(Duration::from_millis(10)).unwrap() });
    let budget = RetryBudget::builder().coarse_clock(clock).build().unwrap();
    bencher.bench_local(|| budget.deposit());
}

/// What tokio's clock costs in a build without tokio's `test-util` (a production build):
/// std's clock, a `clock_gettime` through the vDSO.
#[divan::bench]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
fn std_instant_now(bencher: divan::Bencher) {
    bencher.bench_local(std::time::Instant::now);
}

/// Reading tokio's clock outside a runtime, which every deposit does.
#[divan::bench]
fn tokio_instant_now(bencher: divan::Bencher) {
    bencher.bench_local(tokio::time::Instant::now);
}
