//! Half-open as a user meets it: exact probes (the first alone), permits given back,
//! probes that hang, and decisions from before a transition that must not count after it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use seawall_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;
use tokio_test::{assert_pending, assert_ready, assert_ready_err, assert_ready_ok};
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_test::mock;

mod common;
use common::{consecutive, flaky, retry_after, secs};

#[tokio::test(start_paused = true)]
async fn a_probe_that_never_finishes_cannot_keep_half_open_stuck() {
    let layer = consecutive(1)
        .probes(1)
        .probe_timeout(secs(10))
        .build()
        .unwrap();
    let handle = layer.handle();
    let (mut svc, mut inner) = mock::spawn_layer::<(), (), _>(layer);
    inner.allow(10);
    assert_ready_ok!(svc.poll_ready());
    let call = svc.call(());
    inner.next_request().await.unwrap().1.send_error("down");
    let _ = call.await;
    advance(secs(5)).await;

    // The one probe goes out and hangs.
    assert_ready_ok!(svc.poll_ready());
    let mut stuck = tokio_test::task::spawn(svc.call(()));
    let (_, stuck_reply) = inner.next_request().await.unwrap();
    assert_pending!(stuck.poll());
    assert_eq!(handle.state(), State::HalfOpen);

    // Others are turned away meanwhile...
    advance(secs(9)).await;
    assert_ready_ok!(svc.poll_ready());
    assert_eq!(retry_after(&svc.call(()).await.unwrap_err()), None);
    // ...until the probe has made no progress for the probe timeout: then it reopens.
    advance(secs(1)).await;
    assert_eq!(handle.state(), State::Open);
    assert_ready_ok!(svc.poll_ready());
    assert_eq!(retry_after(&svc.call(()).await.unwrap_err()), Some(secs(5)));

    // The stuck probe finishing late counts for nothing.
    stuck_reply.send_response(());
    assert_ready_ok!(stuck.poll());
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_permit_back() {
    let layer = consecutive(1).probes(2).build().unwrap();
    let handle = layer.handle();
    let (mut svc, mut inner) = mock::spawn_layer::<(), (), _>(layer);
    inner.allow(100);
    assert_ready_ok!(svc.poll_ready());
    let call = svc.call(());
    inner.next_request().await.unwrap().1.send_error("down");
    let _ = call.await;
    advance(secs(5)).await;

    let first = admitted(&mut svc, &mut inner).await;
    assert_ready_ok!(svc.poll_ready());
    assert!(svc.call(()).await.is_err(), "the first probe goes alone");
    drop(first);
    // The freed permit goes to the next call, and once it succeeds the second probe goes.
    let (mut second, reply) = admitted(&mut svc, &mut inner).await;
    reply.send_response(());
    assert_ready_ok!(second.poll());
    let (mut third, reply) = admitted(&mut svc, &mut inner).await;
    reply.send_response(());
    assert_ready_ok!(third.poll());
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.metrics().probes, 3);
}

/// What an operator watching a half-open breaker sees: the permits taken and the probes
/// that succeeded in this half-open, beside the counts since the breaker was built.
#[tokio::test(start_paused = true)]
async fn metrics_show_the_current_half_open_progress() {
    let layer = consecutive(1).probes(3).build().unwrap();
    let handle = layer.handle();
    let (mut svc, mut inner) = mock::spawn_layer::<(), (), _>(layer);
    inner.allow(100);
    let progress = || {
        let m = handle.metrics();
        (m.state, m.probe_permits, m.probe_successes, m.probes)
    };
    assert_ready_ok!(svc.poll_ready());
    let call = svc.call(());
    inner.next_request().await.unwrap().1.send_error("down");
    let _ = call.await;
    assert_eq!(progress(), (State::Open, 0, 0, 0));
    advance(secs(5)).await;

    let (mut first, reply) = admitted(&mut svc, &mut inner).await;
    assert_eq!(progress(), (State::HalfOpen, 1, 0, 1));
    reply.send_response(());
    assert_ready_ok!(first.poll());
    assert_eq!(progress(), (State::HalfOpen, 1, 1, 1));
    let (mut second, reply) = admitted(&mut svc, &mut inner).await;
    let (mut third, failing) = admitted(&mut svc, &mut inner).await;
    assert_eq!(progress(), (State::HalfOpen, 3, 1, 3));
    reply.send_response(());
    assert_ready_ok!(second.poll());
    assert_eq!(progress(), (State::HalfOpen, 3, 2, 3));
    failing.send_error("down again");
    assert_ready_err!(third.poll());
    // Reopened: the half-open's progress is gone, the totals stay.
    assert_eq!(progress(), (State::Open, 0, 0, 3));
}

type Probe = (
    tokio_test::task::Spawn<
        seawall_breaker::future::ResponseFuture<
            tower_test::mock::future::ResponseFuture<()>,
            seawall_core::ErrorsAreFailures,
        >,
    >,
    tower_test::mock::SendResponse<()>,
);

