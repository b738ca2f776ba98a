//! The breakers and the request's deadline: a request whose deadline has passed is refused
//! with `DeadlineExceeded`, is not sent, and does not take the half-open probe permit that a
//! request with time left can use; a probe holds half-open no longer than its deadline.
//! The plain breaker here, the keyed and per-endpoint ones in their modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use seawall_breaker::{CircuitBreakerLayer, State};
use seawall_core::deadline::Deadline;
use seawall_core::{find_rejection, BoxError, RejectionKind};
use tokio::time::advance;
use tower::{service_fn, Layer, Service, ServiceExt};

#[path = "../common/mod.rs"]
mod common;
mod endpoint;
mod keyed;
mod probe_timeout;

use common::{consecutive, secs};

/// Anything sent to [`counted`]: whether the upstream should fail it.
trait Fails {
    fn fails(&self) -> bool;
}

impl Fails for bool {
    fn fails(&self) -> bool {
        *self
    }
}

/// A keyed request: (key, fail).
impl Fails for (&'static str, bool) {
    fn fails(&self) -> bool {
        self.1
    }
}

/// A service that counts the requests it receives and fails when asked to.
fn counted<R: Fails + Send + 'static>(
    sent: &Arc<AtomicUsize>,
) -> impl Service<
    R,
    Response = (),
    Error = &'static str,
    Future = impl std::future::Future<Output = Result<(), &'static str>> + Send,
> + Clone {
    let sent = sent.clone();
    service_fn(move |request: R| {
        sent.fetch_add(1, Ordering::SeqCst);
        let fail = request.fails();
        async move {
            if fail {
                Err("down")
            } else {
                Ok(())
            }
        }
    })
}

fn kind(err: &BoxError) -> RejectionKind {
    find_rejection(err.as_ref()).expect("a rejection").kind()
}

/// A deadline that passed a second ago.
async fn passed() -> Deadline {
    let deadline = Deadline::after(secs(1));
    advance(secs(2)).await;
    deadline
}

#[tokio::test(start_paused = true)]
async fn a_closed_breaker_refuses_a_request_past_its_deadline_without_sending_it() {
    let layer: CircuitBreakerLayer = consecutive(1).build().unwrap();
    let handle = layer.handle();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counted::<bool>(&sent));

    let expired = passed().await;
    let err = expired
        .scope(async { svc.ready().await.unwrap().call(true).await })
        .await
        .unwrap_err();
    assert_eq!(kind(&err), RejectionKind::DeadlineExceeded);
    assert_eq!(sent.load(Ordering::SeqCst), 0, "nothing was sent");
    // It counts as nothing: no failure (the breaker would have tripped on one), no rejection.
    let metrics = handle.metrics();
    assert_eq!(handle.state(), State::Closed);
    assert_eq!((metrics.failures, metrics.rejected), (0, 0));

    // A request with time left goes through as before.
    let alive = Deadline::after(secs(1));
    alive
        .scope(async { svc.ready().await.unwrap().call(false).await })
        .await
        .unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_expired_request_takes_no_probe_permit_from_one_with_time_left() {
    let layer: CircuitBreakerLayer = consecutive(1).probes(1).build().unwrap();
    let handle = layer.handle();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut late = layer.layer(counted::<bool>(&sent));
    let mut timely = late.clone();
    late.ready().await.unwrap().call(true).await.unwrap_err();
    assert_eq!(handle.state(), State::Open);
    let expired = passed().await;
    advance(secs(5)).await;

    // The late request is readied first in half-open, but takes no permit...
    expired.sync_scope(|| {
        let ready = tokio_test::task::spawn(late.ready()).poll();
        assert!(matches!(ready, std::task::Poll::Ready(Ok(_))));
    });
    // ...so the one with time left is the probe, and its success closes the breaker.
    let alive = Deadline::after(secs(1));
    alive
        .scope(async { timely.ready().await.unwrap().call(false).await })
        .await
        .expect("the request with time left is the probe");
    assert_eq!(handle.state(), State::Closed);

    // The late request, called at last, is refused and never sent.
    let err = expired.scope(late.call(false)).await.unwrap_err();
    assert_eq!(kind(&err), RejectionKind::DeadlineExceeded);
    assert_eq!(
        sent.load(Ordering::SeqCst),
        2,
        "the trip and the probe only"
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_request_is_never_the_probe() {
    let layer: CircuitBreakerLayer = consecutive(1).probes(1).build().unwrap();
    let handle = layer.handle();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counted::<bool>(&sent));
    svc.ready().await.unwrap().call(true).await.unwrap_err();
    let expired = passed().await;
    advance(secs(5)).await;

    // A failing request past its deadline would have been the probe and reopened the breaker.
    let err = expired
        .scope(async { svc.ready().await.unwrap().call(true).await })
        .await
        .unwrap_err();
    assert_eq!(kind(&err), RejectionKind::DeadlineExceeded);
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    assert_eq!(handle.state(), State::HalfOpen);
    assert_eq!(
        handle.metrics().probe_permits,
        0,
        "the permit is still free"
    );
}
