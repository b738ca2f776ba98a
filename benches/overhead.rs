//! Per-call overhead of the success path, layer by layer, beside a bare service.
//!
//! `cargo bench --bench overhead` runs it. Each layer's benchmark calls a service that
//! answers at once, so the figure is what the layer itself adds; divan's allocation profiler
//! counts the allocations each call makes (the target is zero).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tower::{service_fn, Service};

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

/// The baseline: a bare `tower::service_fn` with nothing in front of it.
#[divan::bench]
fn bare_service_fn(bencher: divan::Bencher) {
    let mut svc = service_fn(|x: u64| async move { Ok::<_, std::convert::Infallible>(x + 1) });
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}
