//! A half-open probe holds the breaker no longer than its request's deadline: when the probe
//! is still out at its deadline, half-open counts as stuck from then on, rather than after the
//! whole probe timeout. For every breaker, as they share the state machine.

use std::future::Future;
use std::time::Duration;

use seawall_breaker::{BreakerHandle, KeyedCircuitBreakerBuilder, State};
use seawall_core::deadline::Deadline;
use seawall_core::{find_rejection, BoxError, RejectionKind};
use tokio::time::advance;
use tokio_test::assert_pending;
use tower::{service_fn, Layer, Service, ServiceExt};

use super::common::{consecutive, secs};

/// A probe timeout far longer than the deadlines and the open time (5 s).
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the upstream does with a request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ask {
    Fail,
    Succeed,
    /// Never answers (and nothing above drops the call at the deadline).
    Hang,
}

fn upstream() -> impl Service<
    Ask,
    Response = (),
    Error = &'static str,
    Future = impl Future<Output = Result<(), &'static str>> + Send,
> + Clone {
    service_fn(|ask: Ask| async move {
        match ask {
            Ask::Fail => Err("down"),
            Ask::Succeed => Ok(()),
            Ask::Hang => std::future::pending().await,
        }
    })
}

fn is_circuit_open(result: Result<(), BoxError>) -> bool {
    result.is_err_and(|err| {
        find_rejection(err.as_ref()).map(|r| r.kind()) == Some(RejectionKind::CircuitOpen)
    })
}

/// Drives `svc` (a breaker that trips on one failure, open 5 s, one probe) through a probe
/// that hangs with 1 s left, and checks that the breaker reopens at that deadline: a
/// request 1 + 5 s later is the next probe and closes it, where the probe timeout alone
/// would keep rejecting for 60 s.
async fn probe_with_deadline_reopens_at_the_deadline<S>(svc: S, handle: impl Fn() -> BreakerHandle)
where
    S: Service<Ask, Response = (), Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    svc.clone().oneshot(Ask::Fail).await.unwrap_err();
    advance(secs(5)).await;
    let mut probe =
        tokio_test::task::spawn(Deadline::after(secs(1)).scope(svc.clone().oneshot(Ask::Hang)));
    assert_pending!(probe.poll());
    assert_eq!(handle().metrics().probe_permits, 1);
    assert!(is_circuit_open(svc.clone().oneshot(Ask::Succeed).await));

    advance(secs(1)).await;
    assert_eq!(
        handle().state(),
        State::Open,
        "stuck from the probe's deadline"
    );
    assert!(is_circuit_open(svc.clone().oneshot(Ask::Succeed).await));
    advance(secs(5)).await;
    svc.clone()
        .oneshot(Ask::Succeed)
        .await
        .expect("the next probe, 6 s after the hung one");
    assert_eq!(handle().state(), State::Closed);
    drop(probe);
}

#[tokio::test(start_paused = true)]
async fn a_plain_breakers_probe_holds_half_open_only_until_its_deadline() {
    let layer = consecutive(1)
        .probes(1)
        .probe_timeout(PROBE_TIMEOUT)
        .build()
        .unwrap();
    let handle = layer.handle();
    probe_with_deadline_reopens_at_the_deadline(layer.layer(upstream()), || handle.clone()).await;
}

#[tokio::test(start_paused = true)]
async fn a_keyed_breakers_probe_holds_half_open_only_until_its_deadline() {
    let layer = KeyedCircuitBreakerBuilder::new(|_: &Ask| "upstream")
        .breaker(consecutive(1).probes(1).probe_timeout(PROBE_TIMEOUT))
        .build()
        .unwrap();
    let svc = layer.layer(upstream());
    probe_with_deadline_reopens_at_the_deadline(svc, || layer.handle(&"upstream").unwrap()).await;
}

#[tokio::test(start_paused = true)]
async fn a_probe_with_time_left_is_not_cut_short_by_another_probes_deadline() {
    let layer = consecutive(1)
        .probes(3)
        .probe_timeout(PROBE_TIMEOUT)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(upstream());
    svc.clone().oneshot(Ask::Fail).await.unwrap_err();
    advance(secs(5)).await;
    // The first probe succeeds; the other two go together and hang, one with no deadline,
    // one with 1 s left.
    svc.clone().oneshot(Ask::Succeed).await.unwrap();
    let mut unbounded = tokio_test::task::spawn(svc.clone().oneshot(Ask::Hang));
    let mut bounded =
        tokio_test::task::spawn(Deadline::after(secs(1)).scope(svc.clone().oneshot(Ask::Hang)));
    assert_pending!(unbounded.poll());
    assert_pending!(bounded.poll());
    assert_eq!(handle.metrics().probe_permits, 3);

    // Past the bounded probe's deadline, the other may still answer: half-open holds.
    advance(secs(30)).await;
    assert_eq!(handle.state(), State::HalfOpen);
    // The probe timeout still ends it.
    advance(PROBE_TIMEOUT - secs(30)).await;
    assert_eq!(handle.state(), State::Open);
    drop((unbounded, bounded));
}
