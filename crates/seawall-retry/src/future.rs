//! The retry layer's response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;
use tracing::Level;

use crate::backoff::Rng;
use crate::layer::Shared;
use crate::{Policy, Verdict};

pin_project! {
    /// The response future of [`Retry`](crate::Retry): calls, backs off, calls again, until a
    /// result is done, the attempts or the budget run out, or the request cannot be replayed.
    ///
    /// It holds the timer inline, so no attempt allocates, retries included.
    ///
    /// # Panics
    ///
    /// When polled again after it returned its result.
    pub struct ResponseFuture<S, P, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S::Future>,
        replay: Option<Req>,
        service: S,
        policy: P,
        shared: Arc<Shared>,
        attempt: u32,
        rng: Option<Rng>,
        previous: Duration,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] future: F },
        BackingOff { #[pin] sleep: Sleep },
        Readying,
        Done,
    }
}

impl<S, P, Req> ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    pub(crate) fn new(
        future: S::Future,
        replay: Option<Req>,
        service: S,
        policy: P,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            state: State::Calling { future },
            replay,
            service,
            policy,
            previous: shared.backoff.base(),
            shared,
            attempt: 1,
            rng: None,
        }
    }
}

impl<S, P, Req> Future for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
    P: Policy<Req, S::Response, S::Error>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx));
                    let shared = &**this.shared;
                    let after = match this.policy.classify(&result) {
                        Verdict::Done => {
                            this.state.set(State::Done);
                            return Poll::Ready(result);
                        }
                        Verdict::DoNotRetry => {
                            shared.events.emit(Level::DEBUG, "do_not_retry");
                            this.state.set(State::Done);
                            return Poll::Ready(result);
                        }
                        Verdict::Retry { after } => after,
                    };
                    let gives_up = if *this.attempt >= shared.max_attempts {
                        Some(("give_up", Level::DEBUG, true))
                    } else if !this
                        .replay
                        .as_ref()
                        .is_some_and(|r| this.policy.can_replay(r))
                    {
                        // Not retried here, so not marked: a tier above that can replay
                        // the request may still retry it.
                        Some(("not_replayable", Level::DEBUG, false))
                    } else if shared.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
                        Some(("budget_exhausted", Level::WARN, true))
                    } else {
                        None
                    };
                    if let Some((event, level, mark)) = gives_up {
                        shared.events.emit(level, event);
                        let result = if mark {
                            this.policy.mark_give_up(result)
                        } else {
                            result
                        };
                        this.state.set(State::Done);
                        return Poll::Ready(result);
                    }
                    let wait = match after {
                        Some(after) => after.min(shared.max_retry_after),
                        None => {
                            let rng = this.rng.get_or_insert_with(|| {
                                let stream = shared.streams.fetch_add(1, Ordering::Relaxed);
                                let mut seeder = Rng::new(shared.seed ^ stream.rotate_left(32));
                                Rng::new(seeder.next_u64())
                            });
                            shared.backoff.delay(*this.attempt, rng, this.previous)
                        }
                    };
                    shared.events.emit(Level::DEBUG, "retry");
                    shared.events.duration("backoff", wait);
                    drop(result);
                    if wait.is_zero() {
                        this.state.set(State::Readying);
                    } else {
                        this.state.set(State::BackingOff {
                            sleep: tokio::time::sleep(wait),
                        });
                    }
                }
                StateProj::BackingOff { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(e) = ready!(this.service.poll_ready(cx)) {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(e));
                    }
                    let Some(mut request) = this.replay.take() else {
                        unreachable!("a retry is only scheduled with a request to replay")
                    };
                    *this.attempt += 1;
                    if *this.attempt < this.shared.max_attempts {
                        *this.replay = this.policy.clone_request(&request);
                    }
                    this.policy.prepare_retry(&mut request, *this.attempt);
                    let future = this.service.call(request);
                    this.state.set(State::Calling { future });
                }
                StateProj::Done => unreachable!("retry future polled after completion"),
            }
        }
    }
}

impl<S, P, Req> fmt::Debug for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Calling { .. } => "calling",
            State::BackingOff { .. } => "backing off",
            State::Readying => "readying",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
