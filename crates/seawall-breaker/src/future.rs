//! The response future of [`CircuitBreaker`](crate::CircuitBreaker).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use seawall_core::rejection::{CircuitOpen, DeadlineExceeded};
use seawall_core::stripe::Handle;
use seawall_core::{BoxError, Classify, Outcome};
use tokio::time::Instant;

use crate::shared::{Kind, Shared, Ticket};

/// A call in flight: reports its outcome to the breaker when it finishes, and gives back
/// its probe permit if it is dropped first.
///
/// Its handle to the breaker comes from the calling thread's stripe where the service has
/// one ([`Breaker`](crate::admission::Breaker)): taking it writes no count another core
/// writes too.
pub(crate) struct Guard {
    shared: Handle<Shared>,
    ticket: Ticket,
    start: Option<Instant>,
    armed: bool,
}

impl Guard {
    pub(crate) fn new(shared: Handle<Shared>, ticket: Ticket) -> Self {
        Self {
            shared,
            ticket,
            start: None,
            armed: true,
        }
    }

    /// Notes the start of the call, if the breaker tells slow calls.
    #[inline]
    pub(crate) fn started(&mut self) {
        if self.shared.times_calls() && self.ticket.kind != Kind::Disabled {
            self.start = Some(Instant::now());
        }
    }

    pub(crate) fn kind(&self) -> Kind {
        self.ticket.kind
    }

    /// Whether no transition happened since this call was admitted.
    pub(crate) fn is_current(&self) -> bool {
        self.shared.is_current(self.ticket)
    }

    #[inline]
    fn finish(mut self, outcome: Outcome) {
        self.armed = false;
        self.shared.complete(self.ticket, outcome, self.start);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.armed {
            self.shared.release(self.ticket);
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("ticket", &self.ticket)
            .field("start", &self.start)
            .finish()
    }
}

pin_project! {
    /// The response future of [`CircuitBreaker`](crate::CircuitBreaker) and
    /// [`KeyedCircuitBreaker`](crate::KeyedCircuitBreaker): the inner call, whose outcome it
    /// reports to the breaker, an immediate [`CircuitOpen`] rejection (or
    /// [`DeadlineExceeded`], for a request whose deadline had passed), or (keyed, for a
    /// request without a key) the inner call alone.
    ///
    /// Dropping it before it finishes counts as nothing, and frees a half-open probe's
    /// permit for another probe.
    pub struct ResponseFuture<F, C> {
        #[pin]
        state: State<F, C>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, C> {
        Called {
            #[pin]
            future: F,
            guard: Option<Guard>,
            classify: C,
        },
        Rejected {
            error: Option<CircuitOpen>,
        },
        Expired,
        Bypass {
            #[pin]
            future: F,
        },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn called(future: F, guard: Guard, classify: C) -> Self {
        Self {
            state: State::Called {
                future,
                guard: Some(guard),
                classify,
            },
        }
    }

    pub(crate) fn rejected(error: CircuitOpen) -> Self {
        Self {
            state: State::Rejected { error: Some(error) },
        }
    }

    /// An immediate [`DeadlineExceeded`]: the request's deadline passed before it was sent.
    pub(crate) fn expired() -> Self {
        Self {
            state: State::Expired,
        }
    }

    /// The inner call, seen by no breaker (a keyed request without a key).
    pub(crate) fn bypass(future: F) -> Self {
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
            StateProj::Called {
                future,
                guard,
                classify,
            } => {
                let result = ready!(future.poll(cx));
                if let Some(guard) = guard.take() {
                    let outcome = if guard.kind() == Kind::Disabled {
                        Outcome::Ignored
                    } else {
                        classify.classify(&result)
                    };
                    guard.finish(outcome);
                }
                Poll::Ready(result.map_err(Into::into))
            }
            StateProj::Rejected { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| CircuitOpen::new(None))
                .into())),
            StateProj::Expired => Poll::Ready(Err(DeadlineExceeded::new(None).into())),
            StateProj::Bypass { future } => future.poll(cx).map_err(Into::into),
        }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
