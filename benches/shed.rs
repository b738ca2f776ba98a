//! Admission on the success path: Seawall's shedding layer beside tower's
//! `ConcurrencyLimit` + `LoadShed`, in the same run.
//!
//! `cargo bench --bench shed --features shed` runs it. Each benchmark calls a service that
//! answers at once through the layer, so the figure is what admission and release add to a
//! successful call (with an adaptive limit, release also feeds the limit a sample under its
//! lock); divan's allocation profiler counts allocations. tower-resilience's adaptive
//! limiter waits for a permit rather than rejecting (it queues), so it is a peer for the
//! cost of admission with an adaptive limit, not for shedding.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seawall::shed::limit::{Fixed, GradientController, Vegas, Windowed};
use seawall::shed::ShedLayer;
use tower::{Layer, ServiceBuilder};

mod common;

use common::{call_ready, ok_service};

fn main() {
    divan::main();
}

// The layers below run with a fixed sample size of 1,000 calls: left to itself, divan times
// the first (slow) calls and may settle on one call per sample, which its 20 ns timer
// precision then quantizes (a median of 119.7 ns for a layer that takes 93 ns).

/// The baseline: the same service with nothing in front of it.
#[divan::bench]
fn bare_service_fn(bencher: divan::Bencher) {
    let mut svc = ok_service();
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// A fixed limit: admission and release only.
#[divan::bench(sample_size = 1000)]
fn seawall_shed_fixed(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(Fixed::new(1000))
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// The default limit, `Windowed<Vegas>`: each release also records a latency sample.
#[divan::bench(sample_size = 1000)]
fn seawall_shed_default(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(Windowed::new(Vegas::default()))
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Envoy's gradient controller.
#[divan::bench(sample_size = 1000)]
fn seawall_shed_envoy_gradient(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(GradientController::default())
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// tower 0.5: `LoadShed` over `ConcurrencyLimit(1000)`.
#[divan::bench(sample_size = 1000)]
fn tower_concurrency_limit_load_shed(bencher: divan::Bencher) {
    let mut svc = ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(1000)
        .service(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// tower-resilience 0.14's adaptive limiter with its Vegas algorithm (builder defaults):
/// a semaphore permit per call, a boxed future, a lock per sample.
#[divan::bench(sample_size = 1000)]
fn tower_resilience_adaptive_vegas(bencher: divan::Bencher) {
    let algorithm = tower_resilience_adaptive::Vegas::builder().build().unwrap();
    let mut svc =
        tower_resilience_adaptive::AdaptiveLimiterLayer::new(algorithm).layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}
