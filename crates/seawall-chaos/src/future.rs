//! The response futures of the chaos services.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
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
        Sleeping { sleeping: Injected<S, Req> },
        Calling { #[pin] future: S::Future },
    }
}

/// An injected delay, boxed so that only an injected call pays for the timer, and dropped
/// out of line: the future's own drop is then a test of its state and, on the path that
/// never made a delay, nothing else, which the compiler inlines and folds away. (With the
/// box's drop inline, the future's drop was too big to inline: an out-of-line call on every
/// switched-off call.)
struct Injected<S, Req>(ManuallyDrop<Option<Boxed<S, Req>>>);

/// The boxed, pinned state of an injected delay.
type Boxed<S, Req> = Pin<Box<Sleeping<S, Req>>>;

impl<S, Req> Injected<S, Req> {
    fn new(sleeping: Sleeping<S, Req>) -> Self {
        Self(ManuallyDrop::new(Some(Box::pin(sleeping))))
    }

    fn sleeping(&mut self) -> Option<Pin<&mut Sleeping<S, Req>>> {
        self.0.as_mut().map(Pin::as_mut)
    }
}

impl<S, Req> Drop for Injected<S, Req> {
    #[inline(never)]
    fn drop(&mut self) {
        // Taken out of the `ManuallyDrop`, so it is dropped here, and only here.
        drop(self.0.take());
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
    #[inline]
    pub(crate) fn calling(future: S::Future) -> Self {
        Self {
            state: Delay::Calling { future },
        }
    }

    /// The injected path: one allocation, for the timer and the call it holds back.
    pub(crate) fn sleeping(sleep: Sleep, service: S, request: Req) -> Self {
        Self {
            state: Delay::Sleeping {
                sleeping: Injected::new(Sleeping {
                    sleep,
                    call: Some((service, request)),
                }),
            },
        }
    }
}

impl<S: Service<Req>, Req> Future for LatencyFuture<S, Req> {
    type Output = Result<S::Response, S::Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let DelayProj::Calling { future } = self.as_mut().project().state.project() {
            return future.poll(cx);
        }
        self.poll_injected(cx)
    }
}

impl<S: Service<Req>, Req> LatencyFuture<S, Req> {
    /// The injected delay, then the call: out of line, so that a caller polling a future
    /// that never made a delay inlines the inner poll and nothing else.
    #[cold]
    #[inline(never)]
    fn poll_injected(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<S::Response, S::Error>> {
        let mut this = self.as_mut().project();
        let future = match this.state.as_mut().project() {
            DelayProj::Calling { future } => return future.poll(cx),
            DelayProj::Sleeping { sleeping } => {
                // Unreachable `None`s: the state moves on as soon as the call is taken.
                let Some(sleeping) = sleeping.sleeping() else {
                    return Poll::Pending;
                };
                let sleeping = sleeping.project();
                if sleeping.sleep.poll(cx).is_pending() {
                    return Poll::Pending;
                }
                match sleeping.call.take() {
                    Some((mut service, request)) => service.call(request),
                    None => return Poll::Pending,
                }
            }
        };
        this.state.set(Delay::Calling { future });
        match this.state.project() {
            DelayProj::Calling { future } => future.poll(cx),
            DelayProj::Sleeping { .. } => Poll::Pending,
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
