//! The retry layer's response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use seawall_core::deadline::Deadline;
use seawall_core::Outcome;
use tokio::time::Sleep;
use tower_service::Service;

use seawall_core::rng::Rng;

use crate::budget::Withdrawal;
use crate::layer::Handle;
use crate::{Policy, Verdict};

pin_project! {
    /// The response future of [`Retry`](crate::Retry): calls, backs off, calls again, until a
    /// result is done, the attempts or the budget run out, or the request cannot be replayed.
    ///
    /// During a backoff it holds the failure it is retrying: if the retry cannot be sent
    /// after all (the request stopped being replayable while the first attempt read it, or
    /// the budget ran dry meanwhile), that failure is what the caller gets. A retry is
    /// withdrawn from the budget when it is sent, not when it is decided, and refunded when
    /// its result is done.
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
        retry: Retrying<S, P, Req>,
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

/// One attempt's result.
type Attempt<S, Req> = Result<<S as Service<Req>>::Response, <S as Service<Req>>::Error>;

/// Everything but the state: what the next retry needs.
struct Retrying<S, P, Req> {
    replay: Option<Req>,
    // A clone of the inner service for the retries: `None` when no retry is possible.
    service: Option<S>,
    shared: Handle<P>,
    attempt: u32,
    rng: Option<Rng>,
    previous: Duration,
    // The wait before the retry in hand, and whether a `Retry-After` chose it.
    wait: Duration,
    hinted: bool,
    // The budget's withdrawal for the attempt in flight, refunded if its result is done.
    withdrawal: Option<Withdrawal>,
}

impl<S, P, Req> ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    pub(crate) fn new(
        future: S::Future,
        replay: Option<Req>,
        service: Option<S>,
        shared: Handle<P>,
    ) -> Self {
        Self {
            state: State::Calling { future },
            retry: Retrying {
                replay,
                service,
                previous: shared.backoff.base(),
                shared,
                attempt: 1,
                rng: None,
                wait: Duration::ZERO,
                hinted: false,
                withdrawal: None,
            },
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
                    // The success path first, small enough to inline: everything a retry
                    // needs is out of line, so that a call that succeeds pays for none of it.
                    let result = match this.retry.succeeded(result) {
                        Ok(result) => {
                            this.state.set(State::Done);
                            return Poll::Ready(result);
                        }
                        Err(result) => result,
                    };
                    let failed = match this.retry.decide(result) {
                        Ok(failed) => Some(failed),
                        Err(result) => {
                            this.state.set(State::Done);
                            return Poll::Ready(result);
                        }
                    };
                    if this.retry.wait.is_zero() {
                        this.state.set(State::Readying { failed });
                    } else {
                        let sleep = tokio::time::sleep(this.retry.wait);
                        this.state.set(State::BackingOff { sleep, failed });
                    }
                }
                StateProj::BackingOff { sleep, failed } => {
                    ready!(sleep.poll(cx));
                    let failed = failed.take();
                    this.state.set(State::Readying { failed });
                }
                StateProj::Readying { failed } => {
                    let Some(service) = this.retry.service.as_mut() else {
                        unreachable!("a retry is only scheduled with a service to send it")
                    };
                    let ready = ready!(service.poll_ready(cx));
                    let Some(failed) = failed.take() else {
                        unreachable!("the failure is held until the retry is sent")
                    };
                    if ready.is_err() {
                        // The inner service failed while getting ready for the retry.
                        this.retry.shared.calls.outcome(Outcome::Failure);
                    }
                    match ready.map_err(Err).and_then(|()| this.retry.send(failed)) {
                        Ok(future) => this.state.set(State::Calling { future }),
                        Err(result) => {
                            this.state.set(State::Done);
                            return Poll::Ready(result);
                        }
                    }
                }
                StateProj::Done => unreachable!("retry future polled after completion"),
            }
        }
    }
}

