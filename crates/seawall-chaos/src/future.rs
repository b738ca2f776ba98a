//! The response futures of the chaos services.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;

use crate::error::Aborted;
#[cfg(feature = "http")]
pub use crate::outcome::OutcomeAnswer;

/// How an injected answer is made, when the response future is first polled.
///
/// The chaos layers keep the *recipe* for their answer in the future (the error's
/// constructor, the status and `Retry-After`), not the answer itself: a recipe of plain
/// values has nothing to drop, so a future that took the inner path costs no more to drop
/// than the inner future. Implemented by [`FaultAnswer`], [`AbortAnswer`] and, with `http`,
/// `OutcomeAnswer`.
pub trait Answer<T> {
    /// Makes the answer.
    fn answer(self) -> T;
}

/// The answer of [`InjectFault`](crate::InjectFault): the error its constructor makes.
#[derive(Clone, Debug)]
pub struct FaultAnswer<M> {
    make_error: M,
}

impl<M> FaultAnswer<M> {
    pub(crate) fn new(make_error: M) -> Self {
        Self { make_error }
    }
}

impl<M, E, R, SE> Answer<Result<R, SE>> for FaultAnswer<M>
where
    M: FnOnce() -> E,
    E: Into<SE>,
{
    fn answer(self) -> Result<R, SE> {
        Err((self.make_error)().into())
    }
}

/// The answer of [`InjectAbort`](crate::InjectAbort) in
/// [`AbortMode::DropConnection`](crate::AbortMode::DropConnection): [`Aborted`].
#[derive(Clone, Copy, Debug)]
pub struct AbortAnswer {
    _private: (),
}

impl AbortAnswer {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }
}

impl<R, SE: From<Aborted>> Answer<Result<R, SE>> for AbortAnswer {
    fn answer(self) -> Result<R, SE> {
        Err(Aborted::new().into())
    }
}

pin_project! {
    /// The response future of [`InjectFault`](crate::InjectFault),
    /// [`InjectAbort`](crate::InjectAbort) and `InjectOutcome`: the inner service's future,
    /// or the injected answer, or (an abort that hangs) nothing ever.
    pub struct ResponseFuture<F, A> {
        #[pin]
        state: State<F, A>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, A> {
        Inner { #[pin] future: F },
        Injected { answer: Option<A> },
        Hang,
    }
}

impl<F, A> ResponseFuture<F, A> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn injected(answer: A) -> Self {
        Self {
            state: State::Injected {
                answer: Some(answer),
            },
        }
    }

    pub(crate) fn hang() -> Self {
        Self { state: State::Hang }
    }
}

impl<F, A> Future for ResponseFuture<F, A>
where
    F: Future,
    A: Answer<F::Output>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            // Polled again after it answered, or an abort that hangs: never ready, and no
            // waker is kept, so dropping the future is all it takes to free it.
            StateProj::Injected { answer } => match answer.take() {
                Some(answer) => Poll::Ready(answer.answer()),
                None => Poll::Pending,
            },
            StateProj::Hang => Poll::Pending,
        }
    }
}

impl<F, A> fmt::Debug for ResponseFuture<F, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Inner { .. } => "inner",
            State::Injected { .. } => "injected",
            State::Hang => "hang",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

pin_project! {
    /// The response future of [`InjectLatency`](crate::InjectLatency): the inner service's
    /// future, after the injected delay when there is one.
    pub struct LatencyFuture<S: Service<Req>, Req> {
        #[pin]
        state: Delay<S, Req>,
    }
}

pin_project! {
    #[project = DelayProj]
    enum Delay<S: Service<Req>, Req> {
        // Boxed: only an injected delay pays for the timer, and a future that calls at once
        // carries no timer whose drop the compiler would keep out of line.
        Sleeping { sleeping: Pin<Box<Sleeping<S, Req>>> },
        Calling { #[pin] future: S::Future },
    }
}

pin_project! {
    /// An injected delay: the timer, then the service that was ready when the call came
    /// and the request, both taken when the timer fires.
    struct Sleeping<S, Req> {
        #[pin]
        sleep: Sleep,
        call: Option<(S, Req)>,
    }
}

impl<S: Service<Req>, Req> LatencyFuture<S, Req> {
    pub(crate) fn calling(future: S::Future) -> Self {
        Self {
            state: Delay::Calling { future },
        }
    }

    /// The injected path: one allocation, for the timer and the call it holds back.
    pub(crate) fn sleeping(sleep: Sleep, service: S, request: Req) -> Self {
        Self {
            state: Delay::Sleeping {
                sleeping: Box::pin(Sleeping {
                    sleep,
                    call: Some((service, request)),
                }),
            },
        }
    }
}

impl<S: Service<Req>, Req> Future for LatencyFuture<S, Req> {
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let future = match this.state.as_mut().project() {
                DelayProj::Calling { future } => return future.poll(cx),
                DelayProj::Sleeping { sleeping } => {
                    let sleeping = sleeping.as_mut().project();
                    if sleeping.sleep.poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    match sleeping.call.take() {
                        Some((mut service, request)) => service.call(request),
                        // Unreachable: the state moves on as soon as the call is taken.
                        None => return Poll::Pending,
                    }
                }
            };
            this.state.set(Delay::Calling { future });
        }
    }
}

impl<S: Service<Req>, Req> fmt::Debug for LatencyFuture<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            Delay::Sleeping { .. } => "sleeping",
            Delay::Calling { .. } => "calling",
        };
        f.debug_struct("LatencyFuture")
            .field("state", &state)
            .finish()
    }
}
