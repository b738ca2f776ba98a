//! Moving the breaker from one state to another: under the mutex, from exactly the word the
//! caller decided on (see the [parent module](super)).

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{Shared, Slow};
use crate::events::Reason;
use crate::schedule::open_duration;
use crate::snapshot::Counters;
use crate::state::{State, Word};

impl Shared {
    /// Moves the breaker from exactly the word `from` to `to`, if the word has not changed
    /// since the caller decided on it and `still` (checked under the lock) holds. Returns
    /// whether this call made the move; when it did not, the caller decides again.
    pub(super) fn transition(
        &self,
        from: Word,
        to: State,
        now: Instant,
        reason: Reason,
        still: impl FnOnce() -> bool,
    ) -> bool {
        let mut slow = self.lock();
        if self.word.load(Ordering::Acquire) != from.0 || !still() {
            return false;
        }
        self.enter(&mut slow, from, to, now, reason)
    }

    /// Sets the state by hand, whatever it is: counting starts afresh.
    pub(crate) fn set(&self, to: State) {
        let now = Instant::now();
        let mut slow = self.lock();
        slow.trips_in_row = 0;
        // Only a half-open word changes under the lock, when a probe takes, gives back or
        // completes a permit; the swap fails only if one of those lands in between.
        while !self.enter(&mut slow, self.word(), to, now, Reason::Manual) {}
    }

    /// Swaps the word `from` for `to` in the next epoch; returns false (having changed
    /// nothing a reader of the current state looks at) if the word is no longer `from`.
    fn enter(&self, slow: &mut Slow, from: Word, to: State, now: Instant, reason: Reason) -> bool {
        let at = self.nanos(now);
        // What readers of the new state need is written before the word changes. None of it
        // is read in the state `from` can be in if the swap below fails (a half-open word:
        // the only kind that changes under the lock), so a failed swap leaves no trace.
        let mut open_for = Duration::ZERO;
        match to {
            State::Open => {
                open_for =
                    open_duration(&self.config, slow.trips_in_row, slow.seed, slow.trips_total);
                let until =
                    at.saturating_add(u64::try_from(open_for.as_nanos()).unwrap_or(u64::MAX));
                self.open_until.store(until, Ordering::Release);
            }
            // No probe is out yet, so any permit is free and this is never read before the
            // first probe moves it (`stuck_from` only moves it later).
            State::HalfOpen => self.stuck_at.store(at, Ordering::Release),
            _ => {
                self.consecutive.store(0, Ordering::Relaxed);
                if let Some(window) = &self.window {
                    window.clear();
                }
            }
        }
        let next = from.next(to);
        if self
            .word
            .compare_exchange(from.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        match to {
            State::Open => {
                slow.trips_in_row = slow.trips_in_row.saturating_add(1);
                slow.trips_total = slow.trips_total.wrapping_add(1);
                Counters::bump(&self.counters.trips);
                self.events.open_for(open_for);
            }
            State::Closed => slow.trips_in_row = 0,
            _ => {}
        }
        if to != from.state() {
            self.events.entered(to, reason);
            self.watch.send_replace(to);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use seawall_core::Outcome;

    use super::*;
    use crate::config::Config;
    use crate::shared::{Admit, Kind, Ticket};

    fn admitted(shared: &Shared) -> Ticket {
        match shared.admit() {
            Admit::Call(ticket) => ticket,
            refused => panic!("refused: {refused:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_transition_decided_on_a_stale_word_does_not_go_through() {
        let shared = Shared::new(Config {
            consecutive_failures: Some(1),
            failure_rate: None,
            probes: 3,
            jitter: 0.0,
            ..Config::default()
        });
        let first = admitted(&shared);
        shared.complete(first, Outcome::Failure, None);
        assert_eq!(shared.state(), State::Open);
        tokio::time::advance(shared.remaining_open().unwrap_or_default()).await;

        // The first probe goes alone and succeeds; the other two may then go together.
        let p1 = admitted(&shared);
        assert_eq!(p1.kind, Kind::Probe);
        shared.complete(p1, Outcome::Success, None);
        let stale = shared.word();
        // A second probe takes its permit after a decision was made on `stale`...
        let p2 = admitted(&shared);
        // ...so the decision, made on a word that no longer is, must not go through: it
        // would lose the permit (and the call holding it would reach the inner service
        // after a transition that did not know about it).
        let now = Instant::now();
        assert!(!shared.transition(stale, State::Open, now, Reason::Manual, || true));
        assert_eq!(shared.state(), State::HalfOpen);
        assert_eq!(shared.metrics().trips, 1);
        // Every permit is still counted: two more successes close the breaker.
        let p3 = admitted(&shared);
        assert_eq!(
            (
                shared.metrics().probe_permits,
                shared.metrics().probe_successes
            ),
            (3, 1)
        );
        shared.complete(p2, Outcome::Success, None);
        assert_eq!(shared.state(), State::HalfOpen);
        shared.complete(p3, Outcome::Success, None);
        assert_eq!(shared.state(), State::Closed);
    }
}
