use std::task::{Context, Poll};

use http::Request;
use seawall_core::deadline::Deadline;
use seawall_core::{BoxError, Calls};
use tower_service::Service;

use super::layer::Config;
use crate::future::{Expiry, ResponseFuture};
use crate::header;

/// Takes the caller's deadline and hands it on (see the [module docs](crate::receive)).
#[derive(Clone, Debug)]
pub struct ReceiveDeadline<S> {
    pub(super) inner: S,
    pub(super) config: Config,
    pub(super) calls: Calls,
}

seawall_core::inner_accessors!(ReceiveDeadline<S>, inner: S);

impl<S, B> Service<Request<B>> for ReceiveDeadline<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let config = &self.config;
        let timeout = header::read(request.headers())
            .map(|timeout| timeout.min(config.max_timeout))
            .or(config.default_timeout);
        let from_header = timeout.map(Deadline::after);
        let deadline = match (from_header, request.extensions().get::<Deadline>()) {
            (Some(a), Some(b)) => Some(a.min(*b)),
            (a, b) => a.or(b.copied()),
        };
        let Some(deadline) = deadline else {
            return ResponseFuture::unbounded(self.inner.call(request), self.calls.clone());
        };
        if !deadline.allows(config.min_remaining) {
            seawall_core::event!(
                timeout,
                DEBUG,
                _,
                "refused",
                reason = "deadline_too_close",
                remaining = ?deadline.remaining(),
                min_remaining = ?config.min_remaining
            );
            return ResponseFuture::refused(self.calls.clone());
        }
        request.extensions_mut().insert(deadline);
        let inner = deadline.sync_scope(|| self.inner.call(request));
        ResponseFuture::bounded(
            inner,
            deadline.instant(),
            Some(deadline),
            Expiry::Deadline,
            self.calls.clone(),
        )
    }
}
