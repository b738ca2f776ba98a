//! `HttpPolicy`: what is hedged over HTTP, with which bytes, and what ends a request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use seawall_core::BoxError;
use seawall_hedge::{HedgeLayer, HttpPolicy};
use seawall_http::replay::ReplayableBody;
use seawall_http::ReplayLayer;
use tokio::time::Instant;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

type Req = http::Request<ReplayableBody<Full<Bytes>>>;

/// The bodies each attempt received, in order.
type Bodies = Arc<Mutex<Vec<Bytes>>>;

/// What each attempt answers: its delay, status and headers, by attempt number from 0.
type Answer = fn(usize) -> (u64, u16, &'static [(&'static str, &'static str)]);

/// A client stack over an upstream that records each attempt's body and answers as
/// `answer` says.
fn client(
    answer: Answer,
) -> (
    impl Service<http::Request<Full<Bytes>>, Response = http::Response<()>, Error = BoxError>,
    Bodies,
) {
    client_with(answer, HttpPolicy::new())
}

/// [`client`] with the hedge layer's policy `policy`.
fn client_with<C>(
    answer: Answer,
    policy: HttpPolicy<C>,
) -> (
    impl Service<http::Request<Full<Bytes>>, Response = http::Response<()>, Error = BoxError>,
    Bodies,
)
where
    C: seawall_core::Classify<http::Response<()>, BoxError> + Clone + Send + Sync + 'static,
{
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let upstream = service_fn(move |request: Req| {
        let seen = seen.clone();
        async move {
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(Bytes::new());
                seen.len() - 1
            };
            let body = request.into_body().collect().await?.to_bytes();
            seen.lock().unwrap()[n] = body;
            let (ms, status, headers) = answer(n);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let mut response = http::Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(*name, *value);
            }
            Ok::<_, BoxError>(response.body(()).unwrap())
        }
    });
    let layer = HedgeLayer::builder()
        .delay(Duration::from_millis(20))
        .unlimited_budget()
        .policy(policy)
        .build()
        .unwrap();
    let stack = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(layer)
        .service(upstream);
    (stack, bodies)
}

fn put(body: &'static [u8]) -> http::Request<Full<Bytes>> {
    http::Request::put("http://upstream/doc")
        .body(Full::new(Bytes::from_static(body)))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_stalled_put_is_hedged_with_the_same_bytes() {
    let (client, bodies) = client(|n| (if n == 0 { 5000 } else { 10 }, 200, &[]));
    let started = Instant::now();
    let response = client
        .oneshot(put(b"version 2 of the document"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(started.elapsed(), Duration::from_millis(30));
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "every attempt sends the same bytes");
    assert_eq!(bodies[1], "version 2 of the document");
}

#[tokio::test(start_paused = true)]
async fn a_post_is_never_sent_twice() {
    let (client, bodies) = client(|_| (5000, 200, &[]));
    let request = http::Request::post("http://upstream/orders")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let _ = client.oneshot(request).await.unwrap();
    assert_eq!(bodies.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_503_with_retry_after_sends_the_next_attempt_after_it() {
    let (client, bodies) = client(|n| match n {
        0 => (5, 503, &[("retry-after", "1")]),
        _ => (5, 200, &[]),
    });
    let started = Instant::now();
    assert_eq!(client.oneshot(put(b"x")).await.unwrap().status(), 200);
    assert_eq!(started.elapsed(), Duration::from_millis(1010));
    assert_eq!(bodies.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn do_not_retry_ends_the_request() {
    let (client, bodies) = client(|n| match n {
        0 => (5, 503, &[("seawall-retry", "no")]),
        _ => (5, 200, &[]),
    });
    assert_eq!(client.oneshot(put(b"x")).await.unwrap().status(), 503);
    assert_eq!(bodies.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_classifier_decides_what_does_not_win() {
    // By default a 404 is an answer: it wins and nothing else is sent.
    let answer: Answer = |n| match n {
        0 => (5, 404, &[]),
        _ => (5, 200, &[]),
    };
    let (client, bodies) = client(answer);
    assert_eq!(client.oneshot(put(b"x")).await.unwrap().status(), 404);
    assert_eq!(bodies.lock().unwrap().len(), 1);

    // With a classifier that calls it a failure (the one a breaker might count with), the
    // 404 does not win: the next attempt goes at once and its 200 does.
    let not_found_fails = |result: &Result<http::Response<()>, BoxError>| match result {
        Ok(response) if response.status() == 404 => seawall_core::Outcome::Failure,
        _ => seawall_core::Outcome::Success,
    };
    let (client, bodies) = client_with(answer, HttpPolicy::new().classifier(not_found_fails));
    assert_eq!(client.oneshot(put(b"x")).await.unwrap().status(), 200);
    assert_eq!(bodies.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_replay_cap_is_not_hedged_and_is_reported_once_per_layer_at_warn() {
    let log = seawall_sim::EventLog::with_fields();
    let _recording = log.install();
    let attempts = Arc::new(Mutex::new(0));
    let upstream = {
        let attempts = attempts.clone();
        service_fn(move |request: Req| {
            *attempts.lock().unwrap() += 1;
            async move {
                // Read the body, so the buffer learns it is over the cap, then stall past
                // the hedge delay.
                request.into_body().collect().await?;
                tokio::time::sleep(Duration::from_millis(500)).await;
                Ok::<_, BoxError>(http::Response::new(()))
            }
        })
    };
    let layer = HedgeLayer::builder()
        .delay(Duration::from_millis(20))
        .unlimited_budget()
        .policy(HttpPolicy::new())
        .build()
        .unwrap();
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::new(4))
        .layer(layer)
        .service(upstream);
    for _ in 0..3 {
        let response = client
            .clone()
            .oneshot(put(b"more than four bytes"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(*attempts.lock().unwrap(), 3, "no request was hedged");
    let warnings: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| e.event == "body_too_large")
        .collect();
    assert_eq!(warnings.len(), 1, "once per layer: {warnings:?}");
    let w = &warnings[0];
    assert_eq!(
        (w.target, w.level, w.layer.as_str()),
        ("seawall::hedge", tracing::Level::WARN, "hedge")
    );
    assert_eq!(w.fields["cap"], "4");
    assert_eq!(w.fields["method"], "PUT");
}
