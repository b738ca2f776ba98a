//! The HTTP policy: what is retried, how it is re-sent, and the do-not-retry header.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use seawall_core::rejection::Overloaded;
use seawall_core::BoxError;
use seawall_http::replay::ReplayableBody;
use seawall_http::ReplayLayer;
use seawall_retry::http::{is_marked_do_not_retry, mark_do_not_retry};
use seawall_retry::{Backoff, HttpPolicy, Jitter, Policy, RetryBudget, RetryErrors, RetryLayer};
use tokio::time::Instant;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

mod errors;

type Body = ReplayableBody<Full<Bytes>>;

/// What the upstream saw of one attempt.
#[derive(Clone, Debug)]
struct Seen {
    at: Duration,
    attempt: Option<String>,
    body: Bytes,
}

/// An upstream that answers with `responses` in turn (the last one repeats), reading each
/// request's whole body.
fn upstream(
    responses: Vec<fn() -> Response<()>>,
) -> (
    impl Service<Request<Body>, Response = Response<()>, Error = BoxError, Future: Send> + Clone,
    Arc<Mutex<Vec<Seen>>>,
) {
    let log = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let start = Instant::now();
    let svc = {
        let log = log.clone();
        service_fn(move |req: Request<Body>| {
            let log = log.clone();
            let responses = responses.clone();
            async move {
                let attempt = req
                    .headers()
                    .get("seawall-attempt")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = req.into_body().collect().await?.to_bytes();
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(Seen {
                        at: start.elapsed(),
                        attempt,
                        body,
                    });
                    log.len()
                };
                Ok::<_, BoxError>(responses[(n - 1).min(responses.len() - 1)]())
            }
        })
    };
    (svc, log)
}

fn status(code: u16) -> Response<()> {
    Response::builder().status(code).body(()).unwrap()
}

fn unavailable() -> Response<()> {
    status(503)
}

fn ok() -> Response<()> {
    status(200)
}

