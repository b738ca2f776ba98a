//! Per-call overhead of the success path, layer by layer, beside a bare service.
//!
//! `cargo bench --bench overhead` runs it. Each layer's benchmark calls a service that
//! answers at once, so the figure is what the layer itself adds; divan's allocation profiler
//! counts the allocations each call makes (the target is zero).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tower::service_fn;

mod common;

use common::call_ready;

fn main() {
    divan::main();
}

/// The baseline: a bare `tower::service_fn` with nothing in front of it.
#[divan::bench]
fn bare_service_fn(bencher: divan::Bencher) {
    let mut svc = service_fn(|x: u64| async move { Ok::<_, std::convert::Infallible>(x + 1) });
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}
