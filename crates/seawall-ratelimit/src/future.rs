//! The response future of [`RateLimit`](crate::RateLimit).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use seawall_core::rejection::RateLimited;
use seawall_core::BoxError;

pin_project! {
    /// The inner service's future, or a rejection ready at once.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called { #[pin] future: F },
        Rejected { rejection: RateLimited },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn called(future: F) -> Self {
        Self {
            state: State::Called { future },
        }
    }

    pub(crate) fn rejected(rejection: RateLimited) -> Self {
        Self {
            state: State::Rejected { rejection },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future } => future.poll(cx).map_err(Into::into),
            StateProj::Rejected { rejection } => Poll::Ready(Err(rejection.clone().into())),
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
