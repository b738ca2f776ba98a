//! The keyed breaker reads the deadline as the plain one does: a request past its deadline is
//! refused unsent, makes no breaker for its key, and never takes a key's probe permit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use seawall_breaker::{KeyedCircuitBreakerBuilder, State};
use seawall_core::deadline::Deadline;
use seawall_core::RejectionKind;
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};

use super::common::{consecutive, secs};
use super::{counted, kind, passed};

type Request = (&'static str, bool);

#[tokio::test(start_paused = true)]
async fn a_keyed_request_past_its_deadline_is_refused_unsent_and_makes_no_breaker() {
    let layer = KeyedCircuitBreakerBuilder::new(|req: &Request| req.0)
        .breaker(consecutive(1))
        .build()
        .unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counted::<Request>(&sent));

    let expired = passed().await;
    let err = expired
        .scope(async { svc.ready().await.unwrap().call(("a", true)).await })
        .await
        .unwrap_err();
    assert_eq!(kind(&err), RejectionKind::DeadlineExceeded);
    assert_eq!(sent.load(Ordering::SeqCst), 0, "nothing was sent");
    assert!(layer.handle(&"a").is_none(), "no breaker made for it");

    // With time left, the same failing request goes through and is counted: one failure
    // trips this breaker.
    let alive = Deadline::after(secs(1));
    alive
        .scope(async { svc.ready().await.unwrap().call(("a", true)).await })
        .await
        .unwrap_err();
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    assert_eq!(layer.handle(&"a").unwrap().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn an_expired_keyed_request_is_never_its_keys_probe() {
    let layer = KeyedCircuitBreakerBuilder::new(|req: &Request| req.0)
        .breaker(consecutive(1).probes(1))
        .build()
        .unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(counted::<Request>(&sent));
    svc.clone().oneshot(("a", true)).await.unwrap_err();
    let handle = layer.handle(&"a").unwrap();
    assert_eq!(handle.state(), State::Open);
    let expired = passed().await;
    advance(secs(5)).await;

    // A failing request past its deadline would have been the probe and reopened the key's
    // breaker.
    let err = expired
        .scope(svc.clone().oneshot(("a", true)))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), RejectionKind::DeadlineExceeded);
    assert_eq!(sent.load(Ordering::SeqCst), 1, "the trip only");
    assert_eq!(handle.state(), State::HalfOpen);
    assert_eq!(
        handle.metrics().probe_permits,
        0,
        "the permit is still free"
    );
    assert_eq!(handle.metrics().failures, 1);

    // The request with time left is the probe, and its success closes the breaker.
    Deadline::after(secs(1))
        .scope(svc.clone().oneshot(("a", false)))
        .await
        .unwrap();
    assert_eq!(handle.state(), State::Closed);
}
