//! The response future of [`RejectionResponseService`](super::RejectionResponseService).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use seawall_core::Calls;

use super::layer::{OtherErrorsAs500, PassOtherErrors};
use super::response::{internal_error, RejectionResponse};
use crate::classify::AsDynError;

pin_project! {
    /// The response future of [`RejectionResponseService`](super::RejectionResponseService).
    #[derive(Debug)]
    pub struct ResponseFuture<F, M> {
        #[pin]
        inner: F,
        mode: M,
    }
}

impl<F, M> ResponseFuture<F, M> {
    pub(crate) fn new(inner: F, mode: M) -> Self {
        Self { inner, mode }
    }
}

impl<F, B, E> Future for ResponseFuture<F, PassOtherErrors>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: AsDynError,
    B: From<Bytes>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().inner.poll(cx)) {
            Ok(response) => Ok(response),
            Err(error) => match RejectionResponse::find(error.as_dyn_error()) {
                Some(rejection) => Ok(answered(rejection)),
                None => Err(error),
            },
        })
    }
}

impl<F, B, E> Future for ResponseFuture<F, OtherErrorsAs500>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: AsDynError,
    B: From<Bytes>,
{
    type Output = Result<Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().inner.poll(cx)) {
            Ok(response) => Ok(response),
            Err(error) => match RejectionResponse::find(error.as_dyn_error()) {
                Some(rejection) => Ok(answered(rejection)),
                None => {
                    Calls::count_once("http", "rejection_response", "failure");
                    Ok(internal_error(error.as_dyn_error()))
                }
            },
        })
    }
}

/// A Seawall rejection from further in, as its response; counted as
/// `seawall_calls_total{layer="http", name="rejection_response", outcome="rejected"}`.
fn answered<B: From<Bytes>>(rejection: RejectionResponse) -> Response<B> {
    Calls::count_once("http", "rejection_response", "rejected");
    rejection.into_http_response()
}