impl<S, P, Req> Retrying<S, P, Req>
where
    S: Service<Req>,
    P: Policy<Req, S::Response, S::Error>,
{
    /// `Ok` with `result` when the policy calls it a success (refunding the attempt's
    /// withdrawal, if any), `Err` with it otherwise, for [`decide`](Self::decide).
    #[inline]
    fn succeeded(&mut self, result: Attempt<S, Req>) -> Result<Attempt<S, Req>, Attempt<S, Req>> {
        let shared = &*self.shared;
        if shared.policy.classify(&result) != Outcome::Success {
            return Err(result);
        }
        if let Some(withdrawal) = self.withdrawal.take() {
            shared.refund(withdrawal);
        }
        shared.calls.outcome(Outcome::Success);
        Ok(result)
    }

    /// What follows an attempt's result: `Ok` with the failure to retry after `self.wait`,
    /// or `Err` with the result for the caller.
    #[inline(never)]
    fn decide(&mut self, result: Attempt<S, Req>) -> Result<Attempt<S, Req>, Attempt<S, Req>> {
        let shared = &*self.shared;
        let withdrawal = self.withdrawal.take();
        let hint = match Verdict::of(&shared.policy, &result) {
            Verdict::Retry { after } => after,
            Verdict::Done => {
                if let Some(withdrawal) = withdrawal {
                    shared.refund(withdrawal);
                }
                shared.calls.outcome(Outcome::Success);
                return Err(result);
            }
            Verdict::DoNotRetry => {
                shared.calls.outcome(Outcome::Failure);
                let outcome = shared.policy.describe(&result);
                seawall_core::event!(retry, DEBUG, &shared.events, "do_not_retry", attempt = self.attempt, outcome = %outcome);
                return Err(result);
            }
        };
        // Checked now so that a retry that cannot happen fails at once; checked again when
        // the retry is sent.
        if let Err(why) = self.admit(hint, false) {
            return Err(self.give_up(why, result));
        }
        self.hinted = hint.is_some();
        self.wait = match hint {
            Some(after) => after.min(shared.max_retry_after),
            None => {
                let rng = self.rng.get_or_insert_with(|| {
                    let stream = shared.streams.fetch_add(1, Ordering::Relaxed);
                    let mut seeder = Rng::from_seed(shared.seed ^ stream.rotate_left(32));
                    Rng::from_seed(seeder.next_u64())
                });
                shared.backoff.delay(self.attempt, rng, &mut self.previous)
            }
        };
        // A retry that cannot start before the request's deadline is not worth waiting for.
        if Deadline::current().is_some_and(|deadline| !deadline.allows(self.wait)) {
            return Err(self.give_up(GiveUp::Deadline, result));
        }
        shared.events.duration("backoff", self.wait);
        Ok(result)
    }

    /// Sends the retry of `failed`, or hands `failed` back when it cannot be sent any more.
    #[inline(never)]
    fn send(&mut self, failed: Attempt<S, Req>) -> Result<S::Future, Attempt<S, Req>> {
        // A replayable body read on by the first attempt during the backoff can have crossed
        // its replay cap, and other requests can have emptied the budget.
        self.withdrawal = match self.admit(None, true) {
            Ok(withdrawal) => withdrawal,
            Err(why) => return Err(self.give_up(why, failed)),
        };
        let (Some(mut request), Some(service)) = (self.replay.take(), self.service.as_mut()) else {
            unreachable!("a retry is only scheduled with a request and a service")
        };
        let shared = &*self.shared;
        self.attempt += 1;
        if self.attempt < shared.max_attempts {
            self.replay = shared.policy.clone_request(&request);
        }
        shared.policy.prepare_retry(&mut request, self.attempt);
        let outcome = shared.policy.describe(&failed);
        seawall_core::event!(retry, DEBUG,
            &shared.events,
            "retry",
            attempt = self.attempt,
            outcome = %outcome,
            backoff_ms = self.wait.as_secs_f64() * 1e3,
            retry_after = self.hinted
        );
        drop(failed);
        Ok(service.call(request))
    }

    /// Why the failure in hand cannot be retried, if it cannot: asked when the retry is
    /// decided (with the failure's `Retry-After`, if any) and again when it is sent, when
    /// it also draws the retry from the budget.
    fn admit(&self, hint: Option<Duration>, send: bool) -> Result<Option<Withdrawal>, GiveUp> {
        let shared = &*self.shared;
        if self.attempt >= shared.max_attempts {
            Err(GiveUp::Attempts)
        } else if hint.is_some_and(|h| h > shared.max_retry_after && !shared.clamp_retry_after) {
            Err(GiveUp::RetryAfter)
        } else if !(self.replay.as_ref()).is_some_and(|r| shared.policy.can_replay(r)) {
            Err(GiveUp::NotReplayable)
        } else {
            match &shared.budget {
                None => Ok(None),
                Some(budget) if send => budget.withdraw().map(Some).ok_or(GiveUp::Budget),
                Some(budget) if budget.has_room() => Ok(None),
                Some(_) => Err(GiveUp::Budget),
            }
        }
    }

    /// Records why `result` goes back to the caller unretried and marks it when this layer
    /// retried it or its budget refused to: only then must the tier above not retry it.
    #[inline(never)]
    fn give_up(&self, why: GiveUp, result: Attempt<S, Req>) -> Attempt<S, Req> {
        let shared = &*self.shared;
        shared.calls.outcome(Outcome::Failure);
        let outcome = shared.policy.describe(&result);
        let attempt = self.attempt;
        let mark = match why {
            // The layer retried nothing (max_attempts(1)): the failure passes through.
            GiveUp::Attempts if attempt == 1 => false,
            GiveUp::Attempts => {
                seawall_core::event!(retry, DEBUG, &shared.events, "give_up", attempt, outcome = %outcome);
                true
            }
            GiveUp::RetryAfter => {
                seawall_core::event!(retry, DEBUG, &shared.events, "retry_after_too_long", attempt, outcome = %outcome);
                false
            }
            GiveUp::NotReplayable => {
                seawall_core::event!(retry, DEBUG, &shared.events, "not_replayable", attempt, outcome = %outcome);
                false
            }
            GiveUp::Budget => {
                seawall_core::event!(retry, WARN, &shared.events, "budget_exhausted", attempt, outcome = %outcome);
                true
            }
            GiveUp::Deadline => {
                seawall_core::event!(retry, DEBUG, &shared.events, "deadline", attempt, outcome = %outcome);
                false
            }
        };
        if mark {
            shared.policy.mark_give_up(result)
        } else {
            result
        }
    }
}

/// Why a failure goes back to the caller unretried.
#[derive(Clone, Copy, Debug)]
enum GiveUp {
    /// The attempts ran out.
    Attempts,
    /// The callee asked for a wait longer than `max_retry_after`.
    RetryAfter,
    /// The request cannot be sent again.
    NotReplayable,
    /// The budget is empty.
    Budget,
    /// The backoff would end at or past the request's deadline.
    Deadline,
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
            .field("attempt", &self.retry.attempt)
            .finish_non_exhaustive()
    }
}
