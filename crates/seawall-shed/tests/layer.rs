//! What the shedding layer does, request by request, in paused time.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::rejection::Overloaded;
use seawall_core::{find_rejection, BoxError};
use seawall_shed::limit::Fixed;
use seawall_shed::{Priority, ShedLayer};
use tokio::sync::Semaphore;
use tokio_test::{assert_pending, assert_ready, task};
use tower::{service_fn, Layer, Service, ServiceExt};

/// A service whose calls finish one per permit added to the gate.
fn gated(
    gate: Arc<Semaphore>,
) -> impl Service<Priority, Response = Priority, Error = Infallible, Future = impl Send> + Clone {
    service_fn(move |p: Priority| {
        let gate = gate.clone();
        async move {
            gate.acquire().await.unwrap().forget();
            Ok::<_, Infallible>(p)
        }
    })
}

fn is_overloaded(e: &BoxError) -> bool {
    e.downcast_ref::<Overloaded>().is_some()
}

#[tokio::test(start_paused = true)]
async fn full_means_refused_at_once_and_a_slot_comes_back_when_a_call_ends_or_is_dropped() {
    let gate = Arc::new(Semaphore::new(0));
    let layer = ShedLayer::builder().limit(Fixed::new(2)).build().unwrap();
    let svc = layer.layer(gated(gate.clone()));
    let first = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    let second = svc.clone().oneshot(Priority::Normal);
    let mut second = task::spawn(second);
    assert_pending!(second.poll());
    tokio::task::yield_now().await;
    assert_eq!(layer.in_flight(), 2);

    let err = svc.clone().oneshot(Priority::Normal).await.unwrap_err();
    let rejection = find_rejection(err.as_ref()).unwrap();
    assert_eq!(rejection.retry_after(), Some(Duration::from_secs(1)));
    assert!(
        !rejection.retryable(),
        "an overloaded service must not be retried at once"
    );

    drop(second);
    assert_eq!(layer.in_flight(), 1, "a dropped call gives its slot back");
    gate.add_permits(1);
    first.await.unwrap().unwrap();
    assert_eq!(layer.in_flight(), 0);
    gate.add_permits(1);
    svc.clone().oneshot(Priority::Normal).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn waiting_for_the_inner_readiness_holds_no_slot_and_is_not_a_rejection() {
    let (mock, mut handle) = tower_test::mock::pair::<(), ()>();
    handle.allow(0);
    let layer = ShedLayer::builder().limit(Fixed::new(1)).build().unwrap();
    let mut svc = task::spawn(layer.layer(mock));
    assert_pending!(svc.enter(|cx, mut s| s.as_mut().get_mut().poll_ready(cx)));
    assert_eq!(layer.in_flight(), 0, "an idle caller holds nothing");
    handle.allow(1);
    assert!(assert_ready!(svc.enter(|cx, mut s| s.as_mut().get_mut().poll_ready(cx))).is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_queued_request_waits_for_a_slot_or_is_refused_after_max_wait() {
    let gate = Arc::new(Semaphore::new(0));
    let layer = ShedLayer::builder()
        .limit(Fixed::new(1))
        .queue(1, Duration::from_millis(50))
        .build()
        .unwrap();
    let svc = layer.layer(gated(gate.clone()));
    let first = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    let waiting = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    // The queue (1) is full: the next is refused at once.
    assert!(is_overloaded(
        &svc.clone().oneshot(Priority::Normal).await.unwrap_err()
    ));
    tokio::time::advance(Duration::from_millis(10)).await;
    gate.add_permits(2);
    first.await.unwrap().unwrap();
    waiting.await.unwrap().unwrap();

    // Nobody frees the slot this time: the waiter gives up after 50 ms.
    let holder = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    let err = svc.clone().oneshot(Priority::Normal).await.unwrap_err();
    assert!(is_overloaded(&err));
    assert_eq!(started.elapsed(), Duration::from_millis(50));
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    assert_eq!(layer.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn critical_waiters_go_first_and_push_sheddable_ones_out_of_a_full_queue() {
    let gate = Arc::new(Semaphore::new(0));
    let layer = ShedLayer::builder()
        .limit(Fixed::new(1))
        .priority(|p: &Priority| *p)
        .queue(2, Duration::from_secs(1))
        .build()
        .unwrap();
    let svc = layer.layer(gated(gate.clone()));
    let holder = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    let sheddable = tokio::spawn(svc.clone().oneshot(Priority::Sheddable));
    let normal = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    // The queue is full; a critical request pushes the sheddable one out.
    let critical = tokio::spawn(svc.clone().oneshot(Priority::Critical));
    tokio::task::yield_now().await;
    assert!(is_overloaded(&sheddable.await.unwrap().unwrap_err()));
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    tokio::task::yield_now().await;
    // The critical request got the slot before the normal one that waited longer.
    assert!(!normal.is_finished());
    gate.add_permits(1);
    let critical = tokio::time::timeout(Duration::from_millis(100), critical).await;
    assert_eq!(
        critical
            .expect("the critical request was served first")
            .unwrap()
            .unwrap(),
        Priority::Critical
    );
    gate.add_permits(1);
    assert_eq!(normal.await.unwrap().unwrap(), Priority::Normal);
}

#[tokio::test(start_paused = true)]
async fn a_reserved_share_keeps_room_for_critical_requests() {
    let gate = Arc::new(Semaphore::new(0));
    let layer = ShedLayer::builder()
        .limit(Fixed::new(10))
        .priority(|p: &Priority| *p)
        .reserve(Priority::Normal, 0.2)
        .reserve(Priority::Sheddable, 0.3)
        .build()
        .unwrap();
    let svc = layer.layer(gated(gate.clone()));
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(tokio::spawn(svc.clone().oneshot(Priority::Sheddable)));
    }
    tokio::task::yield_now().await;
    assert_eq!(layer.in_flight(), 5);
    assert!(
        is_overloaded(&svc.clone().oneshot(Priority::Sheddable).await.unwrap_err()),
        "sheddable may fill 50%"
    );
    for _ in 0..3 {
        held.push(tokio::spawn(svc.clone().oneshot(Priority::Normal)));
    }
    tokio::task::yield_now().await;
    assert!(
        is_overloaded(&svc.clone().oneshot(Priority::Normal).await.unwrap_err()),
        "normal may fill 80%"
    );
    for _ in 0..2 {
        held.push(tokio::spawn(svc.clone().oneshot(Priority::Critical)));
    }
    tokio::task::yield_now().await;
    assert_eq!(layer.in_flight(), 10, "critical requests had the last 20%");
    gate.add_permits(10);
    for h in held {
        h.await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn codel_cuts_the_wait_once_the_queue_has_stayed_busy() {
    let gate = Arc::new(Semaphore::new(0));
    let layer = ShedLayer::builder()
        .limit(Fixed::new(1))
        .queue(10, Duration::from_millis(500))
        .codel(Duration::from_millis(5), Duration::from_millis(100))
        .build()
        .unwrap();
    let svc = layer.layer(gated(gate.clone()));
    let holder = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    // The queue becomes non-empty now, and the first waiter may wait the full 500 ms.
    let patient = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    tokio::time::advance(Duration::from_millis(150)).await;
    // The queue has not been empty for 150 ms > 100 ms: a newcomer waits 5 ms at most.
    let started = tokio::time::Instant::now();
    let err = svc.clone().oneshot(Priority::Normal).await.unwrap_err();
    assert!(is_overloaded(&err));
    assert_eq!(started.elapsed(), Duration::from_millis(5));
    assert!(!patient.is_finished());
    gate.add_permits(2);
    holder.await.unwrap().unwrap();
    patient.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn bad_settings_are_refused_with_the_field_named() {
    let err = ShedLayer::builder()
        .queue(0, Duration::from_millis(1))
        .build()
        .unwrap_err();
    assert!(err.message().contains("queue capacity"), "{err}");
    let err = ShedLayer::builder()
        .codel(Duration::from_millis(5), Duration::from_millis(100))
        .build()
        .unwrap_err();
    assert!(err.message().contains("codel needs a queue"), "{err}");
    let err = ShedLayer::builder()
        .reserve(Priority::Normal, 0.6)
        .reserve(Priority::Sheddable, 0.5)
        .build()
        .unwrap_err();
    assert!(err.message().contains("reserve"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_waiter_that_leaves_just_after_being_granted_a_slot_gives_it_back() {
    let gate = Arc::new(Semaphore::new(0));
    let layer = ShedLayer::builder()
        .limit(Fixed::new(1))
        .queue(1, Duration::from_secs(1))
        .build()
        .unwrap();
    let svc = layer.layer(gated(gate.clone()));
    // The holder is polled by this task, so its end (and the hand-over) happens here.
    let mut holder = task::spawn(svc.clone().oneshot(Priority::Normal));
    assert_pending!(holder.poll());
    let waiter = tokio::spawn(svc.clone().oneshot(Priority::Normal));
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    gate.add_permits(1);
    assert!(assert_ready!(holder.poll()).is_ok());
    // The slot was handed to the waiter, which has not run since; its caller goes away.
    assert_eq!(layer.in_flight(), 1);
    waiter.abort();
    let _ = waiter.await;
    assert_eq!(layer.in_flight(), 0, "the granted slot came back");
    gate.add_permits(1);
    svc.clone().oneshot(Priority::Normal).await.unwrap();
}
