//! Admission on the success path: Seawall's shedding layer beside tower's
//! `ConcurrencyLimit` + `LoadShed`, in the same run.
//!
//! `cargo bench --bench shed --features shed` runs it. Each benchmark calls a service that
//! answers at once through the layer, so the figure is what admission and release add to a
//! successful call (with an adaptive limit, release also feeds the limit a sample under its
//! lock); divan's allocation profiler counts allocations. tower-resilience's adaptive
//! limiter is not here yet.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seawall::shed::limit::{Fixed, GradientController, Vegas, Windowed};
use seawall::shed::ShedLayer;
use tower::{Layer, ServiceBuilder};

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

/// A fixed limit: admission and release only.
#[divan::bench]
fn seawall_shed_fixed(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(Fixed::new(1000))
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// The default limit, `Windowed<Vegas>`: each release also records a latency sample.
#[divan::bench]
fn seawall_shed_default(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(Windowed::new(Vegas::default()))
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Envoy's gradient controller.
#[divan::bench]
fn seawall_shed_envoy_gradient(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(GradientController::default())
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// tower 0.5: `LoadShed` over `ConcurrencyLimit(1000)`.
#[divan::bench]
fn tower_concurrency_limit_load_shed(bencher: divan::Bencher) {
    let mut svc = ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(1000)
        .service(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}