/// Sends one call that the breaker admits and that stays in flight.
async fn admitted(
    svc: &mut mock::Spawn<seawall_breaker::CircuitBreaker<mock::Mock<(), ()>>>,
    inner: &mut mock::Handle<(), ()>,
) -> Probe {
    assert_ready_ok!(svc.poll_ready());
    let mut call = tokio_test::task::spawn(svc.call(()));
    let (_, reply) = inner
        .next_request()
        .await
        .expect("the call reaches the inner service");
    assert_pending!(call.poll());
    (call, reply)
}

#[tokio::test(start_paused = true)]
async fn a_call_from_before_the_trip_cannot_close_the_breaker() {
    let layer = consecutive(1).probes(1).build().unwrap();
    let handle = layer.handle();
    let (mut svc, mut inner) = mock::spawn_layer::<(), (), _>(layer);
    inner.allow(100);
    // A slow call is admitted while closed...
    assert_ready_ok!(svc.poll_ready());
    let mut old = tokio_test::task::spawn(svc.call(()));
    let (_, old_reply) = inner.next_request().await.unwrap();
    // ...another fails and trips the breaker...
    assert_ready_ok!(svc.poll_ready());
    let call = svc.call(());
    inner.next_request().await.unwrap().1.send_error("down");
    let _ = call.await;
    advance(secs(5)).await;
    // ...a probe goes out in half-open, and the old call succeeds meanwhile.
    let (mut probe, probe_reply) = admitted(&mut svc, &mut inner).await;
    old_reply.send_response(());
    assert_ready_ok!(old.poll());
    assert_eq!(
        handle.state(),
        State::HalfOpen,
        "the old success is not a probe"
    );
    probe_reply.send_error("still down");
    assert_ready!(probe.poll()).unwrap_err();
    assert_eq!(handle.state(), State::Open);
}

