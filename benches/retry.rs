//! The retry layer's success path (the first attempt succeeds) beside a bare service and
//! tower's `Retry` with its `TpsBudget`, in the same run.
//!
//! `cargo bench --bench retry --features retry` runs it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::{ready, Ready};
use std::sync::Arc;

use seawall::retry::RetryLayer;
use tower::retry::budget::{Budget, TpsBudget};
use tower::Layer;

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

/// tower's budget policy as its documentation writes it: a success deposits, a failure
/// withdraws before retrying.
#[derive(Clone)]
struct TowerBudgetPolicy(Arc<TpsBudget>);

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for TowerBudgetPolicy {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => {
                self.0.deposit();
                None
            }
            Err(_) => self.0.withdraw().then(|| ready(())),
        }
    }

    fn clone_request(&mut self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
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
    let budget = seawall::retry::RetryBudget::default();
    bencher.bench_local(|| budget.deposit());
}

/// Reading tokio's clock outside a runtime, which every deposit does.
#[divan::bench]
fn tokio_instant_now(bencher: divan::Bencher) {
    bencher.bench_local(tokio::time::Instant::now);
}
