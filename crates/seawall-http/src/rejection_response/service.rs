use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use tower::util::{Oneshot, ServiceExt};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::{OtherErrorsAs500, PassOtherErrors};
use crate::classify::AsDynError;

/// The service of [`RejectionResponseLayer`](super::RejectionResponseLayer).
#[derive(Clone, Debug)]
pub struct RejectionResponseService<S, M = PassOtherErrors> {
    inner: S,
    mode: M,
}

impl<S> RejectionResponseService<S> {
    /// Wraps `inner`, passing errors that are not rejections through.
    pub fn new(inner: S) -> Self {
        Self::with_mode(inner, PassOtherErrors)
    }
}

impl<S, M> RejectionResponseService<S, M> {
    pub(crate) fn with_mode(inner: S, mode: M) -> Self {
        Self { inner, mode }
    }
}

seawall_core::inner_accessors!(RejectionResponseService<S, M>, inner: S);

impl<S, Req, B> Service<Req> for RejectionResponseService<S, PassOtherErrors>
where
    S: Service<Req, Response = Response<B>>,
    S::Error: AsDynError,
    B: From<Bytes>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, PassOtherErrors>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(request), self.mode)
    }
}

impl<S, Req, B> Service<Req> for RejectionResponseService<S, OtherErrorsAs500>
where
    S: Service<Req, Response = Response<B>> + Clone,
    S::Error: AsDynError,
    B: From<Bytes>,
{
    type Response = Response<B>;
    type Error = Infallible;
    type Future = ResponseFuture<Oneshot<S, Req>, OtherErrorsAs500>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service's readiness (and any error it reports) is awaited in the
        // response future, where an error can still become a response.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(inner.oneshot(request), self.mode)
    }
}
