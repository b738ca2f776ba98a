//! The breaker's state machine, shared by every clone of a service, its futures and its
//! handles.
//!
//! # The state word
//!
//! Everything a call needs to be admitted lives in one `AtomicU64`:
//!
//! | bits   | field |
//! |--------|-------|
//! | 0..3   | the state ([`State`] as a number) |
//! | 3..32  | the epoch: bumped by every transition |
//! | 32..48 | half-open: probes admitted (permits taken) |
//! | 48..64 | half-open: probes that succeeded |
//!
//! A closed breaker admits a call with one load. A half-open one hands out a probe permit
//! with a compare-and-swap on the word, so no race can admit more than `probes` probes.
//! Every call remembers the epoch it was admitted in, and its outcome counts only if the
//! breaker is still in that epoch: a slow call admitted before a trip cannot close a
//! half-open breaker, and a probe from an earlier half-open cannot count for a later one.
//!
//! Transitions are rare; they take a mutex (never held on the call path), check that the
//! word is still exactly the one they decided on (and, for a stuck half-open, that it is
//! still stuck), write the side data a reader of the new state needs (open deadline,
//! half-open progress time), then compare-and-swap the new word in place of the old one.
//! Under the mutex only half-open words change (by the lock-free permit, success and
//! release swaps), and any such change makes the transition's swap fail, so the caller
//! decides again on the new word: a permit taken while a transition was being decided is
//! never lost, and a decision made on a stale word never goes through. Any permit a caller
//! took in the old epoch is void from then on.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use seawall_core::{Events, Outcome};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Config;
use crate::window::{Outcomes, Totals};

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

    /// The event name of entering this state.
    fn event(self) -> &'static str {
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
const ADMITTED_SHIFT: u32 = 32;
const SUCCEEDED_SHIFT: u32 = 48;
const FIELD_MASK: u64 = 0xFFFF;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Word(u64);

impl Word {
    fn new(state: State, epoch: u32) -> Self {
        Self(state.bits() | ((u64::from(epoch) & EPOCH_MASK) << EPOCH_SHIFT))
    }
    fn state(self) -> State {
        State::from_bits(self.0)
    }
    fn epoch(self) -> u32 {
        ((self.0 >> EPOCH_SHIFT) & EPOCH_MASK) as u32
    }
    fn admitted(self) -> u32 {
        ((self.0 >> ADMITTED_SHIFT) & FIELD_MASK) as u32
    }
    fn succeeded(self) -> u32 {
        ((self.0 >> SUCCEEDED_SHIFT) & FIELD_MASK) as u32
    }
}

/// How a call was admitted, and so what its outcome does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Closed: counted against the trip conditions.
    Closed,
    /// A half-open probe holding a permit.
    Probe,
    /// Metrics-only: counted, never trips.
    MetricsOnly,
    /// Forced closed: counted in the totals only.
    ForcedClosed,
    /// Disabled: not counted at all.
    Disabled,
}

/// A call's admission: its kind and the epoch it was admitted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) kind: Kind,
    epoch: u32,
}

/// The breaker's answer to "may a call go through now?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    Call(Ticket),
    /// Rejected, with the time until the breaker may admit calls again when it knows.
    Reject(Option<Duration>),
}

/// A snapshot of a breaker's state and counters, from
/// [`BreakerHandle::metrics`](crate::BreakerHandle::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// The state the next call would find (see [`BreakerHandle::state`](crate::BreakerHandle::state)).
    pub state: State,
    /// Failures in a row so far (0 when the condition is off).
    pub consecutive_failures: u32,
    /// Calls in the rate window (0 when neither rate condition is on).
    pub window_calls: u64,
    /// Failed calls in the rate window.
    pub window_failures: u64,
    /// Slow calls in the rate window.
    pub window_slow_calls: u64,
    /// Failures counted since the breaker was built (probes included).
    pub failures: u64,
    /// Slow calls counted since the breaker was built.
    pub slow_calls: u64,
    /// Results the classifier ignored.
    pub ignored: u64,
    /// Calls rejected because the breaker was open, half-open without a free probe, or
    /// forced open.
    pub rejected: u64,
    /// Times the breaker opened (trips and failed half-opens; not forced opens).
    pub trips: u64,
    /// Probe calls admitted in half-open.
    pub probes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    failures: AtomicU64,
    slow: AtomicU64,
    ignored: AtomicU64,
    rejected: AtomicU64,
    trips: AtomicU64,
    probes: AtomicU64,
}

