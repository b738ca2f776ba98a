//! The breaker's public [`State`], and the one atomic word that holds it with everything a
//! call needs to be admitted.
//!
//! # The state word
//!
//! | bits   | field |
//! |--------|-------|
//! | 0..3   | the state ([`State`] as a number) |
//! | 3..32  | the epoch: bumped by every transition |
//! | 32..48 | half-open: probes admitted (permits taken) |
//! | 48..64 | half-open: probes that succeeded |
//!
//! The probe fields are 16 bits wide; the builder allows at most 1,000 probes.

/// What state a breaker is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls go through; outcomes are counted against the trip conditions.
    Closed,
    /// Calls are rejected at once until the open time is over.
    Open,
    /// A few probe calls go through to find out whether the dependency has healed.
    HalfOpen,
    /// Forced open by hand: every call is rejected until [`reset`](crate::BreakerHandle::reset).
    ForcedOpen,
    /// Forced closed by hand: every call goes through; outcomes are counted but never trip.
    ForcedClosed,
    /// Switched off by hand: every call goes through and nothing is counted.
    Disabled,
    /// Every call goes through; outcomes are counted and a trip condition that is met emits
    /// a `would_trip` event instead of opening the breaker. For trying settings out in
    /// production.
    MetricsOnly,
}

impl State {
    const ALL: [State; 7] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::ForcedClosed,
        State::Disabled,
        State::MetricsOnly,
    ];

    fn bits(self) -> u64 {
        self as u64
    }

    fn from_bits(bits: u64) -> Self {
        Self::ALL[(bits & 0b111) as usize % Self::ALL.len()]
    }

    /// The state's name in events: also the name of the event of entering it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::ForcedClosed => "forced_closed",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }
}

const EPOCH_SHIFT: u32 = 3;
const EPOCH_MASK: u64 = (1 << 29) - 1;
const FIELD_MASK: u64 = 0xFFFF;
/// One probe permit taken, added to a word.
pub(crate) const ONE_ADMITTED: u64 = 1 << 32;
/// One probe success, added to a word.
pub(crate) const ONE_SUCCEEDED: u64 = 1 << 48;

/// The packed state word (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    /// A word in `state` at `epoch`, with no probe counted.
    pub(crate) fn new(state: State, epoch: u32) -> Self {
        Self(state.bits() | ((u64::from(epoch) & EPOCH_MASK) << EPOCH_SHIFT))
    }
    pub(crate) fn state(self) -> State {
        State::from_bits(self.0)
    }
    /// The epoch, 29 bits: a call's outcome counts only in the epoch it was admitted in.
    pub(crate) fn epoch(self) -> u32 {
        ((self.0 >> EPOCH_SHIFT) & EPOCH_MASK) as u32
    }
    /// Half-open: the probe permits taken.
    pub(crate) fn admitted(self) -> u32 {
        ((self.0 / ONE_ADMITTED) & FIELD_MASK) as u32
    }
    /// Half-open: the probes that succeeded.
    pub(crate) fn succeeded(self) -> u32 {
        ((self.0 / ONE_SUCCEEDED) & FIELD_MASK) as u32
    }
    /// The same word in the next epoch, in state `to`, with no probe counted.
    pub(crate) fn next(self, to: State) -> Self {
        Self::new(to, self.epoch().wrapping_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_packs_and_unpacks() {
        let w = Word::new(State::HalfOpen, EPOCH_MASK as u32);
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.epoch(), EPOCH_MASK as u32);
        let w = Word(w.0 + 3 * ONE_ADMITTED + 2 * ONE_SUCCEEDED);
        assert_eq!((w.admitted(), w.succeeded()), (3, 2));
        assert_eq!(w.state(), State::HalfOpen);
        let wrapped = w.next(State::Open);
        assert_eq!((wrapped.state(), wrapped.epoch()), (State::Open, 0));
        assert_eq!((wrapped.admitted(), wrapped.succeeded()), (0, 0));
        for state in State::ALL {
            assert_eq!(Word::new(state, 7).state(), state);
        }
    }
}
