//! The response future every layer of this crate returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use seawall_core::deadline::Deadline;
use seawall_core::rejection::DeadlineExceeded;
use seawall_core::BoxError;
use tokio::time::{Instant, Sleep};

use crate::error::AttemptTimedOut;

pin_project! {
    /// The response future of this crate's services: the inner future raced against a
    /// timer, or a refusal decided before the inner service was called.
    ///
    /// The inner future is polled before the timer, so an answer that is ready on the same
    /// tick as the timer wins. With a deadline to propagate, each poll of the inner future
    /// runs with that deadline as [`Deadline::current`], so layers below (a retry) and
    /// calls the inner service makes see it.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Refused { error: Option<BoxError> },
        Unbounded { #[pin] inner: F },
        Bounded {
            #[pin]
            inner: F,
            #[pin]
            sleep: Sleep,
            scope: Option<Deadline>,
            expiry: Expiry,
        },
    }
}

/// What the timer's firing means.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expiry {
    /// The request's deadline or total timeout passed: `DeadlineExceeded`.
    Deadline,
    /// One attempt ran out of its time: `AttemptTimedOut`.
    Attempt(Duration),
}

/// `from + after`, or about thirty years from `from` when that is past the clock's range.
pub(crate) fn instant_after(from: Instant, after: Duration) -> Instant {
    from.checked_add(after)
        .or_else(|| from.checked_add(Duration::from_secs(86_400 * 365 * 30)))
        .unwrap_or(from)
}

impl<F> ResponseFuture<F> {
    /// A refusal: `DeadlineExceeded` without calling the inner service.
    pub(crate) fn refused() -> Self {
        let error = Some(DeadlineExceeded::new(None).into());
        Self {
            state: State::Refused { error },
        }
    }

    /// The inner future with no timer.
    pub(crate) fn unbounded(inner: F) -> Self {
        Self {
            state: State::Unbounded { inner },
        }
    }

    /// The inner future raced against a timer that ends at `end`, scoped in `scope`.
    pub(crate) fn bounded(inner: F, end: Instant, scope: Option<Deadline>, expiry: Expiry) -> Self {
        Self {
            state: State::Bounded {
                inner,
                sleep: tokio::time::sleep_until(end),
                scope,
                expiry,
            },
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
            // Polled again after completion, it fails again rather than panicking.
            StateProj::Refused { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| DeadlineExceeded::new(None).into()))),
            StateProj::Unbounded { inner } => inner.poll(cx).map_err(Into::into),
            StateProj::Bounded {
                inner,
                sleep,
                scope,
                expiry,
            } => {
                let polled = match scope {
                    Some(deadline) => deadline.sync_scope(|| inner.poll(cx)),
                    None => inner.poll(cx),
                };
                if let Poll::Ready(result) = polled {
                    return Poll::Ready(result.map_err(Into::into));
                }
                ready!(sleep.poll(cx));
                Poll::Ready(Err(match *expiry {
                    Expiry::Deadline => DeadlineExceeded::new(None).into(),
                    Expiry::Attempt(after) => AttemptTimedOut::new(after).into(),
                }))
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Refused { .. } => "refused",
            State::Unbounded { .. } => "unbounded",
            State::Bounded { .. } => "bounded",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
