use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use seawall_core::rejection::CircuitOpen;
use seawall_core::{BoxError, Classify, ErrorsAreFailures};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::cap::Member;
use super::future::EndpointFuture;
use crate::future::{Guard, ResponseFuture};
use crate::handle::BreakerHandle;
use crate::shared::{Admit, Kind, Shared, Ticket};

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
/// # Clone
///
/// Every clone is the same endpoint: one breaker, one place in the cap. A clone starts
/// without the reservation its original may hold (a probe permit) and with a timer of its
/// own.
pub struct EndpointBreaker<S, C = ErrorsAreFailures> {
    inner: S,
    shared: Arc<Shared>,
    member: Arc<Member>,
    classify: C,
    pending: Option<Pending>,
    /// Wakes the task when the open time ends; made on first use, then reset.
    timer: Option<Pin<Box<Sleep>>>,
}

/// What `poll_ready` decided for the next call.
#[derive(Debug)]
enum Pending {
    /// Through the breaker; nothing to give back if the call never happens.
    Pass(Ticket),
    /// A half-open probe, holding a permit.
    Probe(Guard),
    /// The breaker rejects and the endpoint is ejected (poll_ready said `Pending`).
    Ejected(Option<Duration>),
    /// The breaker rejects but the cap is full: straight to the inner service, uncounted.
    Spared,
}

impl<S, C> EndpointBreaker<S, C> {
    pub(super) fn from_parts(
        inner: S,
        shared: Arc<Shared>,
        member: Arc<Member>,
        classify: C,
    ) -> Self {
        Self {
            inner,
            shared,
            member,
            classify,
            pending: None,
            timer: None,
        }
    }

    /// The handle of this endpoint's breaker.
    pub fn handle(&self) -> BreakerHandle {
        BreakerHandle::new(self.shared.clone())
    }

    /// Whether this endpoint is ejected now (holds a slot of the cap).
    pub fn is_ejected(&self) -> bool {
        self.member.is_ejected()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service (giving back any reservation held).
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn decide(&self) -> Pending {
        match self.shared.admit() {
            Admit::Call(t) if t.kind == Kind::Probe => {
                Pending::Probe(Guard::new(self.shared.clone(), t))
            }
            Admit::Call(t) => {
                // An ordinary call: the breaker is closed (or set by hand to let calls
                // through), so the endpoint is back in service.
                self.member.readmit();
                Pending::Pass(t)
            }
            Admit::Reject(after) if self.member.eject() => Pending::Ejected(after),
            Admit::Reject(_) => Pending::Spared,
        }
    }

    /// Arranges for the task to be woken when the ejected endpoint may be ready again: when
    /// the open time ends, or, when the breaker gives no time (a probe is out, or it was
    /// forced open), when a probe finishes, checking again after one open duration anyway.
    fn wake_later(&mut self, cx: &mut Context<'_>, after: Option<Duration>) {
        let wait = match after {
            Some(d) => d,
            None => {
                self.member.wait_for_probe(cx.waker());
                self.shared.config.open_duration
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
        // As in `CircuitBreaker`: a probe permit is kept while its half-open lasts; any other
        // decision is taken afresh, so an endpoint woken after its open time finds it over.
        match &self.pending {
            Some(Pending::Probe(guard)) if guard.is_current() => {}
            _ => self.pending = Some(self.decide()),
        }
        if let Some(Pending::Ejected(after)) = self.pending {
            self.wake_later(cx, after);
            return Poll::Pending;
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // As in `CircuitBreaker::call`: a pass or a permit from before a transition is void
        // and decided again. An endpoint found ejected here (a trip since `poll_ready`, or a
        // caller that skipped `poll_ready`) cannot wait any more: it fails fast.
        let pending = match self.pending.take() {
            Some(Pending::Pass(ticket)) if !self.shared.is_current(ticket) => self.decide(),
            Some(Pending::Probe(guard)) if !guard.is_current() => self.decide(),
            Some(p) => p,
            None => self.decide(),
        };
        let mut guard = match pending {
            Pending::Pass(ticket) => Guard::new(self.shared.clone(), ticket),
            Pending::Probe(guard) => {
                let mut guard = guard;
                guard.started();
                let future =
                    ResponseFuture::called(self.inner.call(request), guard, self.classify.clone());
                return EndpointFuture::probe(future, self.member.clone(), self.shared.clone());
            }
            Pending::Ejected(after) => {
                self.shared.rejected();
                return EndpointFuture::breaker(ResponseFuture::rejected(CircuitOpen::new(after)));
            }
            Pending::Spared => return EndpointFuture::spared(self.inner.call(request)),
        };
        guard.started();
        EndpointFuture::breaker(ResponseFuture::called(
            self.inner.call(request),
            guard,
            self.classify.clone(),
        ))
    }
}

impl<S: Clone, C: Clone> Clone for EndpointBreaker<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            member: self.member.clone(),
            classify: self.classify.clone(),
            pending: None,
            timer: None,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for EndpointBreaker<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointBreaker")
            .field("inner", &self.inner)
            .field("state", &self.shared.state())
            .field("ejected", &self.member.is_ejected())
            .field("pending", &self.pending)
            .finish()
    }
}
