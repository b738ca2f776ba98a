//! The per-endpoint breaker reads the deadline as the plain one does (with the same code): a
//! request past its deadline is refused unsent and never takes the endpoint's probe permit,
//! and a permit whose request ran out of time is given back and wakes the endpoint's task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_breaker::endpoint::EndpointBreakerLayer;
use seawall_breaker::State;
use seawall_core::deadline::Deadline;
use seawall_core::RejectionKind;
use tokio::time::advance;
use tokio_test::{assert_pending, assert_ready_ok};
use tower::Layer;
use tower_test::mock::Spawn;

use super::common::{consecutive, secs};
use super::{counted, kind, passed};

/// Trips on one failure, open 5 s, one probe; the endpoint may always be ejected.
fn layer() -> EndpointBreakerLayer {
    EndpointBreakerLayer::builder()
        .breaker(consecutive(1).probes(1))
        .max_ejected(1.0)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_expired_request_is_never_an_endpoints_probe() {
    let layer = layer();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut svc = Spawn::new(layer.layer(counted::<bool>(&sent)));
    assert_ready_ok!(svc.poll_ready());
    svc.call(true).await.unwrap_err();
    assert_pending!(svc.poll_ready(), "ejected while open");
    let expired = passed().await;
    advance(secs(5)).await;

    // Past its deadline, the request finds the endpoint ready (so it fails fast rather
    // than waiting in the balancer) but is refused, unsent, and takes no permit: it would
    // have been the probe, and its failure would have ejected the endpoint again.
    let err = expired
        .sync_scope(|| {
            assert_ready_ok!(svc.poll_ready());
            svc.call(true)
        })
        .await
        .unwrap_err();
    assert_eq!(kind(&err), RejectionKind::DeadlineExceeded);
    assert_eq!(sent.load(Ordering::SeqCst), 1, "the trip only");
    let handle = svc.get_ref().handle();
    assert_eq!(handle.state(), State::HalfOpen);
    assert_eq!(handle.metrics().probe_permits, 0);

    // A request with time left is the probe, and heals the endpoint.
    let alive = Deadline::after(secs(1));
    alive
        .sync_scope(|| {
            assert_ready_ok!(svc.poll_ready());
            svc.call(false)
        })
        .await
        .unwrap();
    assert_eq!(handle.state(), State::Closed);
    assert!(!svc.get_ref().is_ejected());
    assert_eq!(layer.ejection_cap().ejected(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_probe_permit_whose_deadline_passed_is_given_back_and_wakes_the_waiting_clone() {
    let layer = layer();
    let sent = Arc::new(AtomicUsize::new(0));
    let endpoint = layer.layer(counted::<bool>(&sent));
    let mut a = Spawn::new(endpoint.clone());
    let mut b = Spawn::new(endpoint);
    assert_ready_ok!(a.poll_ready());
    a.call(true).await.unwrap_err();
    advance(secs(5)).await;

    // `a` takes the probe permit for a request with 1 s left; `b` waits for that probe.
    let deadline = Deadline::after(secs(1));
    deadline.sync_scope(|| assert_ready_ok!(a.poll_ready()));
    assert_eq!(a.get_ref().handle().metrics().probe_permits, 1);
    assert_pending!(b.poll_ready());

    // The deadline passes before `a` calls: at its next `poll_ready`, `a` gives the permit
    // back and wakes `b` at once, rather than `b` waiting its 5 s timer.
    advance(Duration::from_secs(1)).await;
    assert!(!b.is_woken());
    deadline.sync_scope(|| assert_ready_ok!(a.poll_ready()));
    assert_eq!(a.get_ref().handle().metrics().probe_permits, 0);
    assert!(
        b.is_woken(),
        "the freed permit wakes the endpoint's waiting task"
    );
    assert_ready_ok!(b.poll_ready());
    b.call(false).await.unwrap();
    assert_eq!(b.get_ref().handle().state(), State::Closed);
    assert_eq!(sent.load(Ordering::SeqCst), 2, "the trip and the probe");
}
