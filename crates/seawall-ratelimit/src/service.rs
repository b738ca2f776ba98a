use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use seawall_core::{BoxError, Calls, Outcome};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::limiter::Admit;

/// The service of [`RateLimitLayer`](crate::RateLimitLayer): asks the shared limiter in
/// `call`, and either calls the inner service or fails at once with
/// [`RateLimited`](seawall_core::rejection::RateLimited), which carries the exact wait until
/// a request would be let through.
///
/// `poll_ready` is the inner service's: a limit that is reached is not an error of
/// readiness (which tower treats as the end of the service) and does not hold the caller
/// back; the request is refused in `call`, fast.
///
/// # Clone
///
/// Clones share the limiter (an `Arc`); only the inner service is cloned.
pub struct RateLimit<S, L> {
    inner: S,
    limit: Arc<L>,
    calls: Calls,
}

seawall_core::inner_accessors!(RateLimit<S, L>, inner: S);

impl<S, L> RateLimit<S, L> {
    pub(crate) fn new(inner: S, limit: Arc<L>, calls: Calls) -> Self {
        Self {
            inner,
            limit,
            calls,
        }
    }

    /// The shared limiter.
    pub fn limit(&self) -> &Arc<L> {
        &self.limit
    }
}

impl<S: Clone, L> Clone for RateLimit<S, L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limit: self.limit.clone(),
            calls: self.calls.clone(),
        }
    }
}

impl<S: fmt::Debug, L: fmt::Debug> fmt::Debug for RateLimit<S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("limit", &self.limit)
            .finish()
    }
}

impl<S, L, Req> Service<Req> for RateLimit<S, L>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    L: Admit<Req>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // `seawall_calls_total`: counted at admission (`success`) or refusal (`rejected`),
        // so that the response future holds no counter handles.
        match self.limit.admit(&request) {
            Ok(()) => {
                self.calls.outcome(Outcome::Success);
                ResponseFuture::called(self.inner.call(request))
            }
            Err(rejection) => {
                self.calls.rejected();
                ResponseFuture::rejected(rejection)
            }
        }
    }
}
