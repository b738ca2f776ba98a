use std::task::{Context, Poll};

use http::Request;
use seawall_core::deadline::Deadline;
use seawall_core::{BoxError, Calls};
use tower_service::Service;

use crate::future::{Expiry, ResponseFuture};
use crate::header;

/// Sends the request's remaining time with it (see the [module docs](crate::send)).
#[derive(Clone, Debug)]
pub struct SendDeadline<S> {
    pub(super) inner: S,
    pub(super) calls: Calls,
}

seawall_core::inner_accessors!(SendDeadline<S>, inner: S);

impl<S, B> Service<Request<B>> for SendDeadline<S>
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
        let deadline = match request.extensions().get::<Deadline>() {
            Some(own) => Some(own.or_current()),
            None => Deadline::current(),
        };
        let Some(deadline) = deadline else {
            return ResponseFuture::unbounded(self.inner.call(request), self.calls.clone());
        };
        if deadline.is_expired() {
            seawall_core::event!(timeout, DEBUG, _, "refused", reason = "deadline_passed");
            return ResponseFuture::refused(self.calls.clone());
        }
        header::write(request.headers_mut(), deadline.remaining());
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
