//! The hedge layer's response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use seawall_core::deadline::Deadline;
use seawall_core::Outcome;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::events::Counters;
use crate::layer::Shared;
use crate::window::LatencyWindow;
use crate::{Policy, Verdict};

pin_project! {
    /// The response future of [`Hedge`](crate::Hedge): the first attempt, the timer that
    /// sends the next one, and the attempts already sent.
    ///
    /// The first attempt and the timer live inline, and the timer is made once and reset
    /// for each further attempt, so a call answered before the delay allocates nothing here; each extra attempt is boxed when it is sent. Every poll looks
    /// at the attempts in flight *before* the timer, so an answer ready on the tick the timer
    /// fires wins and no hedge is sent. Dropping the future cancels every attempt in flight.
    ///
    /// The request's deadline is the [current one](Deadline::current) when it was called: no
    /// hedge timer is armed that would fire at or after it, no attempt is sent once it has
    /// passed, and a retry-after wait that would end at or after it ends the request (with
    /// the last answer, once nothing is left in flight) instead.
    ///
    /// # Panics
    ///
    /// When polled again after it returned its result.
    pub struct ResponseFuture<S, P, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        first: Option<S::Future>,
        #[pin]
        timer: Option<Sleep>,
        hedging: Hedging<S, P, Req>,
    }
}

/// One attempt's result.
type Attempt<S, Req> = Result<<S as Service<Req>>::Response, <S as Service<Req>>::Error>;

/// Everything but the first attempt and the timer.
struct Hedging<S, P, Req>
where
    S: Service<Req>,
{
    /// The extra attempts in flight, in the order they were sent.
    others: Vec<Other<S::Future>>,
    replay: Option<Req>,
    /// A clone of the inner service for the extra attempts: `None` when there can be none.
    service: Option<S>,
    shared: Arc<Shared<P>>,
    start: Instant,
    /// This request's delay: `None` while the layer is still learning latencies.
    delay: Option<Duration>,
    /// The request's deadline, if the task had one when it was called.
    deadline: Option<Deadline>,
    /// The latency window of this request's key, with per-key delays.
    window: Option<Arc<LatencyWindow>>,
    /// Attempts sent, the first included.
    sent: u32,
    /// Whether the timer is set (it is kept, and reset, once made).
    armed: bool,
    /// Another attempt is due now, and why (`"delay"` or `"failure"`).
    due: Option<&'static str>,
    /// No further attempt will be sent.
    stopped: bool,
    first_in_flight: bool,
    /// The last failure that did not win: what the caller gets if no attempt wins.
    last: Option<Attempt<S, Req>>,
    done: bool,
}

/// An extra attempt in flight.
struct Other<F> {
    /// Its number: 2 for the first hedge.
    attempt: u32,
    /// Whether it was sent on the delay (rather than after a failure).
    on_delay: bool,
    future: Pin<Box<F>>,
}

/// What follows an attempt's answer.
enum Next<T> {
    /// The request ends with this answer.
    Done(T),
    /// Send the next attempt after this wait (zero: now).
    After(Duration),
    /// Wait for the attempts in flight or the timer.
    Wait,
}

impl<S, P, Req> ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    pub(crate) fn new(
        future: S::Future,
        replay: Option<Req>,
        service: Option<S>,
        (start, delay, window): (Instant, Option<Duration>, Option<Arc<LatencyWindow>>),
        shared: Arc<Shared<P>>,
    ) -> Self {
        let can_hedge = service.is_some();
        let deadline = Deadline::current();
        let timer = match delay {
            Some(d) if can_hedge && ends_before(deadline, start + d) => {
                Some(tokio::time::sleep_until(start + d))
            }
            _ => None,
        };
        let armed = timer.is_some();
        Self {
            first: Some(future),
            timer,
            hedging: Hedging {
                others: Vec::new(),
                replay,
                service,
                shared,
                start,
                delay,
                deadline,
                window,
                sent: 1,
                armed,
                due: None,
                stopped: !can_hedge,
                first_in_flight: true,
                last: None,
                done: false,
            },
        }
    }
}

