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
    /// During a backoff it holds the failure it is retrying: if the retry cannot be sent
    /// after all (the request stopped being replayable while the first attempt read it, or
    /// the budget ran dry meanwhile), that failure is what the caller gets. A retry is
    /// withdrawn from the budget when it is sent, not when it is decided.
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
        state: State<S::Future, Result<S::Response, S::Error>>,
        replay: Option<Req>,
        // A clone of the inner service for the retries: `None` when no retry is possible.
        service: Option<S>,
        shared: Arc<Shared<P>>,
        attempt: u32,
        rng: Option<Rng>,
        previous: Duration,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, T> {
        Calling { #[pin] future: F },
        // `failed` is the result being retried, `Some` until the state is left.
        BackingOff { #[pin] sleep: Sleep, failed: Option<T> },
        Readying { failed: Option<T> },
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
        service: Option<S>,
        shared: Arc<Shared<P>>,
    ) -> Self {
        Self {
            state: State::Calling { future },
            replay,
            service,
            previous: shared.backoff.base(),
            shared,
            attempt: 1,
            rng: None,
        }
    }
}

/// Whether a retry can be sent: a copy of the request is kept and can still be replayed.
fn replayable<Req, Res, E, P: Policy<Req, Res, E>>(replay: &Option<Req>, policy: &P) -> bool {
    replay.as_ref().is_some_and(|r| policy.can_replay(r))
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
                    let policy = &shared.policy;
                    let after = match policy.classify(&result) {
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
                    // Checked now so that a retry that cannot happen fails at once; the
                    // replay and the budget are checked again when the retry is sent.
                    let gives_up = if *this.attempt >= shared.max_attempts {
                        Some(GiveUp::Attempts)
                    } else if !replayable(this.replay, policy) {
                        Some(GiveUp::NotReplayable)
                    } else if shared.budget.as_ref().is_some_and(|b| !b.has_room()) {
                        Some(GiveUp::Budget)
                    } else {
                        None
                    };
                    if let Some(why) = gives_up {
                        this.state.set(State::Done);
                        return Poll::Ready(why.finish(shared, result));
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
                    shared.events.duration("backoff", wait);
                    let failed = Some(result);
                    if wait.is_zero() {
                        this.state.set(State::Readying { failed });
                    } else {
                        this.state.set(State::BackingOff {
                            sleep: tokio::time::sleep(wait),
                            failed,
                        });
                    }
                }
                StateProj::BackingOff { sleep, failed } => {
                    ready!(sleep.poll(cx));
                    let failed = failed.take();
                    this.state.set(State::Readying { failed });
                }
                StateProj::Readying { failed } => {
                    let Some(service) = this.service.as_mut() else {
                        unreachable!("a retry is only scheduled with a service to send it")
                    };
                    let ready = ready!(service.poll_ready(cx));
                    let Some(result) = failed.take() else {
                        unreachable!("the failure is held until the retry is sent")
                    };
                    let shared = &**this.shared;
                    let policy = &shared.policy;
                    if let Err(e) = ready {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(e));
                    }
                    // A replayable body read on by the first attempt during the backoff can
                    // have crossed its replay cap, and other requests can have emptied the
                    // budget: then the retry is not sent and the caller gets the failure.
                    let gives_up = if !replayable(this.replay, policy) {
                        Some(GiveUp::NotReplayable)
                    } else if shared.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
                        Some(GiveUp::Budget)
                    } else {
                        None
                    };
                    if let Some(why) = gives_up {
                        this.state.set(State::Done);
                        return Poll::Ready(why.finish(shared, result));
                    }
                    drop(result);
                    let Some(mut request) = this.replay.take() else {
                        unreachable!("a retry is only scheduled with a request to replay")
                    };
                    *this.attempt += 1;
                    if *this.attempt < shared.max_attempts {
                        *this.replay = policy.clone_request(&request);
                    }
                    policy.prepare_retry(&mut request, *this.attempt);
                    shared.events.emit(Level::DEBUG, "retry");
                    let future = service.call(request);
                    this.state.set(State::Calling { future });
                }
                StateProj::Done => unreachable!("retry future polled after completion"),
            }
        }
    }
}

/// Why a failure goes back to the caller unretried.
#[derive(Clone, Copy)]
enum GiveUp {
    Attempts,
    NotReplayable,
    Budget,
}

impl GiveUp {
    /// Records the event and hands back the failure, marked if this layer gave up on it.
    fn finish<P, Req, Res, E>(self, shared: &Shared<P>, result: Result<Res, E>) -> Result<Res, E>
    where
        P: Policy<Req, Res, E>,
    {
        let (event, level, mark) = match self {
            GiveUp::Attempts => ("give_up", Level::DEBUG, true),
            // Not retried here, so not marked: a tier above that can replay the request may
            // still retry it.
            GiveUp::NotReplayable => ("not_replayable", Level::DEBUG, false),
            GiveUp::Budget => ("budget_exhausted", Level::WARN, true),
        };
        shared.events.emit(level, event);
        if mark {
            shared.policy.mark_give_up(result)
        } else {
            result
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
            State::Readying { .. } => "readying",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