/// Real threads race for the permits of a half-open breaker: exactly one first probe gets
/// through, then once it has succeeded exactly `probes - 1` more, every time; and when they
/// are dropped unfinished, their permits come back.
#[test]
fn racing_threads_in_half_open_get_exactly_the_configured_probes() {
    const PROBES: u32 = 3;
    const THREADS: usize = 16;
    // What the inner service does with a call.
    const FAIL: u8 = 0;
    const SUCCEED: u8 = 1;
    const HANG: u8 = 2;
    // Outside a runtime the clock is the real one; a 1 µs open time has passed by the time
    // the threads race, so no test ever sleeps.
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .failure_rate(None)
        .open_duration(Duration::from_micros(1))
        .fixed_open_duration()
        .probes(PROBES)
        .build()
        .unwrap();
    let handle = layer.handle();
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let svc = layer.layer(service_fn(move |what: u8| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            match what {
                FAIL => Err::<(), &str>("down"),
                SUCCEED => Ok(()),
                _ => std::future::pending().await,
            }
        }
    }));
    let cx = &mut Context::from_waker(Waker::noop());
    // `THREADS` threads call at once and hold what they get until all have tried; returns
    // how many were admitted.
    let race = || -> usize {
        let barrier = Arc::new(Barrier::new(THREADS));
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    let mut svc = svc.clone();
                    let barrier = barrier.clone();
                    s.spawn(move || {
                        let cx = &mut Context::from_waker(Waker::noop());
                        barrier.wait();
                        assert!(svc.poll_ready(cx).is_ready());
                        let mut call = Box::pin(svc.call(HANG));
                        let admitted = call.as_mut().poll(cx).is_pending();
                        // Hold the permit until every thread has tried.
                        barrier.wait();
                        usize::from(admitted)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    };
    for round in 0..200 {
        handle.reset();
        let mut trip = svc.clone();
        assert!(trip.poll_ready(cx).is_ready());
        let mut call = pin!(trip.call(FAIL));
        assert!(matches!(call.as_mut().poll(cx), Poll::Ready(Err(_))));

        // The first probe goes alone.
        reached.store(0, Ordering::SeqCst);
        assert_eq!(race(), 1, "round {round}: {:?}", handle.metrics());
        assert_eq!(reached.load(Ordering::SeqCst), 1, "round {round}");
        // It was dropped unfinished: its permit is free again, and one that succeeds...
        assert_eq!(handle.state(), State::HalfOpen);
        let mut first = svc.clone();
        assert!(first.poll_ready(cx).is_ready());
        let mut call = pin!(first.call(SUCCEED));
        assert!(matches!(call.as_mut().poll(cx), Poll::Ready(Ok(()))));
        // ...lets exactly the other `PROBES - 1` through together.
        reached.store(0, Ordering::SeqCst);
        let rest = race();
        assert_eq!(
            rest,
            PROBES as usize - 1,
            "round {round}: {:?}",
            handle.metrics()
        );
        assert_eq!(reached.load(Ordering::SeqCst), rest, "round {round}");
        let m = handle.metrics();
        assert_eq!(
            (m.probe_permits, m.probe_successes),
            (1, 1),
            "round {round}"
        );
        assert_eq!(handle.state(), State::HalfOpen);
        let mut next = Vec::new();
        for _ in 0..PROBES + 1 {
            let mut s = svc.clone();
            assert!(s.poll_ready(cx).is_ready());
            let mut call = Box::pin(s.call(HANG));
            let admitted = call.as_mut().poll(cx).is_pending();
            next.push((admitted, call));
        }
        assert_eq!(
            next.iter().filter(|(a, _)| *a).count(),
            PROBES as usize - 1,
            "round {round}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_permit_voided_while_the_inner_service_was_not_ready_is_not_used() {
    let layer = consecutive(1)
        .probes(1)
        .probe_timeout(secs(10))
        .build()
        .unwrap();
    let handle = layer.handle();
    let other = layer.layer(flaky());
    let (mut svc, mut inner) = mock::spawn_layer::<(), (), _>(layer);
    inner.allow(1);
    assert_ready_ok!(svc.poll_ready());
    let call = svc.call(());
    inner.next_request().await.unwrap().1.send_error("down");
    let _ = call.await;
    advance(secs(5)).await;

    // Half-open: poll_ready takes the probe permit, then waits for the inner service.
    inner.allow(0);
    assert_pending!(svc.poll_ready());
    assert_eq!(handle.metrics().probes, 1);
    // The breaker is forced open meanwhile; then the inner service becomes ready.
    handle.force_open();
    inner.allow(1);
    assert_ready_ok!(svc.poll_ready());
    let mut call = tokio_test::task::spawn(svc.call(()));
    assert_eq!(retry_after(&assert_ready_err!(call.poll())), None);

    // The same with the probe timeout reopening the breaker under a held permit.
    handle.reset();
    assert_ready_ok!(svc.poll_ready());
    let call = svc.call(());
    inner.next_request().await.unwrap().1.send_error("down");
    let _ = call.await;
    advance(secs(5)).await;
    inner.allow(0);
    assert_pending!(svc.poll_ready());
    advance(secs(10)).await;
    assert_eq!(
        retry_after(&other.clone().oneshot(false).await.unwrap_err()),
        Some(secs(5)),
        "the stuck permit reopened the breaker"
    );
    inner.allow(1);
    assert_ready_ok!(svc.poll_ready());
    let mut call = tokio_test::task::spawn(svc.call(()));
    assert_eq!(retry_after(&assert_ready_err!(call.poll())), Some(secs(5)));

    // Neither rejected call reached the inner service.
    drop(svc);
    assert!(inner.next_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_pass_decided_while_closed_does_not_survive_a_trip() {
    let layer = consecutive(1).probes(1).build().unwrap();
    let handle = layer.handle();
    let (mut late, mut inner) = mock::spawn_layer::<(), (), _>(layer.clone());
    let other = layer.layer(flaky());
    inner.allow(100);
    // `late` is told "go" while the breaker is closed...
    assert_ready_ok!(late.poll_ready());
    // ...another caller's failure trips it before `late` calls.
    assert!(other.clone().oneshot(true).await.is_err());
    assert_eq!(handle.state(), State::Open);
    let mut call = tokio_test::task::spawn(late.call(()));
    assert_pending!(
        inner.poll_request(),
        "the failing dependency was not called"
    );
    let err = assert_ready_err!(call.poll());
    assert_eq!(
        retry_after(&err),
        Some(secs(5)),
        "rejected, as the breaker is open"
    );
    assert_eq!(handle.metrics().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn a_pass_decided_while_closed_is_not_an_extra_probe_in_half_open() {
    let layer = consecutive(1).probes(1).build().unwrap();
    let handle = layer.handle();
    let (mut late, mut late_inner) = mock::spawn_layer::<(), (), _>(layer.clone());
    let (mut svc, mut inner) = mock::spawn_layer::<(), (), _>(layer.clone());
    late_inner.allow(100);
    inner.allow(100);
    assert_ready_ok!(late.poll_ready());
    assert!(layer.layer(flaky()).oneshot(true).await.is_err());
    advance(secs(5)).await;
    // Half-open: the one probe goes out...
    let (_probe, _reply) = admitted(&mut svc, &mut inner).await;
    assert_eq!(handle.metrics().probes, 1);
    // ...and the pass `late` got while closed does not make a second one.
    let mut call = tokio_test::task::spawn(late.call(()));
    assert_pending!(
        late_inner.poll_request(),
        "no second probe reached the dependency"
    );
    assert_eq!(retry_after(&assert_ready_err!(call.poll())), None);
    assert_eq!(handle.metrics().probes, 1);
}