impl<S, P, Req> Future for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
    P: Policy<Req, S::Response, S::Error>,
{
    type Output = Attempt<S, Req>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let h = this.hedging;
        if h.done {
            unreachable!("hedge future polled after completion");
        }
        loop {
            // The attempts in flight first, so that an answer ready on the timer's tick wins.
            let mut next = Next::Wait;
            if let Some(first) = this.first.as_mut().as_pin_mut() {
                if let Poll::Ready(result) = first.poll(cx) {
                    this.first.set(None);
                    h.first_in_flight = false;
                    next = h.answered(1, false, result);
                }
            }
            let mut i = 0;
            while matches!(next, Next::Wait) && i < h.others.len() {
                match h.others[i].future.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        let other = h.others.remove(i);
                        next = h.answered(other.attempt, other.on_delay, result);
                    }
                    Poll::Pending => i += 1,
                }
            }
            match next {
                Next::Done(result) => {
                    this.first.set(None);
                    return Poll::Ready(result);
                }
                Next::After(wait) if wait.is_zero() => {
                    h.armed = false;
                    h.due = Some("failure");
                }
                Next::After(wait) => {
                    arm(this.timer.as_mut(), wait);
                    h.armed = true;
                    h.due = None;
                }
                Next::Wait => {}
            }
            if h.stopped {
                h.armed = false;
                h.due = None;
            }
            if let (true, Some(timer)) = (h.armed, this.timer.as_mut().as_pin_mut()) {
                if timer.poll(cx).is_ready() {
                    h.armed = false;
                    h.due.get_or_insert("delay");
                }
            }
            if let Some(reason) = h.due {
                match h.send(cx, reason) {
                    Poll::Ready(true) => {
                        h.due = None;
                        if let (false, Some(delay)) = (h.stopped, h.delay) {
                            if ends_before(h.deadline, Instant::now() + delay) {
                                arm(this.timer.as_mut(), delay);
                                h.armed = true;
                            }
                        }
                        // Poll the new attempt (and the timer) before returning.
                        continue;
                    }
                    Poll::Ready(false) => {
                        h.due = None;
                        h.armed = false;
                    }
                    Poll::Pending => {}
                }
            }
            if this.first.is_none() && h.others.is_empty() && h.due.is_none() && !h.armed {
                // Nothing in flight and nothing to come: every attempt failed.
                h.done = true;
                h.shared.calls.outcome(Outcome::Failure);
                match h.last.take() {
                    Some(last) => return Poll::Ready(last),
                    None => unreachable!("an attempt ended without an answer"),
                }
            }
            return Poll::Pending;
        }
    }
}

/// Whether a wait ending at `at` ends strictly before `deadline` (always, without one).
fn ends_before(deadline: Option<Deadline>, at: Instant) -> bool {
    deadline.is_none_or(|deadline| at < deadline.instant())
}

/// Sets the timer to fire `wait` from now: resets the one already made, or makes it.
fn arm(mut timer: Pin<&mut Option<Sleep>>, wait: Duration) {
    let deadline = Instant::now() + wait;
    match timer.as_mut().as_pin_mut() {
        Some(sleep) => sleep.reset(deadline),
        None => timer.set(Some(tokio::time::sleep_until(deadline))),
    }
}

