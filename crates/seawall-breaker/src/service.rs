use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use seawall_core::rejection::CircuitOpen;
use seawall_core::stripe::Handles;
use seawall_core::{BoxError, Classify, ErrorsAreFailures};
use tower_service::Service;

use crate::admission::{Admission, Decision, FailFast, Pending};
use crate::future::ResponseFuture;
use crate::handle::BreakerHandle;
use crate::shared::Shared;

/// A circuit breaker in front of a service; built by [`CircuitBreakerLayer`](crate::CircuitBreakerLayer).
///
/// `poll_ready` decides whether the next call may go through. If it may, `poll_ready`
/// waits for the inner service; if not, it is ready at once and `call` fails with a
/// [`CircuitOpen`] error without touching the inner service. It never returns an error of
/// its own.
///
/// # Deadline
///
/// A call made when the [current deadline](seawall_core::deadline::Deadline::current) has
/// already passed is refused with [`DeadlineExceeded`](seawall_core::rejection::DeadlineExceeded):
/// it is not sent, it counts as neither a success, a failure nor a circuit rejection, and it
/// takes no half-open probe permit (a probe that cannot finish in time would waste the one
/// chance the breaker gives the dependency; the permit stays for a request that can use it).
/// A probe admitted with a deadline sooner than the
/// [probe timeout](crate::CircuitBreakerBuilder::probe_timeout) holds half-open only until
/// that deadline. On the closed path this costs one task-local read per call; the deadline
/// is also read in `poll_ready`, but only when the breaker is half-open and hands out (or
/// holds) a probe permit. The keyed and per-endpoint breakers do the same, with the same code.
///
/// # Clone
///
/// Every clone shares the breaker. A clone starts without the reservation its original
/// may hold (a half-open probe permit, say), so cloning per request, as axum does, is
/// right.
pub struct CircuitBreaker<S, C = ErrorsAreFailures> {
    inner: S,
    admission: Admission<FailFast>,
    classify: C,
}

seawall_core::inner_accessors!(CircuitBreaker<S, C>, inner: S);

impl<S, C> CircuitBreaker<S, C> {
    pub(crate) fn from_parts(inner: S, shared: Arc<Handles<Shared>>, classify: C) -> Self {
        Self {
            inner,
            admission: Admission::new(shared, FailFast),
            classify,
        }
    }

    /// The handle of the breaker this service reports to.
    pub fn handle(&self) -> BreakerHandle {
        BreakerHandle::new(self.admission.shared().clone())
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
        // A refusal is ready at once: `call` fails fast without the inner service.
        match self.admission.poll_decide() {
            Pending::Refuse(_) | Pending::Expired => Poll::Ready(Ok(())),
            Pending::Pass(_) | Pending::Probe(_) | Pending::Undecided => {
                self.inner.poll_ready(cx).map_err(Into::into)
            }
        }
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        match self.admission.take() {
            Decision::Call(guard) => {
                ResponseFuture::called(self.inner.call(request), guard, self.classify.clone())
            }
            Decision::Refuse(after) => {
                self.admission.shared().rejected();
                ResponseFuture::rejected(CircuitOpen::new(after))
            }
            Decision::Expired => ResponseFuture::expired(),
        }
    }
}

impl<S: Clone, C: Clone> Clone for CircuitBreaker<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            admission: self.admission.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for CircuitBreaker<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("state", &self.admission.shared().state())
            .field("pending", &self.admission.pending())
            .finish()
    }
}
