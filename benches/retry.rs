//! The retry layer's success path (the first attempt succeeds) beside a bare service and
//! tower's `Retry` with its `TpsBudget`, in the same run.
//!
//! `cargo bench --bench retry --features retry` runs it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use seawall::core::BoxError;
use seawall::retry::RetryLayer;
use tower::retry::budget::{Budget, TpsBudget};
use tower::{service_fn, Layer, Service};

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

/// Drives one call through `svc` when both readiness and the response are immediate, as
/// they are on the success path of an in-memory service.
pub fn call_ready<S: Service<R>, R>(svc: &mut S, request: R) -> Result<S::Response, S::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Err(e),
        Poll::Pending => panic!("benchmarked service was not ready"),
    }
    let mut fut = pin!(svc.call(request));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("benchmarked call did not complete at once"),
    }
}

fn ok_service(
) -> impl Service<u64, Response = u64, Error = BoxError, Future = Ready<Result<u64, BoxError>>> + Clone
{
    service_fn(|x: u64| ready(Ok::<_, BoxError>(x + 1)))
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
