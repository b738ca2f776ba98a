//! The response future every layer of this crate returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use seawall_core::deadline::Deadline;
use seawall_core::rejection::DeadlineExceeded;
use seawall_core::{BoxError, Calls, Events, Outcome};
use tokio::time::{Instant, Sleep};

use crate::error::AttemptTimedOut;

pin_project! {
    /// The response future of this crate's services: the inner future raced against a
    /// timer, or a refusal decided before the inner service was called.
    ///
    /// The inner future is polled before the timer, so an answer that is ready on the same
    /// tick as the timer wins. The timer is made the first time the inner future has to
    /// wait: an answer ready at once costs no timer at all. With a deadline to propagate, each poll of the inner future
    /// runs with that deadline as [`Deadline::current`], so layers below (a retry) and
    /// calls the inner service makes see it.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        // `seawall_calls_total` of the layer that made this future.
        calls: Calls,
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
            timer: Timer,
            scope: Option<Deadline>,
            expiry: Expiry,
        },
    }
}

pin_project! {
    /// A bounded call's timer: only its end until the inner future first has to wait, so
    /// that an answer ready at once never makes a timer (a runtime handle to clone, a timer
    /// entry to build and drop: most of what a timeout costs).
    #[project = TimerProj]
    enum Timer {
        Unarmed { end: Instant },
        Armed { #[pin] sleep: Sleep },
        // Another layer enforces the deadline: this future only scopes it.
        Off,
    }
}

impl Timer {
    /// Arms the timer if it is not yet, and polls it.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let TimerProj::Unarmed { end } = self.as_mut().project() {
            let sleep = arm(*end);
            self.set(Timer::Armed { sleep });
        }
        match self.project() {
            TimerProj::Armed { sleep } => sleep.poll(cx),
            // Armed just above; or off: never fires.
            TimerProj::Unarmed { .. } | TimerProj::Off => Poll::Pending,
        }
    }
}

/// A timer ending at `end`: out of line, off the path of an answer that is ready at once.
#[cold]
#[inline(never)]
fn arm(end: Instant) -> Sleep {
    tokio::time::sleep_until(end)
}

/// What the timer's firing means.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expiry {
    /// The request's deadline or total timeout passed: `DeadlineExceeded`.
    Deadline,
    /// One attempt ran out of its time: `AttemptTimedOut`.
    Attempt(Duration),
}

/// The `seawall_calls_total` counters of one of this crate's layers, `name` saying which
/// (`total`, `attempt`, `send`, `receive`): taken when the service is built.
pub(crate) fn calls(name: &'static str) -> Calls {
    Calls::new(&Events::new("timeout").named(name))
}

/// `from + after`, or about thirty years from `from` when that is past the clock's range.
#[inline]
pub(crate) fn instant_after(from: Instant, after: Duration) -> Instant {
    from.checked_add(after)
        .or_else(|| from.checked_add(Duration::from_secs(86_400 * 365 * 30)))
        .unwrap_or(from)
}

impl<F> ResponseFuture<F> {
    /// A refusal: `DeadlineExceeded` without calling the inner service.
    pub(crate) fn refused(calls: Calls) -> Self {
        let error = Some(DeadlineExceeded::new(None).into());
        Self {
            state: State::Refused { error },
            calls,
        }
    }

    /// The inner future with no timer.
    pub(crate) fn unbounded(inner: F, calls: Calls) -> Self {
        Self {
            state: State::Unbounded { inner },
            calls,
        }
    }

    /// The inner future raced against a timer that ends at `end`, scoped in `scope`.
    /// Polls `inner` with `scope` as the current deadline, without a timer: for a layer
    /// that passes a deadline on while a layer below it enforces the deadline.
    pub(crate) fn scoped(inner: F, scope: Deadline, calls: Calls) -> Self {
        Self {
            state: State::Bounded {
                inner,
                timer: Timer::Off,
                scope: Some(scope),
                expiry: Expiry::Deadline,
            },
            calls,
        }
    }

    #[inline]
    pub(crate) fn bounded(
        inner: F,
        end: Instant,
        scope: Option<Deadline>,
        expiry: Expiry,
        calls: Calls,
    ) -> Self {
        Self {
            state: State::Bounded {
                inner,
                timer: Timer::Unarmed { end },
                scope,
                expiry,
            },
            calls,
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
        let this = self.project();
        let calls: &Calls = this.calls;
        match this.state.project() {
            StateProj::Refused { error } => Poll::Ready(Err(match error.take() {
                Some(error) => {
                    calls.rejected();
                    error
                }
                // Polled again after completion, it fails again rather than panicking.
                None => DeadlineExceeded::new(None).into(),
            })),
            StateProj::Unbounded { inner } => {
                let result = ready!(inner.poll(cx));
                Poll::Ready(count(calls, result))
            }
            StateProj::Bounded {
                inner,
                timer,
                scope,
                expiry,
            } => {
                let polled = match scope {
                    Some(deadline) => deadline.sync_scope(|| inner.poll(cx)),
                    None => inner.poll(cx),
                };
                if let Poll::Ready(result) = polled {
                    return Poll::Ready(count(calls, result));
                }
                ready!(timer.poll(cx));
                calls.outcome(Outcome::Failure);
                Poll::Ready(Err(match *expiry {
                    Expiry::Deadline => DeadlineExceeded::new(None).into(),
                    Expiry::Attempt(after) => AttemptTimedOut::new(after).into(),
                }))
            }
        }
    }
}

/// Counts the inner service's answer: `success` for a response, `failure` for an error.
fn count<T, E: Into<BoxError>>(calls: &Calls, result: Result<T, E>) -> Result<T, BoxError> {
    calls.outcome(match result {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    });
    result.map_err(Into::into)
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
