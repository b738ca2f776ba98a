//! A breaker per balancer endpoint, as a balancer sees it: not ready while open, woken for
//! the probe when the open time ends, ready again once healed, and never more endpoints
//! ejected than the cap allows. All in paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall_breaker::endpoint::{EndpointBreaker, EndpointBreakerLayer};
use seawall_breaker::{CircuitBreakerLayer, CircuitOpen, State};
use tokio::time::advance;

use tokio_test::{assert_pending, assert_ready_ok};
use tower_test::mock::{self, Handle, Mock, Spawn};

type Endpoint = Spawn<EndpointBreaker<Mock<(), ()>>>;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Trips after 2 failures in a row, open for exactly 1 s, 3 probes.
fn layer(max_ejected: f64) -> EndpointBreakerLayer {
    EndpointBreakerLayer::builder()
        .breaker(
            CircuitBreakerLayer::builder()
                .consecutive_failures(2)
                .open_duration(secs(1))
                .fixed_open_duration(),
        )
        .max_ejected(max_ejected)
        .build()
        .unwrap()
}

fn endpoint(layer: &EndpointBreakerLayer) -> (Endpoint, Handle<(), ()>) {
    let (svc, mut inner) = mock::spawn_layer::<(), (), _>(layer.clone());
    inner.allow(1000);
    (svc, inner)
}

