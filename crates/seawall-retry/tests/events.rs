//! What the retry layer tells an operator: tracing events on the target `seawall::retry`
//! with the attempt, the outcome, the backoff and whether `Retry-After` chose it, and one
//! warning per layer for request bodies too large to retry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use seawall_core::BoxError;
use seawall_http::replay::ReplayableBody;
use seawall_http::ReplayLayer;
use seawall_retry::{Backoff, HttpPolicy, Jitter, RetryLayer};
use seawall_sim::{EventLog, EventLogGuard, RecordedEvent};
use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};
use tracing::Level;

/// Records the calling thread's Seawall events from now on; [`named`] reads them.
fn record() -> (EventLog, EventLogGuard) {
    let log = EventLog::with_fields();
    let guard = log.install();
    (log, guard)
}

/// The events of `log` whose `event` field is `name`.
fn named(log: &EventLog, name: &str) -> Vec<RecordedEvent> {
    log.events()
        .into_iter()
        .filter(|e| e.event == name)
        .collect()
}

#[derive(Debug)]
struct Reset;
impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset")
    }
}
impl std::error::Error for Reset {}

#[tokio::test(start_paused = true)]
async fn retries_are_events_on_target_seawall_retry_with_what_happened() {
    let (log, _guard) = record();
    let calls = Arc::new(Mutex::new(0));
    let flaky = service_fn(move |x: u32| {
        let n = {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        async move {
            if n < 3 {
                Err::<u32, BoxError>(Box::new(Reset))
            } else {
                Ok(x)
            }
        }
    });
    let layer = RetryLayer::builder()
        .name("payments")
        .backoff(Backoff::constant(Duration::from_millis(40)).jitter(Jitter::None))
        .build()
        .unwrap();
    assert_eq!(layer.layer(flaky).oneshot(1).await.unwrap(), 1);
    let retries = named(&log, "retry");
    assert_eq!(retries.len(), 2, "{retries:?}");
    for (retry, attempt) in retries.iter().zip(["2", "3"]) {
        assert_eq!(retry.target, "seawall::retry");
        assert_eq!(retry.level, Level::DEBUG);
        let f = &retry.fields;
        assert_eq!(f["layer"], "retry");
        assert_eq!(f["name"], "payments");
        assert_eq!(f["attempt"], attempt);
        assert_eq!(f["outcome"], "error: connection reset");
        assert_eq!(f["backoff_ms"], "40.0");
        assert_eq!(f["retry_after"], "false");
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_is_reported_as_the_backoff_that_chose_it() {
    let (log, _guard) = record();
    let upstream = service_fn(|_: Request<ReplayableBody<Full<Bytes>>>| async move {
        Ok::<_, BoxError>(
            Response::builder()
                .status(503)
                .header("retry-after", "2")
                .body(())
                .unwrap(),
        )
    });
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new())
                .max_attempts(2)
                .build()
                .unwrap(),
        )
        .service(upstream);
    let request = Request::get("http://upstream/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(client.oneshot(request).await.unwrap().status(), 503);
    let retries = named(&log, "retry");
    assert_eq!(retries.len(), 1, "{retries:?}");
    let f = &retries[0].fields;
    assert_eq!(f["outcome"], "status 503");
    assert_eq!(f["backoff_ms"], "2000.0");
    assert_eq!(f["retry_after"], "true");
    let give_ups = named(&log, "give_up");
    assert_eq!(give_ups.len(), 1, "{give_ups:?}");
    assert_eq!(give_ups[0].target, "seawall::retry");
    assert_eq!(give_ups[0].fields["attempt"], "2");
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_replay_cap_is_reported_once_per_layer_at_warn() {
    let (log, _guard) = record();
    let calls = Arc::new(Mutex::new(0));
    let upstream = {
        let calls = calls.clone();
        service_fn(move |_: Request<ReplayableBody<Full<Bytes>>>| {
            *calls.lock().unwrap() += 1;
            async { Ok::<_, BoxError>(Response::builder().status(503).body(()).unwrap()) }
        })
    };
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::new(4))
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new())
                .build()
                .unwrap(),
        )
        .service(upstream);
    for _ in 0..3 {
        let request = Request::builder()
            .method(Method::PUT)
            .uri("http://upstream/doc")
            .body(Full::new(Bytes::from_static(b"more than four bytes")))
            .unwrap();
        let response = client.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 503);
    }
    assert_eq!(*calls.lock().unwrap(), 3, "not retried");
    let warnings = named(&log, "body_too_large");
    assert_eq!(warnings.len(), 1, "once per layer: {warnings:?}");
    let w = &warnings[0];
    assert_eq!((w.target, w.level), ("seawall::retry", Level::WARN));
    assert_eq!(w.fields["cap"], "4");
    assert_eq!(w.fields["method"], "PUT");
}
