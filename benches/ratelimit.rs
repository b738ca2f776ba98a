//! Admission on the success path and refusal, Seawall's rate limit beside `tower_governor`
//! (both on governor's GCRA), in the same run.
//!
//! `cargo bench --bench ratelimit --features rate-limit,http` runs it. Each benchmark calls a
//! service that answers at once through the layer; requests are `http::Request<()>` made
//! fresh per call (no allocation), and the response is axum's (its empty body is boxed: one
//! allocation per call, in every row including the baseline). "admitted" rows use a quota
//! that is never spent; "refused" rows a quota that was spent before the run. Keyed rows
//! cycle over 1,000 `x-api-key` values.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use axum::body::Body;
use http::{HeaderName, HeaderValue, Request, Response};
use seawall::core::BoxError;
use seawall::rate_limit::{FromHeader, RateLimitLayer};
use tower::{service_fn, Layer, Service};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::{GlobalKeyExtractor, KeyExtractor};
use tower_governor::{GovernorError, GovernorLayer};

mod common;

use common::call_ready;

const KEYS: usize = 1_000;
const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

fn main() {
    divan::main();
}

fn ok_http(
) -> impl Service<Request<()>, Response = Response<Body>, Error = BoxError, Future: Send> + Clone {
    service_fn(|_: Request<()>| std::future::ready(Ok::<_, BoxError>(Response::new(Body::empty()))))
}

fn keys() -> Vec<HeaderValue> {
    (0..KEYS).map(|i| HeaderValue::from(i as u64)).collect()
}

fn keyed_request(keys: &[HeaderValue], i: &mut usize) -> Request<()> {
    *i = (*i + 1) % keys.len();
    let mut request = Request::new(());
    request.headers_mut().insert(API_KEY, keys[*i].clone());
    request
}

/// The baseline: the same service and request with nothing in front.
#[divan::bench]
fn bare_service(bencher: divan::Bencher) {
    let mut svc = ok_http();
    bencher.bench_local(|| call_ready(&mut svc, Request::new(())).unwrap());
}

/// Baseline for the keyed rows: the request carries a header (a clone of one of 1,000).
#[divan::bench]
fn bare_service_with_header(bencher: divan::Bencher) {
    let (keys, mut i) = (keys(), 0);
    let mut svc = ok_http();
    bencher.bench_local(|| call_ready(&mut svc, keyed_request(&keys, &mut i)).unwrap());
}

/// A never-spent quota: 1 cell a nanosecond, a burst of a million.
fn seawall_open() -> seawall::rate_limit::RateLimitBuilder {
    RateLimitLayer::builder(1_000_000_000, Duration::from_secs(1)).burst(1_000_000)
}

fn governor_open() -> GovernorConfigBuilder<
    tower_governor::key_extractor::PeerIpKeyExtractor,
    governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>,
> {
    let mut builder = GovernorConfigBuilder::default();
    builder.per_nanosecond(1).burst_size(1_000_000);
    builder
}

#[divan::bench]
fn seawall_global_admitted(bencher: divan::Bencher) {
    let mut svc = seawall_open().build().unwrap().layer(ok_http());
    bencher.bench_local(|| call_ready(&mut svc, Request::new(())).unwrap());
}

#[divan::bench]
fn tower_governor_global_admitted(bencher: divan::Bencher) {
    let config = governor_open()
        .key_extractor(GlobalKeyExtractor)
        .finish()
        .unwrap();
    let mut svc = GovernorLayer::new(config).layer(ok_http());
    bencher.bench_local(|| call_ready(&mut svc, Request::new(())).unwrap());
}

#[divan::bench]
fn seawall_keyed_header_admitted(bencher: divan::Bencher) {
    let (keys, mut i) = (keys(), 0);
    let layer = seawall_open()
        .key_by(FromHeader::new(API_KEY))
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_http());
    // Every key has its limiter before the clock starts.
    for _ in 0..KEYS {
        call_ready(&mut svc, keyed_request(&keys, &mut i)).unwrap();
    }
    bencher.bench_local(|| call_ready(&mut svc, keyed_request(&keys, &mut i)).unwrap());
    assert_eq!(layer.keys(), KEYS);
}

/// tower_governor keyed by the same header (its `KeyExtractor`, written here).
#[derive(Clone, Debug)]
struct ApiKey;

impl KeyExtractor for ApiKey {
    type Key = HeaderValue;

    fn extract<T>(&self, req: &Request<T>) -> Result<HeaderValue, GovernorError> {
        req.headers()
            .get(API_KEY)
            .cloned()
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

#[divan::bench]
fn tower_governor_keyed_header_admitted(bencher: divan::Bencher) {
    let (keys, mut i) = (keys(), 0);
    let config = governor_open().key_extractor(ApiKey).finish().unwrap();
    let mut svc = GovernorLayer::new(config).layer(ok_http());
    for _ in 0..KEYS {
        call_ready(&mut svc, keyed_request(&keys, &mut i)).unwrap();
    }
    bencher.bench_local(|| call_ready(&mut svc, keyed_request(&keys, &mut i)).unwrap());
}

/// Refusal: Seawall boxes a `RateLimited` (one allocation); the 429 is made further out.
#[divan::bench]
fn seawall_global_refused(bencher: divan::Bencher) {
    let layer = RateLimitLayer::builder(1, Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut svc = layer.layer(ok_http());
    call_ready(&mut svc, Request::new(())).unwrap();
    bencher.bench_local(|| call_ready(&mut svc, Request::new(())).unwrap_err());
}

/// Refusal: tower_governor builds the 429 response with its headers in the layer.
#[divan::bench]
fn tower_governor_global_refused(bencher: divan::Bencher) {
    let mut builder = GovernorConfigBuilder::default();
    builder.period(Duration::from_secs(3600)).burst_size(1);
    let config = builder.key_extractor(GlobalKeyExtractor).finish().unwrap();
    let mut svc = GovernorLayer::new(config).layer(ok_http());
    call_ready(&mut svc, Request::new(())).unwrap();
    bencher.bench_local(|| {
        let response = call_ready(&mut svc, Request::new(())).unwrap();
        assert_eq!(response.status(), 429);
        response
    });
}
