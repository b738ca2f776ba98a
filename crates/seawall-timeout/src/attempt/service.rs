use std::task::{Context, Poll};
use std::time::Duration;

use seawall_core::deadline::Deadline;
use seawall_core::{BoxError, Calls};
use tokio::time::Instant;
use tower_service::Service;

use crate::future::{instant_after, Expiry, ResponseFuture};

/// A timeout on each attempt, capped by the task's deadline (see the
/// [module docs](crate::attempt)).
#[derive(Clone, Debug)]
pub struct AttemptTimeout<S> {
    pub(super) inner: S,
    pub(super) timeout: Duration,
    pub(super) calls: Calls,
}

seawall_core::inner_accessors!(AttemptTimeout<S>, inner: S);

impl<S, Req> Service<Req> for AttemptTimeout<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let end = instant_after(Instant::now(), self.timeout);
        match Deadline::current() {
            Some(deadline) if deadline.is_expired() => ResponseFuture::refused(self.calls.clone()),
            Some(deadline) if deadline.instant() < end => ResponseFuture::bounded(
                self.inner.call(request),
                deadline.instant(),
                None,
                Expiry::Deadline,
                self.calls.clone(),
            ),
            _ => ResponseFuture::bounded(
                self.inner.call(request),
                end,
                None,
                Expiry::Attempt(self.timeout),
                self.calls.clone(),
            ),
        }
    }
}
