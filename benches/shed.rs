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

use seawall::shed::limit::{Aimd, Fixed, GradientController, Vegas, Windowed};
use seawall::shed::ShedLayer;
use tower::{Layer, ServiceBuilder};

mod common;

use common::{call_ready, ok_service};

fn main() {
    divan::main();
}

/// Calls `svc` for a little over a second first, as a busy server would have: an adaptive
/// limit's first windows close, and from then on only one request in a stride is timed
/// (see the shedding docs). Without it, the whole benchmark (about 10 ms) would run inside
/// the first 1 s window, when every request is timed.
fn warm<S: tower::Service<u64>>(svc: &mut S) {
    let start = tokio::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_millis(1100) {
        let _ = call_ready(svc, 41);
    }
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
    warm(&mut svc);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// The default limit, Vegas (1 s windows): at this rate one request in 64 is timed and
/// recorded (every request below about 1,000 a second).
#[divan::bench(sample_size = 1000)]
fn seawall_shed_default(bencher: divan::Bencher) {
    let layer = ShedLayer::builder().build().unwrap();
    let mut svc = layer.layer(ok_service());
    warm(&mut svc);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// AIMD at its defaults (100 ms windows).
#[divan::bench(sample_size = 1000)]
fn seawall_shed_aimd(bencher: divan::Bencher) {
    let layer = ShedLayer::builder().limit(Aimd::default()).build().unwrap();
    let mut svc = layer.layer(ok_service());
    warm(&mut svc);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// `Windowed<Vegas>` (what the default was): `Windowed` aggregates by itself, so every
/// request is timed.
#[divan::bench(sample_size = 1000)]
fn seawall_shed_windowed_vegas(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(Windowed::new(Vegas::default()))
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    warm(&mut svc);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// Envoy's gradient controller: every request is timed (it takes a median, not a mean).
#[divan::bench(sample_size = 1000)]
fn seawall_shed_envoy_gradient(bencher: divan::Bencher) {
    let layer = ShedLayer::builder()
        .limit(GradientController::default())
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_service());
    warm(&mut svc);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// tower 0.5: `LoadShed` over `ConcurrencyLimit(1000)`.
#[divan::bench(sample_size = 1000)]
fn tower_concurrency_limit_load_shed(bencher: divan::Bencher) {
    let mut svc = ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(1000)
        .service(ok_service());
    warm(&mut svc);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// tower-resilience 0.14's adaptive limiter with its Vegas algorithm (builder defaults):
/// a semaphore permit per call, a boxed future, a lock per sample.
#[divan::bench(sample_size = 1000)]
fn tower_resilience_adaptive_vegas(bencher: divan::Bencher) {
    let algorithm = tower_resilience_adaptive::Vegas::builder().build().unwrap();
    let mut svc =
        tower_resilience_adaptive::AdaptiveLimiterLayer::new(algorithm).layer(ok_service());
    warm(&mut svc);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}
