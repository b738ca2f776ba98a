use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use seawall_core::rejection::CircuitOpen;
use seawall_core::stripe::Handles;
use seawall_core::{BoxError, Classify, ErrorsAreFailures};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::cap::Member;
use super::future::EndpointFuture;
use crate::admission::{Admission, Decision, Hooks, Pending};
use crate::future::ResponseFuture;
use crate::handle::BreakerHandle;
use crate::shared::{Kind, Shared};

/// One endpoint of a balancer behind its own circuit breaker; built by
/// [`EndpointBreakerLayer`](super::EndpointBreakerLayer).
///
/// While its breaker is open (and the [cap](super::EjectionCap) has room), `poll_ready`
/// returns `Pending`, so a balancer takes the endpoint out of its ready set and sends
/// elsewhere; a timer wakes it when the open time ends, so the balancer polls it again and
/// the half-open probe goes through. When the cap is full, the endpoint stays ready and its
/// calls go to the inner service. See the [module docs](super) for why this layer, unlike
/// [`CircuitBreaker`](crate::CircuitBreaker), reports not-ready.
///
/// # Deadline
///
/// As [`CircuitBreaker`](crate::CircuitBreaker), with the same code: a call made when the
/// task's [current deadline](seawall_core::deadline::Deadline::current) has passed is
/// refused with [`DeadlineExceeded`](seawall_core::rejection::DeadlineExceeded), unsent and
/// uncounted, and never takes the endpoint's probe permit (an ejected endpoint still
/// reports `Pending`; one that is not reports ready, so the request fails fast). A permit
/// taken for a request whose deadline then passes is given back at the next `poll_ready` or
/// `call`, and wakes a task waiting for that probe.
///
/// # Clone
///
/// Every clone is the same endpoint: one breaker, one place in the cap. A clone starts
/// without the reservation its original may hold (a probe permit) and with a timer of its
/// own.
pub struct EndpointBreaker<S, C = ErrorsAreFailures> {
    inner: S,
    admission: Admission<Arc<Member>>,
    classify: C,
    /// Wakes the task when the open time ends; made on first use, then reset.
    timer: Option<Pin<Box<Sleep>>>,
}

/// What an endpoint does when its breaker refuses a call.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ejection {
    /// Ejected: `poll_ready` says `Pending` (and `call`, if made anyway, fails fast).
    Ejected(Option<Duration>),
    /// The cap is full: straight to the inner service, uncounted.
    Spared,
}

/// The endpoint's side of its breaker's decisions: a refusal ejects it (if the cap has
/// room), an ordinary call readmits it, and a probe permit given back wakes whoever waits
/// for the probe.
impl Hooks for Arc<Member> {
    type Refusal = Ejection;

    fn refuse(&self, after: Option<Duration>) -> Ejection {
        if self.eject() {
            Ejection::Ejected(after)
        } else {
            Ejection::Spared
        }
    }

    fn admitted(&self) {
        // The breaker is closed (or set by hand to let calls through): back in service.
        self.readmit();
    }

    fn released(&self) {
        self.probe_done();
    }
}

seawall_core::inner_accessors!(EndpointBreaker<S, C>, inner: S);

impl<S, C> EndpointBreaker<S, C> {
    pub(super) fn from_parts(
        inner: S,
        shared: Arc<Shared>,
        member: Arc<Member>,
        classify: C,
    ) -> Self {
        Self {
            inner,
            admission: Admission::new(Arc::new(Handles::new(shared)), member),
            classify,
            timer: None,
        }
    }

    /// The handle of this endpoint's breaker.
    pub fn handle(&self) -> BreakerHandle {
        BreakerHandle::new(self.admission.shared().clone())
    }

    /// Whether this endpoint is ejected now (holds a slot of the cap).
    pub fn is_ejected(&self) -> bool {
        self.admission.hooks().is_ejected()
    }

    /// Arranges for the task to be woken when the ejected endpoint may be ready again: when
    /// the open time ends, or, when the breaker gives no time (a probe is out, or it was
    /// forced open), when a probe finishes, checking again after one open duration anyway.
    fn wake_later(&mut self, cx: &mut Context<'_>, after: Option<Duration>) {
        let wait = match after {
            Some(d) => d,
            None => {
                self.admission.hooks().wait_for_probe(cx.waker());
                self.admission.shared().config.open_duration
            }
        };
        let deadline = Instant::now() + wait;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        timer.as_mut().reset(deadline);
        if timer.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
    }
}

impl<S, C, Req> Service<Req> for EndpointBreaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = EndpointFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Decided as in `CircuitBreaker`, so an endpoint woken after its open time finds it
        // over; ejected, it is not ready, and wakes when it may be.
        match *self.admission.poll_decide() {
            Pending::Refuse(Ejection::Ejected(after)) => {
                self.wake_later(cx, after);
                Poll::Pending
            }
            Pending::Expired => Poll::Ready(Ok(())),
            _ => self.inner.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // As in `CircuitBreaker::call`. An endpoint found ejected here (a trip since
        // `poll_ready`, or a caller that skipped `poll_ready`) cannot wait any more: it
        // fails fast.
        match self.admission.take() {
            Decision::Call(guard) => {
                let probe = guard.kind() == Kind::Probe;
                let future =
                    ResponseFuture::called(self.inner.call(request), guard, self.classify.clone());
                if probe {
                    let member = self.admission.hooks().clone();
                    EndpointFuture::probe(future, member, self.admission.shared().clone())
                } else {
                    EndpointFuture::breaker(future)
                }
            }
            Decision::Refuse(Ejection::Ejected(after)) => {
                self.admission.shared().rejected();
                EndpointFuture::breaker(ResponseFuture::rejected(CircuitOpen::new(after)))
            }
            Decision::Refuse(Ejection::Spared) => EndpointFuture::spared(self.inner.call(request)),
            Decision::Expired => EndpointFuture::breaker(ResponseFuture::expired()),
        }
    }
}

impl<S: Clone, C: Clone> Clone for EndpointBreaker<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            admission: self.admission.clone(),
            classify: self.classify.clone(),
            timer: None,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for EndpointBreaker<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointBreaker")
            .field("inner", &self.inner)
            .field("state", &self.admission.shared().state())
            .field("ejected", &self.is_ejected())
            .field("pending", &self.admission.pending())
            .finish()
    }
}
