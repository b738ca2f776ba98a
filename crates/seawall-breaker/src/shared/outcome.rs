//! What a finished call's outcome does: counted against the trip conditions while closed
//! (or metrics-only), and moves a half-open breaker to closed or back to open.

use std::sync::atomic::Ordering;

use seawall_core::Outcome;
use tokio::time::Instant;

use super::{Kind, Shared, Ticket};
use crate::events::Reason;
use crate::snapshot::Counters;
use crate::state::{State, Word, ONE_ADMITTED, ONE_SUCCEEDED};

impl Shared {
    /// Records the outcome of a call admitted with `ticket`; `start` is when it started, if
    /// the breaker times calls.
    #[inline]
    pub(crate) fn complete(&self, ticket: Ticket, outcome: Outcome, start: Option<Instant>) {
        self.events.calls.outcome(outcome);
        // One clock reading serves both the slow-call check and a time window.
        let now = start.map(|_| Instant::now());
        let slow = match (start, now, self.config.slow_call) {
            (Some(start), Some(now), Some((limit, _))) => {
                now.saturating_duration_since(start) >= limit
            }
            _ => false,
        };
        match ticket.kind {
            Kind::Disabled => {}
            Kind::ForcedClosed => self.count(outcome, slow),
            Kind::Closed | Kind::MetricsOnly => {
                let word = self.word();
                if word.epoch() != ticket.epoch {
                    return;
                }
                self.count(outcome, slow);
                let consecutive = match outcome {
                    Outcome::Ignored => return,
                    Outcome::Success => {
                        if self.config.consecutive_failures.is_some()
                            && self.consecutive.load(Ordering::Relaxed) != 0
                        {
                            self.consecutive.store(0, Ordering::Relaxed);
                        }
                        0
                    }
                    Outcome::Failure => match self.config.consecutive_failures {
                        Some(_) => self.consecutive.fetch_add(1, Ordering::Relaxed) + 1,
                        None => 0,
                    },
                };
                let failed = outcome == Outcome::Failure;
                if let Some(window) = &self.window {
                    window.record(failed, slow, || now.unwrap_or_else(Instant::now));
                }
                if failed || slow {
                    self.evaluate(word, consecutive);
                }
            }
            Kind::Probe => self.complete_probe(ticket, outcome, slow),
        }
    }

    fn count(&self, outcome: Outcome, slow: bool) {
        match outcome {
            Outcome::Failure => Counters::bump(&self.counters.failures),
            Outcome::Ignored => Counters::bump(&self.counters.ignored),
            Outcome::Success => {}
        }
        if slow && outcome != Outcome::Ignored {
            Counters::bump(&self.counters.slow);
        }
    }

    /// The trip condition that is met, if one is.
    fn tripped(&self, consecutive: u32, now: Instant) -> Option<Reason> {
        if self
            .config
            .consecutive_failures
            .is_some_and(|limit| consecutive >= limit)
        {
            return Some(Reason::ConsecutiveFailures);
        }
        let t = self.window.as_ref()?.totals(now);
        if t.calls < u64::from(self.config.min_calls) {
            return None;
        }
        let share = |n: u64| n as f64 / t.calls as f64;
        if self
            .config
            .failure_rate
            .is_some_and(|r| share(t.failures) >= r)
        {
            Some(Reason::FailureRate)
        } else if self
            .config
            .slow_call
            .is_some_and(|(_, r)| share(t.slow) >= r)
        {
            Some(Reason::SlowCalls)
        } else {
            None
        }
    }

    /// After a failure or a slow call: trips if a condition is met.
    fn evaluate(&self, word: Word, consecutive: u32) {
        let now = Instant::now();
        let Some(reason) = self.tripped(consecutive, now) else {
            return;
        };
        // `word` is closed or metrics-only, which only a transition changes: if this one
        // fails, another transition got there first and there is nothing left to do.
        match word.state() {
            State::MetricsOnly => {
                // Start counting afresh, so the event marks each time the conditions are
                // met rather than every failure after.
                if self.transition(word, State::MetricsOnly, now, reason, || true) {
                    self.events.would_trip(reason);
                }
            }
            _ => {
                self.transition(word, State::Open, now, reason, || true);
            }
        }
    }

    fn complete_probe(&self, ticket: Ticket, outcome: Outcome, slow: bool) {
        let outcome = if slow && outcome == Outcome::Success {
            Outcome::Failure
        } else {
            outcome
        };
        self.count(outcome, slow);
        // Whether this probe's success is already in the word (and what is left is to close
        // the breaker if it was the last one needed).
        let mut counted = false;
        loop {
            let word = self.word();
            if word.epoch() != ticket.epoch || word.state() != State::HalfOpen {
                return;
            }
            let now = Instant::now();
            // A transition fails only when the word changed under it (another probe took
            // or gave back a permit, or succeeded): decide again on the new word.
            let next = match outcome {
                Outcome::Failure => {
                    if self.transition(word, State::Open, now, Reason::ProbeFailed, || true) {
                        return;
                    }
                    continue;
                }
                Outcome::Success if counted => {
                    if word.succeeded() < self.config.probes
                        || self.transition(
                            word,
                            State::Closed,
                            now,
                            Reason::ProbesSucceeded,
                            || true,
                        )
                    {
                        return;
                    }
                    continue;
                }
                Outcome::Ignored => word.0 - ONE_ADMITTED,
                Outcome::Success => word.0 + ONE_SUCCEEDED,
            };
            if self
                .word
                .compare_exchange(word.0, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.progressed(now);
                if outcome == Outcome::Ignored {
                    return;
                }
                counted = true;
            }
        }
    }
}