/// What only transitions touch, behind the mutex.
#[derive(Debug)]
struct Slow {
    /// Trips since the breaker last closed: the exponent of the open-time growth.
    trips_in_row: u32,
    /// Every trip so far: picks the jitter draw.
    trips_total: u64,
    seed: u64,
}

/// One breaker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    origin: Instant,
    word: AtomicU64,
    /// Open: when the open time ends, in nanoseconds since `origin`.
    open_until: AtomicU64,
    /// Half-open: when a probe was last admitted or finished, in nanoseconds since `origin`.
    progress: AtomicU64,
    consecutive: AtomicU32,
    /// `Some` when a rate condition is on.
    window: Option<Outcomes>,
    counters: Counters,
    slow: Mutex<Slow>,
    watch: watch::Sender<State>,
    pub(crate) events: Events,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        let seed = config.seed.unwrap_or_else(|| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x5eed);
            h.finish()
        });
        let window = (config.failure_rate.is_some() || config.slow_call.is_some())
            .then(|| Outcomes::new(config.window));
        let events = Events::new("breaker").named(config.name.clone());
        Self {
            origin: Instant::now(),
            word: AtomicU64::new(Word::new(State::Closed, 0).0),
            open_until: AtomicU64::new(0),
            progress: AtomicU64::new(0),
            consecutive: AtomicU32::new(0),
            window,
            counters: Counters::default(),
            slow: Mutex::new(Slow {
                trips_in_row: 0,
                trips_total: 0,
                seed,
            }),
            watch: watch::Sender::new(State::Closed),
            events,
            config,
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, Slow> {
        self.slow
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call should note its start time (to tell slow calls).
    #[inline]
    pub(crate) fn times_calls(&self) -> bool {
        self.config.slow_call.is_some()
    }

    /// Decides whether a call may go through now. Moves an open breaker whose time is up
    /// to half-open, and a stuck half-open back to open.
    #[inline]
    pub(crate) fn admit(&self) -> Admit {
        loop {
            let word = Word(self.word.load(Ordering::Acquire));
            let epoch = word.epoch();
            let kind = match word.state() {
                State::Closed => Kind::Closed,
                State::Disabled => Kind::Disabled,
                State::ForcedClosed => Kind::ForcedClosed,
                State::MetricsOnly => Kind::MetricsOnly,
                State::ForcedOpen => return Admit::Reject(None),
                State::Open => {
                    let now = Instant::now();
                    let until = self.open_until.load(Ordering::Acquire);
                    let at = self.nanos(now);
                    if at < until {
                        return Admit::Reject(Some(Duration::from_nanos(until - at)));
                    }
                    self.transition(word, State::HalfOpen, now, || true);
                    continue;
                }
                State::HalfOpen => {
                    let now = Instant::now();
                    if word.admitted() < self.config.probes {
                        let next = word.0 + (1 << ADMITTED_SHIFT);
                        if self
                            .word
                            .compare_exchange(word.0, next, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                        {
                            self.progress.store(self.nanos(now), Ordering::Release);
                            self.counters.probes.fetch_add(1, Ordering::Relaxed);
                            return Admit::Call(Ticket {
                                kind: Kind::Probe,
                                epoch,
                            });
                        }
                        continue;
                    }
                    if self.probes_stuck(now) {
                        if self.transition(word, State::Open, now, || self.probes_stuck(now)) {
                            self.events.emit(tracing::Level::WARN, "probe_timeout");
                        }
                        continue;
                    }
                    return Admit::Reject(None);
                }
            };
            return Admit::Call(Ticket { kind, epoch });
        }
    }

    /// Whether a call admitted with `ticket` was admitted in the current epoch (no
    /// transition since).
    pub(crate) fn is_current(&self, ticket: Ticket) -> bool {
        Word(self.word.load(Ordering::Acquire)).epoch() == ticket.epoch
    }

    fn probes_stuck(&self, now: Instant) -> bool {
        let since = self.progress.load(Ordering::Acquire);
        let timeout = u64::try_from(self.config.probe_timeout.as_nanos()).unwrap_or(u64::MAX);
        self.nanos(now) >= since.saturating_add(timeout)
    }

    /// Counts a rejection (the service calls this when it actually rejects a call).
    #[inline]
    pub(crate) fn rejected(&self) {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the outcome of a call admitted with `ticket`; `start` is when it started, if
    /// the breaker times calls.
    #[inline]
    pub(crate) fn complete(&self, ticket: Ticket, outcome: Outcome, start: Option<Instant>) {
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
                let word = Word(self.word.load(Ordering::Acquire));
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
            Outcome::Failure => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Ignored => {
                self.counters.ignored.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Success => {}
        }
        if slow && outcome != Outcome::Ignored {
            self.counters.slow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// After a failure or a slow call: trips if a condition is met.
    fn evaluate(&self, word: Word, consecutive: u32) {
        let now = Instant::now();
        let mut trip = self
            .config
            .consecutive_failures
            .is_some_and(|limit| consecutive >= limit);
        if let (false, Some(window)) = (trip, &self.window) {
            let t = window.totals(now);
            if t.calls >= u64::from(self.config.min_calls) {
                let share = |n: u64| n as f64 / t.calls as f64;
                trip = self
                    .config
                    .failure_rate
                    .is_some_and(|r| share(t.failures) >= r)
                    || self
                        .config
                        .slow_call
                        .is_some_and(|(_, r)| share(t.slow) >= r);
            }
        }
        if !trip {
            return;
        }
        // `word` is closed or metrics-only, which only a transition changes: if this one
        // fails, another transition got there first and there is nothing left to do.
        match word.state() {
            State::MetricsOnly => {
                // Start counting afresh, so the event marks each time the conditions are
                // met rather than every failure after.
                if self.transition(word, State::MetricsOnly, now, || true) {
                    self.events.emit(tracing::Level::INFO, "would_trip");
                }
            }
            _ => {
                self.transition(word, State::Open, now, || true);
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
            let word = Word(self.word.load(Ordering::Acquire));
            if word.epoch() != ticket.epoch || word.state() != State::HalfOpen {
                return;
            }
            let now = Instant::now();
            // A transition fails only when the word changed under it (another probe took
            // or gave back a permit, or succeeded): decide again on the new word.
            let next = match outcome {
                Outcome::Failure => {
                    if self.transition(word, State::Open, now, || true) {
                        return;
                    }
                    continue;
                }
                Outcome::Success if counted => {
                    if word.succeeded() < self.config.probes
                        || self.transition(word, State::Closed, now, || true)
                    {
                        return;
                    }
                    continue;
                }
                Outcome::Ignored => word.0 - (1 << ADMITTED_SHIFT),
                Outcome::Success => word.0 + (1 << SUCCEEDED_SHIFT),
            };
            if self
                .word
                .compare_exchange(word.0, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.progress.store(self.nanos(now), Ordering::Release);
                if outcome == Outcome::Ignored {
                    return;
                }
                counted = true;
            }
        }
    }

    /// A probe's future was dropped before it finished: frees its permit for another probe.
    pub(crate) fn release(&self, ticket: Ticket) {
        if ticket.kind != Kind::Probe {
            return;
        }
        loop {
            let word = Word(self.word.load(Ordering::Acquire));
            if word.epoch() != ticket.epoch
                || word.state() != State::HalfOpen
                || word.admitted() == 0
            {
                return;
            }
            let next = word.0 - (1 << ADMITTED_SHIFT);
            if self
                .word
                .compare_exchange(word.0, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Moves the breaker from exactly the word `from` to `to`, if the word has not changed
    /// since the caller decided on it and `still` (checked under the lock) holds. Returns
    /// whether this call made the move; when it did not, the caller decides again.
    fn transition(
        &self,
        from: Word,
        to: State,
        now: Instant,
        still: impl FnOnce() -> bool,
    ) -> bool {
        let mut slow = self.lock();
        if self.word.load(Ordering::Acquire) != from.0 || !still() {
            return false;
        }
        self.enter(&mut slow, from, to, now)
    }

    /// Sets the state by hand, whatever it is: counting starts afresh.
    pub(crate) fn set(&self, to: State) {
        let now = Instant::now();
        let mut slow = self.lock();
        slow.trips_in_row = 0;
        // Only a half-open word changes under the lock, when a probe takes, gives back or
        // completes a permit; the swap fails only if one of those lands in between.
        while !self.enter(&mut slow, Word(self.word.load(Ordering::Acquire)), to, now) {}
    }

    /// Swaps the word `from` for `to` in the next epoch; returns false (having changed
    /// nothing a reader of the current state looks at) if the word is no longer `from`.
    fn enter(&self, slow: &mut Slow, from: Word, to: State, now: Instant) -> bool {
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
            State::HalfOpen => self.progress.store(at, Ordering::Release),
            _ => {
                self.consecutive.store(0, Ordering::Relaxed);
                if let Some(window) = &self.window {
                    window.clear();
                }
            }
        }
        let next = Word::new(to, from.epoch().wrapping_add(1));
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
                self.counters.trips.fetch_add(1, Ordering::Relaxed);
                self.events.duration("open", open_for);
            }
            State::Closed => slow.trips_in_row = 0,
            _ => {}
        }
        if to != from.state() {
            let level = if to == State::Open {
                tracing::Level::WARN
            } else {
                tracing::Level::INFO
            };
            self.events.emit(level, to.event());
            self.watch.send_replace(to);
        }
        true
    }

    /// The state the next call would find: an open breaker whose time is up reads as
    /// half-open, a half-open one whose probes are stuck as open.
    pub(crate) fn state(&self) -> State {
        let word = Word(self.word.load(Ordering::Acquire));
        match word.state() {
            State::Open => {
                let until = self.open_until.load(Ordering::Acquire);
                if self.nanos(Instant::now()) >= until {
                    State::HalfOpen
                } else {
                    State::Open
                }
            }
            State::HalfOpen
                if word.admitted() >= self.config.probes && self.probes_stuck(Instant::now()) =>
            {
                State::Open
            }
            s => s,
        }
    }

    /// How long the breaker stays open from now, if it is open.
    pub(crate) fn remaining_open(&self) -> Option<Duration> {
        let word = Word(self.word.load(Ordering::Acquire));
        (word.state() == State::Open).then(|| {
            let until = self.open_until.load(Ordering::Acquire);
            Duration::from_nanos(until.saturating_sub(self.nanos(Instant::now())))
        })
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<State> {
        self.watch.subscribe()
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let totals = self
            .window
            .as_ref()
            .map(|w| w.totals(Instant::now()))
            .unwrap_or_default();
        let Totals {
            calls,
            failures,
            slow,
        } = totals;
        let c = &self.counters;
        Metrics {
            state: self.state(),
            consecutive_failures: self.consecutive.load(Ordering::Relaxed),
            window_calls: calls,
            window_failures: failures,
            window_slow_calls: slow,
            failures: c.failures.load(Ordering::Relaxed),
            slow_calls: c.slow.load(Ordering::Relaxed),
            ignored: c.ignored.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            trips: c.trips.load(Ordering::Relaxed),
            probes: c.probes.load(Ordering::Relaxed),
        }
    }
}

/// How long the breaker stays open after `trips_in_row` earlier trips without closing:
/// `open_duration * multiplier^trips_in_row`, capped, then shortened by the jitter draw
/// number `draw` of the stream `seed`.
///
/// Never panics: a product too large for a `Duration` is the cap.
pub(crate) fn open_duration(config: &Config, trips_in_row: u32, seed: u64, draw: u64) -> Duration {
    let factor = config
        .open_multiplier
        .powi(trips_in_row.min(1_000) as i32)
        .min(1e9);
    let grown = Duration::try_from_secs_f64(config.open_duration.as_secs_f64() * factor)
        .unwrap_or(config.max_open_duration)
        .min(config.max_open_duration);
    if config.jitter == 0.0 {
        return grown;
    }
    let unit = (splitmix64(seed ^ draw.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 11) as f64
        / (1u64 << 53) as f64;
    // The factor is at most 1, but a huge `grown` may round up past `Duration::MAX` as an
    // f64: keep `grown` then.
    Duration::try_from_secs_f64(grown.as_secs_f64() * (1.0 - config.jitter * unit))
        .map_or(grown, |d| d.min(grown))
}

/// One step of SplitMix64: a good 64-bit mix for turning a counter into a random draw.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_time_grows_is_capped_and_jitter_only_shortens_it_repeatably() {
        let config = Config {
            open_duration: Duration::from_secs(5),
            open_multiplier: 2.0,
            max_open_duration: Duration::from_secs(60),
            jitter: 0.0,
            ..Config::default()
        };
        let secs: Vec<u64> = (0..6)
            .map(|k| open_duration(&config, k, 0, 0).as_secs())
            .collect();
        assert_eq!(secs, [5, 10, 20, 40, 60, 60]);

        let jittered = Config {
            jitter: 0.5,
            ..config
        };
        let draws: Vec<Duration> = (0..100)
            .map(|d| open_duration(&jittered, 0, 42, d))
            .collect();
        assert!(draws
            .iter()
            .all(|d| *d > Duration::from_millis(2500) && *d <= Duration::from_secs(5)));
        let again: Vec<Duration> = (0..100)
            .map(|d| open_duration(&jittered, 0, 42, d))
            .collect();
        assert_eq!(draws, again, "the same seed gives the same open times");
        let other: Vec<Duration> = (0..100)
            .map(|d| open_duration(&jittered, 0, 43, d))
            .collect();
        assert_ne!(draws, other);
        let spread = draws
            .iter()
            .max()
            .unwrap()
            .saturating_sub(*draws.iter().min().unwrap());
        assert!(
            spread > Duration::from_secs(2),
            "draws cover the jitter range: {spread:?}"
        );
    }

    fn admitted(shared: &Shared) -> Ticket {
        match shared.admit() {
            Admit::Call(ticket) => ticket,
            Admit::Reject(after) => panic!("rejected ({after:?})"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_transition_decided_on_a_stale_word_does_not_go_through() {
        let shared = Shared::new(Config {
            consecutive_failures: Some(1),
            failure_rate: None,
            probes: 2,
            jitter: 0.0,
            ..Config::default()
        });
        let first = admitted(&shared);
        shared.complete(first, Outcome::Failure, None);
        assert_eq!(shared.state(), State::Open);
        tokio::time::advance(Duration::from_secs(5)).await;

        let p1 = admitted(&shared);
        assert_eq!(p1.kind, Kind::Probe);
        let stale = Word(shared.word.load(Ordering::Acquire));
        // A second probe takes its permit after a decision was made on `stale`...
        let p2 = admitted(&shared);
        // ...so the decision, made on a word that no longer is, must not go through: it
        // would lose the permit (and the call holding it would reach the inner service
        // after a transition that did not know about it).
        assert!(!shared.transition(stale, State::Open, Instant::now(), || true));
        assert_eq!(shared.state(), State::HalfOpen);
        assert_eq!(shared.metrics().trips, 1);
        // Both permits are still counted: two successes close the breaker.
        shared.complete(p1, Outcome::Success, None);
        assert_eq!(shared.state(), State::HalfOpen);
        shared.complete(p2, Outcome::Success, None);
        assert_eq!(shared.state(), State::Closed);
    }

    #[test]
    fn open_times_from_extreme_settings_are_capped_not_a_panic() {
        let huge = Config {
            open_duration: Duration::MAX,
            max_open_duration: Duration::MAX,
            open_multiplier: 100.0,
            jitter: 1.0,
            ..Config::default()
        };
        for trips in [0, 1, 5, 1_000, u32::MAX] {
            for draw in 0..50 {
                assert!(open_duration(&huge, trips, 7, draw) <= Duration::MAX);
            }
        }
        let no_jitter = Config {
            jitter: 0.0,
            ..huge
        };
        assert_eq!(open_duration(&no_jitter, 3, 0, 0), Duration::MAX);
        let capped = Config {
            open_duration: Duration::from_secs(u64::MAX / 4),
            max_open_duration: Duration::from_secs(u64::MAX / 2),
            ..no_jitter
        };
        assert_eq!(
            open_duration(&capped, 2, 0, 0),
            Duration::from_secs(u64::MAX / 2)
        );
    }

    #[test]
    fn the_word_packs_and_unpacks() {
        let w = Word::new(State::HalfOpen, EPOCH_MASK as u32);
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.epoch(), EPOCH_MASK as u32);
        let w = Word(w.0 + (3 << ADMITTED_SHIFT) + (2 << SUCCEEDED_SHIFT));
        assert_eq!((w.admitted(), w.succeeded()), (3, 2));
        let wrapped = Word::new(State::Open, (EPOCH_MASK as u32).wrapping_add(1));
        assert_eq!((wrapped.state(), wrapped.epoch()), (State::Open, 0));
    }
}
