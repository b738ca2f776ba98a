//! The retry layer respects the deadline of the task it runs in: it never sleeps a backoff
//! that ends at or past the deadline, and gives the caller the last failure instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_core::deadline::Deadline;
use seawall_core::BoxError;
use seawall_retry::{Backoff, Jitter, RetryLayer};
use tokio::time::Instant;
use tower::{service_fn, Layer, ServiceExt};

/// Calls a service that always fails with 100 ms backoffs and up to 10 attempts, inside
/// `deadline` if there is one; returns the instants of the attempts and when the caller
/// got its answer, in ms from the start.
async fn attempts_within(deadline: Option<Duration>) -> (Vec<u128>, u128, String) {
    let start = Instant::now();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let service = service_fn({
        let calls = calls.clone();
        move |_: u32| {
            let mut calls = calls.lock().unwrap();
            calls.push(start.elapsed().as_millis());
            let n = calls.len();
            async move { Err::<u32, BoxError>(format!("failure {n}").into()) }
        }
    });
    let retry = RetryLayer::builder()
        .max_attempts(10)
        .backoff(Backoff::constant(Duration::from_millis(100)).jitter(Jitter::None))
        .unlimited_budget()
        .build()
        .unwrap()
        .layer(service);
    let call = retry.oneshot(1);
    let error = match deadline {
        Some(d) => Deadline::after(d).scope(call).await,
        None => call.await,
    }
    .unwrap_err();
    let calls = calls.lock().unwrap().clone();
    (calls, start.elapsed().as_millis(), error.to_string())
}

#[tokio::test(start_paused = true)]
async fn no_backoff_sleeps_past_the_deadline() {
    // Attempts at 0, 100 and 200 ms; the next would start at 300 ms, past the 250 ms
    // deadline, so the caller gets the third failure at 200 ms rather than waiting.
    let (calls, answered, error) = attempts_within(Some(Duration::from_millis(250))).await;
    assert_eq!(calls, [0, 100, 200]);
    assert_eq!(
        answered, 200,
        "the caller is not kept waiting for a doomed retry"
    );
    assert_eq!(error, "failure 3", "the caller gets the last failure");

    // A retry that would start at the deadline's very instant has no time left either.
    let (calls, answered, _) = attempts_within(Some(Duration::from_millis(300))).await;
    assert_eq!(calls, [0, 100, 200]);
    assert_eq!(answered, 200);
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_the_attempts_decide() {
    let (calls, answered, error) = attempts_within(None).await;
    assert_eq!(calls.len(), 10);
    assert_eq!(answered, 900);
    assert_eq!(error, "failure 10");
}
