//! `grpc-timeout` against tonic's own code (tonic without codegen or transport: its
//! `Request` and metadata types only). A timeout a tonic client sets with
//! `Request::set_timeout` is the deadline `ReceiveDeadlineLayer` grants, and the value
//! `SendDeadlineLayer` writes is, byte for byte, the one tonic writes for the same time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::HeaderValue;
use proptest::prelude::*;
use seawall_core::deadline::Deadline;
use seawall_timeout::grpc_timeout::{decode, encode};
use seawall_timeout::{ReceiveDeadlineLayer, SendDeadlineLayer};
use tower::{service_fn, Layer, ServiceExt};

/// The largest timeout tonic can encode (it panics beyond, some 11,000 years).
const TONIC_MAX: Duration = Duration::from_secs(99_999_999 * 3_600);

/// The `grpc-timeout` value tonic's client puts on a request with `timeout`.
fn tonic_value(timeout: Duration) -> String {
    let mut request = tonic::Request::new(());
    request.set_timeout(timeout);
    let value = request
        .metadata()
        .get("grpc-timeout")
        .expect("set_timeout sets it");
    value.to_str().unwrap().to_owned()
}

/// A tonic request with `timeout`, as the HTTP request its client sends: tonic's metadata
/// as the headers, and gRPC's content type (which tonic's codec adds).
fn tonic_http_request(timeout: Duration) -> http::Request<()> {
    let mut request = tonic::Request::new(());
    request.set_timeout(timeout);
    let (metadata, _, ()) = request.into_parts();
    let mut http = http::Request::new(());
    *http.headers_mut() = metadata.into_headers();
    http.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    http
}

proptest! {
    #[test]
    fn our_encoding_is_tonics_byte_for_byte(
        timeout in prop_oneof![
            (0u64..1_000_000_000_000).prop_map(Duration::from_nanos),
            (0..=TONIC_MAX.as_secs(), 0u32..1_000_000_000)
                .prop_map(|(s, n)| Duration::new(s, n).min(TONIC_MAX)),
        ]
    ) {
        let tonic = tonic_value(timeout);
        prop_assert_eq!(encode(timeout), tonic.clone());
        let decoded = decode(tonic.as_bytes()).expect("tonic writes a valid value");
        prop_assert!(decoded <= timeout, "{} reads as more time than was set", tonic);
    }
}

#[test]
fn the_eight_digit_edges_agree_with_tonic() {
    for timeout in [
        Duration::ZERO,
        Duration::from_nanos(99_999_999),
        Duration::from_nanos(100_000_000),
        Duration::from_millis(99_999_999),
        Duration::from_secs(99_999_999),
        Duration::from_secs(100_000_000),
        Duration::from_secs(60 * 99_999_999 + 59),
        Duration::from_secs(60 * 100_000_000),
        TONIC_MAX,
    ] {
        assert_eq!(encode(timeout), tonic_value(timeout), "{timeout:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_set_through_tonic_is_the_deadline_our_server_grants() {
    let handler = service_fn(|_: http::Request<()>| async {
        Ok::<_, Infallible>(Deadline::current().map(|d| d.remaining()))
    });
    let server = ReceiveDeadlineLayer::new().layer(handler);
    for timeout in [
        Duration::from_millis(1_500),
        Duration::from_nanos(12_345),
        Duration::from_secs(90),
    ] {
        let granted = server
            .clone()
            .oneshot(tonic_http_request(timeout))
            .await
            .unwrap();
        assert_eq!(granted, Some(timeout), "tonic's {}", tonic_value(timeout));
    }
}

#[tokio::test(start_paused = true)]
async fn what_our_client_sends_tonic_reads_as_its_own() {
    // Stands in for a tonic server: takes the HTTP request as tonic's server does.
    let server = service_fn(|request: http::Request<()>| async move {
        let request = tonic::Request::from_http(request);
        let value = request.metadata().get("grpc-timeout").cloned();
        Ok::<_, Infallible>(value.map(|v| v.to_str().unwrap().to_owned()))
    });
    let client = SendDeadlineLayer::new().layer(server);
    // Not a whole number of microseconds: the value must round as tonic's does.
    let timeout = Duration::from_nanos(2_500_000_123);
    let mut request = http::Request::new(());
    request.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    request.extensions_mut().insert(Deadline::after(timeout));
    let sent = client.oneshot(request).await.unwrap();
    assert_eq!(sent, Some(tonic_value(timeout)));
}