/// One call through a ready endpoint, answered with `ok`; returns the call's result.
async fn call(svc: &mut Endpoint, inner: &mut Handle<(), ()>, ok: bool) -> Result<(), String> {
    assert_ready_ok!(svc.poll_ready());
    let response = svc.call(());
    let (_, reply) = inner.next_request().await.unwrap();
    if ok {
        reply.send_response(());
    } else {
        reply.send_error("down");
    }
    response.await.map_err(|e| e.to_string())
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_is_not_ready_and_the_end_of_its_open_time_wakes_the_balancer() {
    let layer = layer(0.5);
    let (mut a, mut a_inner) = endpoint(&layer);
    let (_b, _b_inner) = endpoint(&layer);
    for _ in 0..2 {
        call(&mut a, &mut a_inner, false).await.unwrap_err();
    }
    assert_eq!(a.get_ref().handle().state(), State::Open);

    // Not ready, rather than ready-and-failing: a balancer sends elsewhere.
    assert_pending!(a.poll_ready());
    assert!(a.get_ref().is_ejected());
    assert_eq!(layer.ejection_cap().ejected(), 1);
    advance(Duration::from_millis(999)).await;
    assert!(!a.is_woken(), "woken before the open time ended");
    assert_pending!(a.poll_ready());

    // The open time ends: the timer wakes the task, and the probe goes through.
    advance(Duration::from_millis(1)).await;
    assert!(
        a.is_woken(),
        "the end of the open time must wake the balancer"
    );
    call(&mut a, &mut a_inner, true).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn while_its_probe_is_out_the_endpoint_waits_and_the_probe_finishing_wakes_it() {
    let layer = layer(0.5);
    let (mut a, mut a_inner) = endpoint(&layer);
    let (_b, _b_inner) = endpoint(&layer);
    for _ in 0..2 {
        call(&mut a, &mut a_inner, false).await.unwrap_err();
    }
    advance(secs(1)).await;

    // The first probe goes out alone; meanwhile the endpoint is not ready.
    assert_ready_ok!(a.poll_ready());
    let probe = a.call(());
    let (_, reply) = a_inner.next_request().await.unwrap();
    assert_pending!(a.poll_ready());
    assert!(!a.is_woken());
    reply.send_response(());
    probe.await.unwrap();
    assert!(a.is_woken(), "a finished probe must wake the balancer");
    // The other two probes go together, then the breaker closes and the slot is freed.
    assert_ready_ok!(a.poll_ready());
    let second = a.call(());
    assert_ready_ok!(a.poll_ready());
    let third = a.call(());
    for _ in 0..2 {
        a_inner.next_request().await.unwrap().1.send_response(());
    }
    second.await.unwrap();
    third.await.unwrap();
    assert_ready_ok!(a.poll_ready());
    assert_eq!(a.get_ref().handle().state(), State::Closed);
    assert!(!a.get_ref().is_ejected());
    assert_eq!(layer.ejection_cap().ejected(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_ejects_the_endpoint_again_until_the_next_open_time() {
    let layer = layer(0.5);
    let (mut a, mut a_inner) = endpoint(&layer);
    let (_b, _b_inner) = endpoint(&layer);
    for _ in 0..2 {
        call(&mut a, &mut a_inner, false).await.unwrap_err();
    }
    advance(secs(1)).await;
    call(&mut a, &mut a_inner, false).await.unwrap_err();
    assert_pending!(a.poll_ready());
    assert_eq!(
        layer.ejection_cap().ejected(),
        1,
        "still ejected while reopened"
    );
    advance(secs(1)).await;
    assert!(a.is_woken());
    // Healed: three probes later it is back, closed, and ready.
    for _ in 0..3 {
        call(&mut a, &mut a_inner, true).await.unwrap();
    }
    assert_ready_ok!(a.poll_ready());
    assert_eq!(layer.ejection_cap().ejected(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_cap_keeps_all_but_its_share_of_endpoints_in_rotation() {
    // 3 endpoints, at most 34% ejected: one.
    let layer = layer(0.34);
    let mut endpoints: Vec<_> = (0..3).map(|_| endpoint(&layer)).collect();
    assert_eq!(layer.ejection_cap().endpoints(), 3);
    assert_eq!(layer.ejection_cap().limit(), 1);
    for (svc, inner) in &mut endpoints {
        for _ in 0..2 {
            call(svc, inner, false).await.unwrap_err();
        }
        assert_eq!(svc.get_ref().handle().state(), State::Open);
    }

    // All three breakers are open; the first to be polled is ejected, the other two stay
    // ready and their calls reach the replica (which may have healed: the breaker cannot
    // tell while it is open).
    let mut ready = 0;
    for (svc, inner) in &mut endpoints {
        if svc.poll_ready().is_pending() {
            continue;
        }
        ready += 1;
        let response = svc.call(());
        inner.next_request().await.unwrap().1.send_response(());
        response.await.unwrap();
    }
    assert_eq!(ready, 2, "with a cap of one, two of three stay in rotation");
    assert_eq!(layer.ejection_cap().ejected(), 1);
    let ejected: Vec<bool> = endpoints
        .iter()
        .map(|(s, _)| s.get_ref().is_ejected())
        .collect();
    assert_eq!(ejected, [true, false, false]);

    // Dropping the ejected endpoint frees its slot; two endpoints at 34% may eject none,
    // so both stay in rotation though their breakers are open.
    let (first, _) = endpoints.remove(0);
    drop(first);
    assert_eq!(layer.ejection_cap().ejected(), 0);
    assert_eq!(layer.ejection_cap().endpoints(), 2);
    assert_eq!(layer.ejection_cap().limit(), 0);
    for (svc, _) in &mut endpoints {
        assert_ready_ok!(svc.poll_ready());
        assert!(!svc.get_ref().is_ejected());
    }
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_spared_by_the_cap_is_ejected_once_a_slot_frees_up() {
    let layer = layer(0.5);
    let (mut a, mut a_inner) = endpoint(&layer);
    let (mut b, mut b_inner) = endpoint(&layer);
    for _ in 0..2 {
        call(&mut a, &mut a_inner, false).await.unwrap_err();
    }
    assert_pending!(a.poll_ready());
    // b opens half a second later; the cap (one of two) is full, so b stays ready.
    advance(Duration::from_millis(500)).await;
    for _ in 0..2 {
        call(&mut b, &mut b_inner, false).await.unwrap_err();
    }
    assert_ready_ok!(b.poll_ready());
    assert!(!b.get_ref().is_ejected());
    // a heals and closes; b, still open, takes the freed slot at its next poll.
    advance(Duration::from_millis(500)).await;
    for _ in 0..3 {
        call(&mut a, &mut a_inner, true).await.unwrap();
    }
    assert_eq!(layer.ejection_cap().ejected(), 0);
    assert_pending!(b.poll_ready());
    assert!(b.get_ref().is_ejected());
}

#[tokio::test(start_paused = true)]
async fn a_call_that_finds_the_endpoint_ejected_fails_fast() {
    let layer = layer(0.5);
    let (mut a, mut a_inner) = endpoint(&layer);
    let (_b, _b_inner) = endpoint(&layer);
    call(&mut a, &mut a_inner, false).await.unwrap_err();
    // A call in flight; the endpoint is made ready for the next one; then the first fails
    // and trips the breaker. The next call, decided again in `call`, fails fast.
    assert_ready_ok!(a.poll_ready());
    let in_flight = a.call(());
    let (_, reply) = a_inner.next_request().await.unwrap();
    assert_ready_ok!(a.poll_ready());
    reply.send_error("down");
    in_flight.await.unwrap_err();
    let err = a.call(()).await.unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some(), "{err}");
    // And a caller that calls although poll_ready said Pending is failed fast too.
    assert_pending!(a.poll_ready());
    let err = a.call(()).await.unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some(), "{err}");
    let mut next = tokio_test::task::spawn(a_inner.next_request());
    assert_pending!(next.poll(), "the replica saw no call");
}

#[test]
fn a_share_outside_zero_to_one_is_refused_by_name() {
    for share in [-0.1, 1.5, f64::NAN] {
        let err = EndpointBreakerLayer::builder()
            .max_ejected(share)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("max_ejected"), "{err}");
    }
}

#[tokio::test(start_paused = true)]
async fn behind_p2c_with_every_replica_down_the_cap_leaves_somewhere_to_send() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tower::balance::p2c::Balance;
    use tower::discover::ServiceList;
    use tower::load::{CompleteOnResponse, PendingRequests};
    use tower::{service_fn, Layer, Service, ServiceExt};

    let layer = layer(0.34);
    let reached = Arc::new(AtomicUsize::new(0));
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            let reached = reached.clone();
            let replica = service_fn(move |_: ()| {
                reached.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>("down") }
            });
            PendingRequests::new(layer.layer(replica), CompleteOnResponse::default())
        })
        .collect();
    let mut balancer = Balance::new(ServiceList::new(replicas));
    let mut most_ejected = 0;
    for _ in 0..300 {
        // Never waits: with one of three ejected at most, two endpoints stay ready.
        let ready = tokio::time::timeout(Duration::from_millis(1), balancer.ready())
            .await
            .expect("the balancer ran out of ready endpoints")
            .unwrap();
        let _ = ready.call(()).await;
        most_ejected = most_ejected.max(layer.ejection_cap().ejected());
    }
    assert_eq!(most_ejected, 1, "one of three, as the cap allows");
    // The two spared endpoints keep taking calls.
    assert!(reached.load(Ordering::Relaxed) > 250);
}
