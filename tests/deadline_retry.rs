//! A client stack under a deadline, in paused time: the retry layer retries an attempt that
//! timed out, but neither sleeps a backoff past the deadline nor lets the last attempt run
//! beyond it; the caller gets `DeadlineExceeded` at the deadline's instant.
#![cfg(all(feature = "http", feature = "retry", feature = "timeout"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use seawall::core::deadline::Deadline;
use seawall::core::{find_rejection, BoxError, RejectionKind};
use seawall::http::{ReplayLayer, ReplayableBody};
use seawall::retry::{Backoff, HttpPolicy, Jitter, RetryLayer};
use seawall::timeout::{AttemptTimeoutLayer, SendDeadlineLayer};
use tokio::time::Instant;
use tower::{service_fn, ServiceBuilder, ServiceExt};

const MS: Duration = Duration::from_millis(1);

/// Sends one GET with `deadline` left through the stack to an upstream that never answers;
/// returns when each attempt arrived, the header it carried, and when the caller got its
/// error and which.
async fn run(deadline: Duration) -> (Vec<(u128, String)>, u128, Option<RejectionKind>) {
    let start = Instant::now();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let upstream = service_fn({
        let arrivals = arrivals.clone();
        move |req: http::Request<ReplayableBody<Full<Bytes>>>| {
            let header = req.headers()["seawall-deadline-ms"]
                .to_str()
                .unwrap()
                .to_owned();
            arrivals
                .lock()
                .unwrap()
                .push((start.elapsed().as_millis(), header));
            std::future::pending::<Result<http::Response<Full<Bytes>>, BoxError>>()
        }
    });
    let client = ServiceBuilder::new()
        // Outermost: the layers below (retry, attempt timeout) work under the deadline.
        .layer(SendDeadlineLayer::new())
        .layer(ReplayLayer::default())
        .layer(
            RetryLayer::builder()
                .policy(HttpPolicy::new())
                .max_attempts(5)
                .backoff(Backoff::constant(100 * MS).jitter(Jitter::None))
                .unlimited_budget()
                .build()
                .unwrap(),
        )
        .layer(AttemptTimeoutLayer::new(50 * MS).unwrap())
        // Again next to the wire, so each attempt carries the time left when it starts.
        .layer(SendDeadlineLayer::new())
        .service(upstream);
    let mut request = http::Request::get("http://upstream.invalid/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    request.extensions_mut().insert(Deadline::after(deadline));
    let error = client.oneshot(request).await.unwrap_err();
    let kind = find_rejection(error.as_ref()).map(|r| r.kind());
    let arrivals = arrivals.lock().unwrap().clone();
    (arrivals, start.elapsed().as_millis(), kind)
}

#[tokio::test(start_paused = true)]
async fn a_retry_never_sleeps_past_the_deadline() {
    // Attempt 1 at 0 ms times out at 50; the backoff ends at 150, before the 180 ms
    // deadline, so attempt 2 starts then and is cut off at the deadline itself.
    let (arrivals, answered, kind) = run(180 * MS).await;
    let expected = [(0, "180".to_owned()), (150, "30".to_owned())];
    assert_eq!(arrivals, expected, "each attempt carries the time left");
    assert_eq!(answered, 180);
    assert_eq!(kind, Some(RejectionKind::DeadlineExceeded));

    // With 140 ms, the backoff would end at 150, past the deadline: no retry, no sleep.
    // The caller hears at 50 ms, when the only attempt timed out.
    let (arrivals, answered, kind) = run(140 * MS).await;
    assert_eq!(arrivals.len(), 1);
    assert_eq!(answered, 50);
    assert_eq!(
        kind, None,
        "the attempt's own timeout, which a tier above may retry"
    );
}