impl<S, P, Req> Hedging<S, P, Req>
where
    S: Service<Req>,
    P: Policy<Req, S::Response, S::Error>,
{
    /// Takes attempt `attempt`'s answer (`on_delay`: it was a hedge sent on the delay).
    fn answered(
        &mut self,
        attempt: u32,
        on_delay: bool,
        result: Attempt<S, Req>,
    ) -> Next<Attempt<S, Req>> {
        let shared = &*self.shared;
        match shared.policy.classify(&result) {
            Verdict::Accept => {
                if attempt == 1 {
                    let now = Instant::now();
                    (shared.delay).record(self.window.as_deref(), now, now - self.start, false);
                } else {
                    if on_delay {
                        shared.gate.won();
                    }
                    Counters::add(&shared.counters.won, 1);
                    seawall_core::event!(hedge, DEBUG, &shared.events, "won", attempt);
                }
                shared.calls.outcome(Outcome::Success);
                self.finish();
                Next::Done(result)
            }
            Verdict::Fatal => {
                seawall_core::event!(hedge, DEBUG, &shared.events, "do_not_retry", attempt);
                shared.calls.outcome(Outcome::Failure);
                self.finish();
                Next::Done(result)
            }
            Verdict::Retry { after } => {
                self.last = Some(result);
                match after {
                    _ if self.stopped || self.sent >= shared.max_attempts => Next::Wait,
                    None => Next::After(Duration::ZERO),
                    Some(after)
                        if after <= shared.delay.ceiling()
                            && ends_before(self.deadline, Instant::now() + after) =>
                    {
                        Next::After(after)
                    }
                    Some(_) => {
                        self.stopped = true;
                        Next::Wait
                    }
                }
            }
        }
    }

    /// Ends the request: the attempts still in flight lose and are dropped (the caller drops
    /// the first one); a first attempt that lost counts as a latency of at least its time.
    fn finish(&mut self) {
        self.done = true;
        let shared = &*self.shared;
        if self.first_in_flight {
            self.first_in_flight = false;
            let now = Instant::now();
            (shared.delay).record(self.window.as_deref(), now, now - self.start, true);
        }
        if !self.others.is_empty() {
            Counters::add(&shared.counters.lost, self.others.len() as u64);
            for other in &self.others {
                seawall_core::event!(
                    hedge,
                    DEBUG,
                    &shared.events,
                    "lost",
                    attempt = other.attempt
                );
            }
            self.others.clear();
        }
        self.last = None;
    }

    /// Sends the next attempt if it may go: `Ready(true)` when sent, `Ready(false)` when no
    /// further attempt will be, `Pending` while the service is not ready.
    fn send(&mut self, cx: &mut Context<'_>, reason: &'static str) -> Poll<bool> {
        let shared = &*self.shared;
        let replayable = (self.replay.as_ref()).is_some_and(|r| shared.policy.can_replay(r));
        let expired = self.deadline.is_some_and(|d| d.is_expired());
        if self.stopped || self.sent >= shared.max_attempts || !replayable || expired {
            self.stopped = true;
            return Poll::Ready(false);
        }
        let Some(service) = self.service.as_mut() else {
            self.stopped = true;
            return Poll::Ready(false);
        };
        if reason == "delay" && !shared.gate.open() {
            Counters::add(&shared.counters.not_winning, 1);
            seawall_core::event!(
                hedge,
                DEBUG,
                &shared.events,
                "not_winning",
                attempt = self.sent + 1
            );
            self.stopped = true;
            return Poll::Ready(false);
        }
        if let Err(e) = std::task::ready!(service.poll_ready(cx)) {
            self.last.get_or_insert(Err(e));
            self.stopped = true;
            return Poll::Ready(false);
        }
        if let Some(budget) = &shared.budget {
            if !budget.try_withdraw() {
                Counters::add(&shared.counters.refused, 1);
                seawall_core::event!(
                    hedge,
                    DEBUG,
                    &shared.events,
                    "budget_exhausted",
                    attempt = self.sent + 1
                );
                self.stopped = true;
                return Poll::Ready(false);
            }
        }
        let Some(request) = self.replay.take() else {
            self.stopped = true;
            return Poll::Ready(false);
        };
        self.sent += 1;
        if self.sent < shared.max_attempts {
            self.replay = shared.policy.clone_request(&request);
        } else {
            self.stopped = true;
        }
        Counters::add(&shared.counters.hedges, 1);
        let on_delay = reason == "delay";
        if on_delay {
            shared.gate.sent();
        }
        seawall_core::event!(
            hedge,
            DEBUG,
            &shared.events,
            "hedge",
            attempt = self.sent,
            reason,
            delay_ms = self.delay.map_or(0.0, |d| d.as_secs_f64() * 1e3)
        );
        let future = service.call(request);
        self.others.push(Other {
            attempt: self.sent,
            on_delay,
            future: Box::pin(future),
        });
        Poll::Ready(true)
    }
}

impl<S, P, Req> Drop for Hedging<S, P, Req>
where
    S: Service<Req>,
{
    /// The caller dropped the request: its attempts in flight are cancelled, and a first
    /// attempt that ran past the delay counts as a latency of at least its time.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let in_flight = u64::from(self.first_in_flight) + self.others.len() as u64;
        if in_flight == 0 {
            return;
        }
        let shared = &*self.shared;
        Counters::add(&shared.counters.cancelled, in_flight);
        seawall_core::event!(
            hedge,
            DEBUG,
            &shared.events,
            "cancelled",
            attempts = in_flight
        );
        if self.first_in_flight {
            let now = Instant::now();
            let elapsed = now - self.start;
            if self.delay.is_some_and(|d| elapsed >= d) {
                (shared.delay).record(self.window.as_deref(), now, elapsed, true);
            }
        }
    }
}

impl<S, P, Req> fmt::Debug for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("first_in_flight", &self.hedging.first_in_flight)
            .field("others", &self.hedging.others.len())
            .field("sent", &self.hedging.sent)
            .field("delay", &self.hedging.delay)
            .finish_non_exhaustive()
    }
}
