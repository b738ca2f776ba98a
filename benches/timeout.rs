//! The timeouts' success path (the inner service answers at once) beside a bare service and
//! tower's `Timeout`, and the cost of deadline propagation on each side, in the same run.
//!
//! `cargo bench --bench timeout --features timeout` runs it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::time::Duration;

use seawall::core::deadline::Deadline;
use seawall::timeout::{
    AttemptTimeoutLayer, ReceiveDeadlineLayer, SendDeadlineLayer, TimeoutLayer,
};
use tower::{service_fn, Layer};

mod common;

use common::{call_ready, ok_service};

fn main() {
    divan::main();
}

/// Timers need a runtime's time driver; the benchmarks run inside one, as a server does.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

const TIMEOUT: Duration = Duration::from_secs(1);

#[divan::bench]
fn bare_service_fn(bencher: divan::Bencher) {
    let mut svc = ok_service();
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

#[divan::bench]
fn tower_timeout(bencher: divan::Bencher) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut svc = tower::timeout::Timeout::new(ok_service(), TIMEOUT);
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

#[divan::bench]
fn seawall_timeout(bencher: divan::Bencher) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut svc = TimeoutLayer::new(TIMEOUT).unwrap().layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

/// A clone of the service, dropped: what axum pays per request for each layer it clones.
#[divan::bench]
fn seawall_timeout_clone(bencher: divan::Bencher) {
    let svc = TimeoutLayer::new(TIMEOUT).unwrap().layer(ok_service());
    bencher.bench_local(|| drop(divan::black_box(svc.clone())));
}

#[divan::bench]
fn seawall_attempt_timeout(bencher: divan::Bencher) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut svc = AttemptTimeoutLayer::new(TIMEOUT)
        .unwrap()
        .layer(ok_service());
    bencher.bench_local(|| call_ready(&mut svc, divan::black_box(41)));
}

type HttpOk = fn(http::Request<()>) -> Ready<Result<u16, Infallible>>;

fn http_ok() -> tower::util::ServiceFn<HttpOk> {
    service_fn((|_req| ready(Ok(200))) as HttpOk)
}

/// A request with no deadline passes through the client layer untouched.
#[divan::bench]
fn send_deadline_none(bencher: divan::Bencher) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut svc = SendDeadlineLayer::new().layer(http_ok());
    bencher
        .with_inputs(|| http::Request::new(()))
        .bench_local_values(|req| call_ready(&mut svc, req));
}

/// A request with a deadline: the header is written and the call is timed.
#[divan::bench]
fn send_deadline_set(bencher: divan::Bencher) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut svc = SendDeadlineLayer::new().layer(http_ok());
    bencher
        .with_inputs(|| {
            let mut req = http::Request::new(());
            req.extensions_mut().insert(Deadline::after(TIMEOUT));
            req
        })
        .bench_local_values(|req| call_ready(&mut svc, req));
}

/// The server side: read `seawall-deadline-ms`, put the deadline into the extensions,
/// scope and time the handler.
#[divan::bench]
fn receive_deadline(bencher: divan::Bencher) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut svc = ReceiveDeadlineLayer::new().layer(http_ok());
    bencher
        .with_inputs(|| {
            http::Request::builder()
                .header("seawall-deadline-ms", "1000")
                .body(())
                .unwrap()
        })
        .bench_local_values(|req| call_ready(&mut svc, req));
}

/// Dropping such a request alone, which the two benchmarks above also do: read them
/// against it.
#[divan::bench]
fn request_with_header_alone(bencher: divan::Bencher) {
    bencher
        .with_inputs(|| {
            http::Request::builder()
                .header("seawall-deadline-ms", "1000")
                .body(())
                .unwrap()
        })
        .bench_local_values(drop);
}
