//! What a fault-injection layer costs when it is switched off, beside the bare service, in
//! the same run; and, for scale, an enabled layer that matches but does not inject.
//!
//! `cargo bench --bench chaos --features chaos,http` runs it (without `http`, the outcome
//! layer's row is left out). Each benchmark calls a service that
//! answers at once, so the figure is what the layer adds to a call; divan's allocation
//! profiler counts allocations (the target is zero).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall::chaos::{
    InjectBehaviourLayer, InjectFaultLayer, InjectLatencyLayer, InjectedFault, Injection,
};
use seawall::core::latency::Latency;
use seawall::core::BoxError;
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

/// The floor of "one branch": the bare service behind a relaxed load of a shared
/// `AtomicBool` that is never set, written inline. What any runtime switch must cost.
#[divan::bench]
fn reference_relaxed_load_and_branch(bencher: divan::Bencher) {
    let switch = Arc::new(AtomicBool::new(false));
    let mut svc = ok_service();
    bencher.bench_local(|| {
        if switch.load(Ordering::Relaxed) {
            return Err::<u64, BoxError>("injected".into());
        }
        call_ready(&mut svc, divan::black_box(41))
    });
}

/// A layer that does nothing: tower's `MapRequest` with the identity, whose response
/// future wraps the inner one as the chaos layers' do. What wrapping a service costs here.
#[divan::bench]
fn tower_map_request_identity(bencher: divan::Bencher) {
    let mut svc = tower::util::MapRequest::new(ok_service(), |x: u64| x);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// A fault layer at rate 1, switched off through its handle: one relaxed load and a branch.
#[divan::bench]
fn fault_disabled(bencher: divan::Bencher) {
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer = InjectFaultLayer::new(injection, InjectedFault::new);
    layer.handle().disable();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// A latency layer at rate 1, switched off.
#[divan::bench]
fn latency_disabled(bencher: divan::Bencher) {
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let latency = Latency::constant(Duration::from_millis(100));
    let layer = InjectLatencyLayer::new(injection, latency).unwrap();
    layer.handle().disable();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// A behaviour layer at rate 1, switched off. Its response future is the inner service's
/// own, so this is the switch alone, without a wrapping future.
#[divan::bench]
fn behaviour_disabled(bencher: divan::Bencher) {
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer = InjectBehaviourLayer::new(injection, |_: &u64| {});
    layer.handle().disable();
    let mut svc = layer.layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// The response of the HTTP benchmarks' service.
#[cfg(feature = "http")]
type HttpResponse = http::Response<http_body_util::Full<bytes::Bytes>>;

/// A service that answers an `http::Request` at once with an empty response.
#[cfg(feature = "http")]
fn http_service() -> impl tower::Service<
    http::Request<()>,
    Response = HttpResponse,
    Error = BoxError,
    Future = std::future::Ready<Result<HttpResponse, BoxError>>,
> {
    tower::service_fn(|_: http::Request<()>| {
        std::future::ready(Ok(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::new(),
        ))))
    })
}

/// The HTTP baseline: building a request and answering it, with no layer.
#[cfg(feature = "http")]
#[divan::bench(sample_size = 64)]
fn bare_http_service(bencher: divan::Bencher) {
    let mut svc = http_service();
    bencher.bench_local(|| call_ready(&mut svc, http::Request::new(())));
}

/// The HTTP service behind a no-op layer (tower's `MapRequest` with the identity).
#[cfg(feature = "http")]
#[divan::bench(sample_size = 64)]
fn tower_map_request_identity_http(bencher: divan::Bencher) {
    let mut svc = tower::util::MapRequest::new(http_service(), |r: http::Request<()>| r);
    bencher.bench_local(|| call_ready(&mut svc, http::Request::new(())));
}

/// An HTTP outcome layer at rate 1, switched off, in front of the same service (needs the
/// `http` feature).
#[cfg(feature = "http")]
#[divan::bench(sample_size = 64)]
fn outcome_disabled(bencher: divan::Bencher) {
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer = seawall::chaos::InjectOutcomeLayer::new(injection, http::StatusCode::BAD_GATEWAY)
        .retry_after(Duration::from_secs(1));
    layer.handle().disable();
    let mut svc = layer.layer(http_service());
    bencher.bench_local(|| call_ready(&mut svc, http::Request::new(())));
}

/// A fault layer switched on at rate 0: every call draws from the shared generator and
/// passes. What an armed layer costs while it injects nothing.
#[divan::bench]
fn fault_enabled_rate_zero(bencher: divan::Bencher) {
    let injection = Injection::builder().rate(0.0).seed(1).build().unwrap();
    let mut svc = InjectFaultLayer::new(injection, InjectedFault::new).layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}
