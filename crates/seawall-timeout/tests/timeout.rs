//! The total and per-attempt timeouts, in paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::time::Duration;

use seawall_core::deadline::Deadline;
use seawall_core::rejection::DeadlineExceeded;
use seawall_core::{BoxError, RejectionKind};
use seawall_timeout::{AttemptTimedOut, AttemptTimeoutLayer, TimeoutLayer};
use tokio::time::{advance, Instant};
use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};
use tower::{service_fn, Layer, ServiceExt};
use tower_test::mock;

const MS: Duration = Duration::from_millis(1);

fn is_deadline_exceeded(error: &BoxError) -> bool {
    seawall_core::find_rejection(error.as_ref()).map(|r| r.kind())
        == Some(RejectionKind::DeadlineExceeded)
}

#[tokio::test(start_paused = true)]
async fn the_wait_for_readiness_counts() {
    let layer = TimeoutLayer::new(100 * MS).unwrap();
    let (mut service, mut handle) = mock::spawn_layer::<(), (), _>(layer);

    // The inner service is not ready for 60 ms, then answers 40 ms after the call would
    // have started: 100 ms in all, the whole timeout.
    handle.allow(0);
    assert_pending!(service.poll_ready());
    advance(60 * MS).await;
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
    let mut response = task::spawn(service.call(()));
    let (_, _reply) = handle.next_request().await.unwrap();
    advance(39 * MS).await;
    assert_pending!(response.poll());
    advance(MS).await;
    let error = assert_ready!(response.poll()).unwrap_err();
    assert!(is_deadline_exceeded(&error), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_service_never_ready_is_refused_without_a_call() {
    let layer = TimeoutLayer::new(100 * MS).unwrap();
    let (mut service, mut handle) = mock::spawn_layer::<(), (), _>(layer);
    handle.allow(0);
    assert_pending!(service.poll_ready());
    advance(100 * MS).await;
    // Ready, to refuse in `call`: an error from `poll_ready` would be terminal for tower.
    assert!(service.is_woken());
    assert_ready_ok!(service.poll_ready());
    let error = service.call(()).await.unwrap_err();
    assert!(is_deadline_exceeded(&error), "{error}");
    assert_pending!(handle.poll_request(), "the inner service was not called");

    // The next request starts a clock of its own.
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
    let response = tokio::spawn(service.call(()));
    let (_, reply) = handle.next_request().await.unwrap();
    advance(99 * MS).await;
    reply.send_response(());
    response.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_answer_on_the_timers_tick_wins() {
    // Both timers fire on the same tick; the answer is polled first.
    for timeout in [1, 100, 2500] {
        let timeout = timeout * MS;
        let on_time = service_fn(move |()| async move {
            tokio::time::sleep(timeout).await;
            Ok::<_, Infallible>("answer")
        });
        let start = Instant::now();
        let service = TimeoutLayer::new(timeout).unwrap().layer(on_time);
        assert_eq!(service.oneshot(()).await.unwrap(), "answer");
        assert_eq!(start.elapsed(), timeout);

        let on_time = service_fn(move |()| async move {
            tokio::time::sleep(timeout).await;
            Ok::<_, Infallible>("answer")
        });
        let attempt = AttemptTimeoutLayer::new(timeout).unwrap().layer(on_time);
        assert_eq!(attempt.oneshot(()).await.unwrap(), "answer");
    }
}

#[tokio::test]
async fn zero_timeouts_are_config_errors() {
    let error = TimeoutLayer::new(Duration::ZERO).unwrap_err();
    assert_eq!(error.message(), "timeout must be more than zero, got 0");
    assert!(AttemptTimeoutLayer::new(Duration::ZERO).is_err());
}

fn hanging() -> impl tower::Service<(), Response = (), Error = Infallible, Future: Send> + Clone {
    service_fn(|()| std::future::pending::<Result<(), Infallible>>())
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_fails_retryably_and_the_deadline_not_at_all() {
    let layer = AttemptTimeoutLayer::new(50 * MS).unwrap();

    let start = Instant::now();
    let error = layer.layer(hanging()).oneshot(()).await.unwrap_err();
    assert_eq!(start.elapsed(), 50 * MS);
    let timed_out = error.downcast_ref::<AttemptTimedOut>().unwrap();
    assert_eq!(timed_out.after(), 50 * MS);
    assert_eq!(error.to_string(), "attempt timed out after 0.050s");
    // Seawall's HTTP classification retries it like any timeout, and not a deadline.
    assert!(seawall_http::classify::is_transient_error(error.as_ref()));
    assert!(!seawall_http::classify::is_transient_error(
        &DeadlineExceeded::new(None)
    ));

    // The task's deadline comes first: the attempt ends there, and says so.
    let start = Instant::now();
    let deadline = Deadline::after(30 * MS);
    let error = deadline
        .scope(layer.layer(hanging()).oneshot(()))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), 30 * MS);
    assert!(is_deadline_exceeded(&error), "{error}");
}

#[tokio::test(start_paused = true)]
async fn no_attempt_starts_past_the_deadline() {
    let layer = AttemptTimeoutLayer::new(50 * MS).unwrap();
    let (mut service, mut handle) = mock::spawn_layer::<(), (), _>(layer);
    handle.allow(1);
    let deadline = Deadline::after(10 * MS);
    advance(10 * MS).await;
    assert_ready_ok!(service.poll_ready());
    let error = deadline.sync_scope(|| service.call(())).await.unwrap_err();
    assert!(is_deadline_exceeded(&error), "{error}");
    assert_pending!(handle.poll_request(), "the inner service was not called");
}

#[tokio::test(start_paused = true)]
async fn inside_a_retry_a_hung_attempt_is_retried() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    let calls = Arc::new(AtomicU32::new(0));
    let flaky = service_fn({
        let calls = calls.clone();
        move |()| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if call < 2 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, BoxError>(call)
            }
        }
    });
    let service = tower::ServiceBuilder::new()
        .layer(
            seawall_retry::RetryLayer::builder()
                .backoff(seawall_retry::Backoff::none())
                .unlimited_budget()
                .build()
                .unwrap(),
        )
        .layer(AttemptTimeoutLayer::new(50 * MS).unwrap())
        .service(flaky);
    let start = Instant::now();
    assert_eq!(service.oneshot(()).await.unwrap(), 2);
    assert_eq!(
        start.elapsed(),
        100 * MS,
        "two attempts of 50 ms gave up, the third answered"
    );
}

/// An answer ready at once makes no timer: the timeouts then work without a tokio runtime
/// (tokio panics when a timer is made outside one), which is also what makes them cheaper
/// than a timer per call.
#[test]
fn an_answer_ready_at_once_makes_no_timer() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use tower::Service;

    let mut cx = Context::from_waker(Waker::noop());
    let answer = |x: u32| std::future::ready(Ok::<_, Infallible>(x + 1));
    let mut total = TimeoutLayer::new(100 * MS)
        .unwrap()
        .layer(service_fn(answer));
    let mut attempt = AttemptTimeoutLayer::new(100 * MS)
        .unwrap()
        .layer(service_fn(answer));
    assert!(total.poll_ready(&mut cx).is_ready());
    assert!(attempt.poll_ready(&mut cx).is_ready());
    for (future, expected) in [total.call(1), attempt.call(2)].into_iter().zip([2, 3]) {
        match std::pin::pin!(future).poll(&mut cx) {
            Poll::Ready(Ok(x)) => assert_eq!(x, expected),
            other => panic!("not answered at once: {:?}", other.map(|r| r.is_ok())),
        }
    }
}
