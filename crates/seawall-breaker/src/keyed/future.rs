//! The response future of [`KeyedCircuitBreaker`](super::KeyedCircuitBreaker).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use seawall_core::{BoxError, Classify};

use crate::future::ResponseFuture as BreakerFuture;

pin_project! {
    /// The response future of [`KeyedCircuitBreaker`](super::KeyedCircuitBreaker): the
    /// key's breaker's future (the call, or an immediate rejection), or the inner call
    /// alone for a request that has no key.
    pub struct ResponseFuture<F, C> {
        #[pin]
        state: State<F, C>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, C> {
        Breaker { #[pin] future: BreakerFuture<F, C> },
        Bypass { #[pin] future: F },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn breaker(future: BreakerFuture<F, C>) -> Self {
        Self {
            state: State::Breaker { future },
        }
    }

    pub(super) fn bypass(future: F) -> Self {
        Self {
            state: State::Bypass { future },
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Breaker { future } => future.poll(cx),
            StateProj::Bypass { future } => future.poll(cx).map_err(Into::into),
        }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