fn request(method: Method, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("http://upstream/")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

fn client<S>(
    policy: HttpPolicy,
    inner: S,
) -> impl Service<Request<Full<Bytes>>, Response = Response<()>, Error = BoxError>
where
    S: Service<Request<Body>, Response = Response<()>, Error = BoxError> + Clone,
{
    ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(
            RetryLayer::builder()
                .policy(policy)
                .backoff(
                    Backoff::constant(Duration::from_millis(10))
                        .jitter(seawall_retry::Jitter::None),
                )
                .build()
                .unwrap(),
        )
        .service(inner)
}

#[tokio::test(start_paused = true)]
async fn idempotent_requests_are_resent_whole_and_numbered_when_asked() {
    let (svc, log) = upstream(vec![unavailable, unavailable, ok]);
    let numbered = HttpPolicy::new().attempt_header(Some(seawall_retry::http::ATTEMPT_HEADER));
    let response = client(numbered, svc)
        .oneshot(request(Method::PUT, "the body"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let log = log.lock().unwrap();
    let attempts: Vec<_> = log.iter().map(|s| s.attempt.clone()).collect();
    assert_eq!(attempts, [None, Some("2".into()), Some("3".into())]);
    assert!(log.iter().all(|s| s.body == "the body"), "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn retries_carry_no_attempt_header_by_default() {
    // A third-party API gets the request as the caller wrote it, retries included.
    let (svc, log) = upstream(vec![unavailable, unavailable, ok]);
    let response = client(HttpPolicy::new(), svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|s| s.attempt.is_none()), "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_longer_than_the_cap_is_given_back_not_retried() {
    fn too_many() -> Response<()> {
        Response::builder()
            .status(429)
            .header("retry-after", "3600")
            .body(())
            .unwrap()
    }
    let (svc, log) = upstream(vec![too_many, ok]);
    let response = client(HttpPolicy::new(), svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 1, "no retry ten seconds later");
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers()["retry-after"],
        "3600",
        "the server's answer"
    );
    assert!(
        !is_marked_do_not_retry(response.headers()),
        "not retried here, so not marked"
    );

    // The old behaviour, asked for: retried after the cap.
    let (svc, log) = upstream(vec![too_many, ok]);
    let clamping = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new())
                .clamp_retry_after(true)
                .build()
                .unwrap(),
        )
        .service(svc);
    let response = clamping.oneshot(request(Method::GET, "")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(log.lock().unwrap()[1].at, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_tier_that_retries_nothing_marks_nothing() {
    // max_attempts(1): this tier retries nothing, so the tier above may still retry.
    let (svc, log) = upstream(vec![unavailable]);
    let single = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new())
                .max_attempts(1)
                .build()
                .unwrap(),
        )
        .service(svc);
    let response = single.oneshot(request(Method::GET, "")).await.unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(response.status(), 503);
    assert!(!is_marked_do_not_retry(response.headers()));
}

#[tokio::test(start_paused = true)]
async fn post_is_retried_only_with_an_idempotency_key_when_allowed() {
    let keyed = || {
        let mut r = request(Method::POST, "pay");
        r.headers_mut()
            .insert("idempotency-key", "k1".parse().unwrap());
        r
    };
    for (policy, req, attempts) in [
        (HttpPolicy::new(), request(Method::POST, "pay"), 1),
        (HttpPolicy::new(), keyed(), 1),
        (
            HttpPolicy::new().allow_keyed_post(true),
            request(Method::POST, "pay"),
            1,
        ),
        (HttpPolicy::new().allow_keyed_post(true), keyed(), 2),
    ] {
        let (svc, log) = upstream(vec![unavailable, ok]);
        let _ = client(policy, svc).oneshot(req).await.unwrap();
        assert_eq!(log.lock().unwrap().len(), attempts);
    }
}

#[tokio::test(start_paused = true)]
async fn only_transient_statuses_are_retried() {
    let cases: [(fn() -> Response<()>, usize); 7] = [
        (|| status(500), 2),
        (|| status(502), 2),
        (|| status(429), 2),
        (|| status(408), 2),
        (|| status(501), 1),
        (|| status(404), 1),
        (|| status(400), 1),
    ];
    for (first, attempts) in cases {
        let (svc, log) = upstream(vec![first, ok]);
        let response = client(HttpPolicy::new(), svc)
            .oneshot(request(Method::GET, ""))
            .await
            .unwrap();
        let expected = if attempts == 2 {
            StatusCode::OK
        } else {
            first().status()
        };
        assert_eq!(response.status(), expected);
        assert_eq!(log.lock().unwrap().len(), attempts, "{}", first().status());
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_a_response_replaces_the_backoff() {
    let (svc, log) = upstream(vec![
        || {
            Response::builder()
                .status(503)
                .header("retry-after", "2")
                .body(())
                .unwrap()
        },
        ok,
    ]);
    client(HttpPolicy::new(), svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap()[1].at, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_response_marked_do_not_retry_is_passed_up_untouched() {
    let (svc, log) = upstream(vec![
        || {
            let mut r = status(503);
            mark_do_not_retry(r.headers_mut());
            r
        },
        ok,
    ]);
    let response = client(HttpPolicy::new(), svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(response.status(), 503);
    assert!(
        is_marked_do_not_retry(response.headers()),
        "the mark travels up"
    );
}

#[tokio::test(start_paused = true)]
async fn a_gateways_rejection_response_is_not_retried() {
    // The tier below shed the request: its 503 comes from seawall-http's RejectionResponse.
    let (svc, log) = upstream(vec![
        || {
            seawall_http::RejectionResponse::from(seawall_core::rejection::Overloaded::new(Some(
                Duration::from_secs(1),
            )))
            .into_http_response::<Full<Bytes>>()
            .map(|_| ())
        },
        ok,
    ]);
    let response = client(HttpPolicy::new(), svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "an overloaded tier is not hit again"
    );
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
}

#[tokio::test(start_paused = true)]
async fn give_ups_are_marked_so_the_tier_above_does_not_retry() {
    // Attempts exhausted.
    let (svc, log) = upstream(vec![unavailable]);
    let response = client(HttpPolicy::new(), svc.clone())
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 3);
    assert!(is_marked_do_not_retry(response.headers()));

    // Budget exhausted: no retry, the original 503, marked.
    let (svc, log) = upstream(vec![unavailable]);
    let empty = Arc::new(
        RetryBudget::builder()
            .percent_can_retry(0.0)
            .min_per_second(0)
            .build()
            .unwrap(),
    );
    let layer = RetryLayer::builder()
        .policy(HttpPolicy::new())
        .budget(empty)
        .build()
        .unwrap();
    let response = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(layer)
        .service(svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(response.status(), 503);
    assert!(is_marked_do_not_retry(response.headers()));

    // Marking off: the response is returned as it came.
    let (svc, _) = upstream(vec![unavailable]);
    let response = client(HttpPolicy::new().mark_give_ups(false), svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert!(!is_marked_do_not_retry(response.headers()));
}

#[tokio::test(start_paused = true)]
async fn a_body_larger_than_the_replay_buffer_is_not_resent() {
    let (svc, log) = upstream(vec![unavailable, ok]);
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::new(4))
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new())
                .build()
                .unwrap(),
        )
        .service(svc);
    let response = client
        .oneshot(request(Method::PUT, "more than four bytes"))
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 1, "not replayable: not retried");
    assert_eq!(response.status(), 503);
}

#[test]
fn the_header_is_matched_case_insensitively() {
    let mut headers = HeaderMap::new();
    assert!(!is_marked_do_not_retry(&headers));
    headers.insert("seawall-retry", "No".parse().unwrap());
    assert!(is_marked_do_not_retry(&headers));
}

/// A body that sends "abcd" at once and "efghijkl" 20 ms later.
fn trickling_body() -> StreamBody<
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>,
> {
    let chunks = futures_util::stream::unfold(0, |n| async move {
        match n {
            0 => Some((Ok(Frame::data(Bytes::from_static(b"abcd"))), 1)),
            1 => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Ok(Frame::data(Bytes::from_static(b"efghijkl"))), 2))
            }
            _ => None,
        }
    });
    StreamBody::new(Box::pin(chunks))
}

#[tokio::test(start_paused = true)]
async fn a_body_that_outgrows_its_replay_buffer_during_the_backoff_gets_the_original_failure() {
    // The upstream answers 503 after the first 4 bytes and reads on in the background, as an
    // HTTP/1 connection still uploading does: during the 50 ms backoff the body crosses the
    // replay cap of 8 bytes, so the retry cannot be sent.
    type Trickle = ReplayableBody<
        StreamBody<
            std::pin::Pin<
                Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>,
            >,
        >,
    >;
    let attempts = Arc::new(Mutex::new(0));
    let upstream = {
        let attempts = attempts.clone();
        service_fn(move |req: Request<Trickle>| {
            let attempts = attempts.clone();
            async move {
                *attempts.lock().unwrap() += 1;
                let mut body = req.into_body();
                if body.frame().await.transpose()?.is_some() {
                    // The rest is read after the answer.
                    tokio::spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
                }
                Ok::<_, BoxError>(unavailable())
            }
        })
    };
    let budget = Arc::new(RetryBudget::default());
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::new(8))
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new())
                .backoff(Backoff::constant(Duration::from_millis(50)).jitter(Jitter::None))
                .budget(budget.clone())
                .build()
                .unwrap(),
        )
        .service(upstream);
    let log = seawall_sim::EventLog::new();
    let _events = log.install();
    let request = Request::put("http://upstream/")
        .body(trickling_body())
        .unwrap();
    let response = client
        .oneshot(request)
        .await
        .expect("the original response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !is_marked_do_not_retry(response.headers()),
        "not given up on here: a tier above may replay it"
    );
    assert_eq!(
        *attempts.lock().unwrap(),
        1,
        "no attempt with a broken body"
    );
    assert_eq!(
        budget.remaining(),
        RetryBudget::default().remaining(),
        "no retry was charged"
    );
    assert_eq!(
        log.count("retry", "not_replayable"),
        1,
        "{:?}",
        log.events()
    );
    assert_eq!(log.count("retry", "retry"), 0);
}
