use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use seawall_core::deadline::Deadline;
use seawall_core::rejection::CircuitOpen;
use seawall_core::{BoxError, Classify, ErrorsAreFailures};
use tower_service::Service;

use crate::future::{Guard, ResponseFuture};
use crate::handle::BreakerHandle;
use crate::shared::{Admit, Kind, Shared, Ticket};

/// A circuit breaker in front of a service; built by [`CircuitBreakerLayer`](crate::CircuitBreakerLayer).
///
/// `poll_ready` decides whether the next call may go through. If it may, `poll_ready`
/// waits for the inner service; if not, it is ready at once and `call` fails with a
/// [`CircuitOpen`] error without touching the inner service. It never returns an error of
/// its own.
///
/// # Deadline
///
/// A call made when the [current deadline](Deadline::current) has already passed is refused
/// with [`DeadlineExceeded`](seawall_core::rejection::DeadlineExceeded): it is not sent, it
/// counts as neither a success, a failure nor a circuit rejection, and it takes no half-open
/// probe permit (a probe that cannot finish in time would waste the one chance the breaker
/// gives the dependency; the permit stays for a request that can use it). On the closed path
/// this costs one task-local read per call; the deadline is also read in `poll_ready`, but only
/// when the breaker is half-open and about to hand out a probe permit.
///
/// # Clone
///
/// Every clone shares the breaker. A clone starts without the reservation its original
/// may hold (a half-open probe permit, say), so cloning per request, as axum does, is
/// right.
pub struct CircuitBreaker<S, C = ErrorsAreFailures> {
    inner: S,
    shared: Arc<Shared>,
    classify: C,
    pending: Option<Pending>,
}

/// What `poll_ready` decided for the next call.
#[derive(Debug)]
enum Pending {
    /// Go through; nothing to give back if the call never happens.
    Pass(Ticket),
    /// Go through as a half-open probe, holding a permit.
    Probe(Guard),
    /// Rejected, with a retry-after hint.
    Reject(Option<std::time::Duration>),
    /// Refused: the current deadline has passed (no permit held, nothing counted).
    Expired,
}

/// Whether the task's [current deadline](Deadline::current) has passed.
#[inline]
fn deadline_passed() -> bool {
    Deadline::current().is_some_and(|deadline| deadline.is_expired())
}

seawall_core::inner_accessors!(CircuitBreaker<S, C>, inner: S);

impl<S, C> CircuitBreaker<S, C> {
    pub(crate) fn from_parts(inner: S, shared: Arc<Shared>, classify: C) -> Self {
        Self {
            inner,
            shared,
            classify,
            pending: None,
        }
    }

    /// The handle of the breaker this service reports to.
    pub fn handle(&self) -> BreakerHandle {
        BreakerHandle::new(self.shared.clone())
    }

    fn decide(&self) -> Pending {
        match self.shared.admit() {
            Admit::Call(t) if t.kind == Kind::Probe => {
                Pending::Probe(Guard::new(self.shared.clone(), t))
            }
            Admit::Call(t) => Pending::Pass(t),
            Admit::Reject(after) => Pending::Reject(after),
        }
    }
}

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // A probe permit is kept until it is used, as long as the breaker is still in the
        // half-open it was taken in; any other decision (or a permit a transition voided:
        // a forced open, a probe timeout) is taken afresh, so a service that waited on its
        // inner service sees the breaker as it is now.
        match &self.pending {
            Some(Pending::Probe(guard)) if guard.is_current() => {}
            _ => self.pending = Some(self.decide()),
        }
        // A probe that cannot finish before the deadline gives its permit back at once
        // (dropping the guard releases it) rather than holding it until `call` refuses.
        if matches!(self.pending, Some(Pending::Probe(_))) && deadline_passed() {
            self.pending = Some(Pending::Expired);
        }
        match self.pending {
            Some(Pending::Reject(_) | Pending::Expired) => Poll::Ready(Ok(())),
            _ => self.inner.poll_ready(cx).map_err(Into::into),
        }
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        // A decision still stands if no transition happened since `poll_ready` made it (one
        // load on the closed path). A pass or a probe permit from an earlier epoch is void:
        // a trip in between must not let the call reach the failing dependency, nor a pass
        // from before the trip become an extra probe. Deciding again is safe, as the inner
        // service is ready; a rejection stands (the inner service was not polled). Without
        // `poll_ready` first (a broken caller), decide now. A request whose deadline has
        // passed goes nowhere; dropping a probe's guard gives its permit back.
        if deadline_passed() {
            self.pending = None;
            return ResponseFuture::expired();
        }
        let pending = match self.pending.take() {
            Some(Pending::Pass(ticket)) if !self.shared.is_current(ticket) => self.decide(),
            Some(Pending::Probe(guard)) if !guard.is_current() => self.decide(),
            Some(p) => p,
            None => self.decide(),
        };
        let mut guard = match pending {
            Pending::Pass(ticket) => Guard::new(self.shared.clone(), ticket),
            Pending::Probe(guard) => guard,
            Pending::Reject(after) => {
                self.shared.rejected();
                return ResponseFuture::rejected(CircuitOpen::new(after));
            }
            Pending::Expired => return ResponseFuture::expired(),
        };
        guard.started();
        ResponseFuture::called(self.inner.call(request), guard, self.classify.clone())
    }
}

impl<S: Clone, C: Clone> Clone for CircuitBreaker<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            classify: self.classify.clone(),
            pending: None,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for CircuitBreaker<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("state", &self.shared.state())
            .field("pending", &self.pending)
            .finish()
    }
}
