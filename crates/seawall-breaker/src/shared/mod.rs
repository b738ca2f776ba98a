//! The breaker's state machine, shared by every clone of a service, its futures and its
//! handles.
//!
//! Everything a call needs to be admitted lives in one `AtomicU64`, the [state
//! word](crate::state): the state, an epoch, and in half-open the probe permits taken and
//! the probes that succeeded.
//!
//! A closed breaker admits a call with one load. A half-open one hands out a probe permit
//! with a compare-and-swap on the word, so no race can admit more than `probes` probes.
//! Every call remembers the epoch it was admitted in, and its outcome counts only if the
//! breaker is still in that epoch: a slow call admitted before a trip cannot close a
//! half-open breaker, and a probe from an earlier half-open cannot count for a later one.
//!
//! A probe admitted with a request [deadline](Deadline::current) holds its permit no longer
//! than that deadline: its share of the probe timeout ends at the earlier of the two (see
//! [`Shared::probes_stuck`]). A request whose deadline has passed takes no permit at all.
//!
//! Transitions ([`transition`]) are rare; they take a mutex (never held on the call path),
//! check that the word is still exactly the one they decided on (and, for a stuck
//! half-open, that it is still stuck), write the side data a reader of the new state needs
//! (open deadline, half-open stuck time), then compare-and-swap the new word in place of
//! the old one. Under the mutex only half-open words change (by the lock-free permit,
//! success and release swaps), and any such change makes the transition's swap fail, so the
//! caller decides again on the new word: a permit taken while a transition was being
//! decided is never lost, and a decision made on a stale word never goes through. Any
//! permit a caller took in the old epoch is void from then on.
//!
//! Outcomes ([`outcome`]) are counted against the trip conditions while closed, and move a
//! half-open breaker on.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use seawall_core::deadline::Deadline;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::events::{BreakerEvents, Reason};
use crate::rng;
use crate::snapshot::{Counters, Metrics};
use crate::state::{State, Word, ONE_ADMITTED};
use crate::window::{Outcomes, Totals};

mod outcome;
mod transition;

// What the keyed breaker builds on, under one path.
#[allow(unused_imports)]
pub(crate) use crate::config::Config;
#[allow(unused_imports)]
pub(crate) use crate::future::{Guard, ResponseFuture};
#[allow(unused_imports)]
pub(crate) use crate::handle::BreakerHandle;

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
    /// A probe permit is free, but the task's deadline has passed: no permit taken, nothing
    /// counted.
    Expired,
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
    /// Half-open: from when, in nanoseconds since `origin`, the probes count as stuck (once
    /// no permit is free): the latest of each probe's admission plus the probe timeout
    /// (capped by the probe's deadline) and each probe's finish plus the probe timeout.
    stuck_at: AtomicU64,
    consecutive: AtomicU32,
    /// `Some` when a rate condition is on.
    window: Option<Outcomes>,
    counters: Counters,
    slow: Mutex<Slow>,
    watch: watch::Sender<State>,
    pub(crate) events: BreakerEvents,
}

impl Shared {
    /// One of many small breakers (a keyed breaker's): a time window is one window.
    pub(crate) fn new(config: Config) -> Self {
        Self::build(config, false)
    }

    /// A breaker that a service's clones share, on any number of threads: a time window
    /// is striped per thread (see [`Outcomes`]).
    pub(crate) fn shared_by_threads(config: Config) -> Self {
        Self::build(config, true)
    }

    fn build(config: Config, striped: bool) -> Self {
        let seed = config.seed.unwrap_or_else(rng::random_seed);
        let window = (config.failure_rate.is_some() || config.slow_call.is_some())
            .then(|| Outcomes::new(config.window, striped));
        let events = BreakerEvents::new(config.name.clone(), config.key.clone());
        events.gauge(State::Closed);
        Self {
            origin: Instant::now(),
            word: AtomicU64::new(Word::new(State::Closed, 0).0),
            open_until: AtomicU64::new(0),
            stuck_at: AtomicU64::new(0),
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

    fn word(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
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
    /// to half-open, and a stuck half-open back to open. The task's [current
    /// deadline](Deadline::current) is read only when a probe permit is free.
    #[inline]
    pub(crate) fn admit(&self) -> Admit {
        // The closed path in one load, small enough to inline into every service.
        let word = self.word();
        if word.state() == State::Closed {
            return Admit::Call(Ticket {
                kind: Kind::Closed,
                epoch: word.epoch(),
            });
        }
        self.admit_slow()
    }

    /// `admit` for every state but closed: open, half-open (probe permits, the deadline),
    /// set by hand.
    #[inline(never)]
    fn admit_slow(&self) -> Admit {
        loop {
            let word = self.word();
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
                    self.transition(word, State::HalfOpen, now, Reason::OpenTimeOver, || true);
                    continue;
                }
                State::HalfOpen => {
                    let now = Instant::now();
                    if self.may_probe(word) {
                        let deadline = Deadline::current();
                        if deadline.is_some_and(|d| d.instant() <= now) {
                            return Admit::Expired;
                        }
                        let next = word.0 + ONE_ADMITTED;
                        if self
                            .word
                            .compare_exchange(word.0, next, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                        {
                            let end = now.checked_add(self.config.probe_timeout);
                            let end = match (end, deadline) {
                                (Some(end), Some(d)) => Some(end.min(d.instant())),
                                (None, Some(d)) => Some(d.instant()),
                                (end, None) => end,
                            };
                            self.stuck_from(end.map_or(u64::MAX, |end| self.nanos(end)));
                            Counters::bump(&self.counters.probes);
                            return Admit::Call(Ticket {
                                kind: Kind::Probe,
                                epoch,
                            });
                        }
                        continue;
                    }
                    if self.probes_stuck(now) {
                        let still = || self.probes_stuck(now);
                        self.transition(word, State::Open, now, Reason::ProbeTimeout, still);
                        continue;
                    }
                    return Admit::Reject(None);
                }
            };
            return Admit::Call(Ticket { kind, epoch });
        }
    }

    /// Whether the half-open `word` has a probe permit to give: the first probe goes alone,
    /// and once one has succeeded the rest go together. So a half-open that finds the
    /// dependency still down costs it exactly one call, while one that finds it healed
    /// closes after two round trips.
    fn may_probe(&self, word: Word) -> bool {
        let admitted = word.admitted();
        admitted < self.config.probes && (admitted == 0 || word.succeeded() > 0)
    }

    /// Whether a call admitted with `ticket` was admitted in the current epoch (no
    /// transition since).
    #[inline]
    pub(crate) fn is_current(&self, ticket: Ticket) -> bool {
        self.word().epoch() == ticket.epoch
    }

    /// Whether half-open's probes count as stuck at `now` (which matters only once no
    /// permit is free): no probe has been admitted or has finished for the probe timeout,
    /// and no probe admitted since the last one finished has a deadline still ahead of it.
    /// So a probe whose request has a deadline sooner than the probe timeout holds the
    /// breaker half-open only until that deadline; one finish gives the probes still out the
    /// whole probe timeout again.
    fn probes_stuck(&self, now: Instant) -> bool {
        self.nanos(now) >= self.stuck_at.load(Ordering::Acquire)
    }

    /// Half-open progress: the probes are not stuck before `at` (nanoseconds since `origin`).
    /// Only ever moves later within one half-open, so racing probes cannot shorten each
    /// other's time.
    fn stuck_from(&self, at: u64) {
        self.stuck_at.fetch_max(at, Ordering::AcqRel);
    }

    /// `stuck_from` for a probe that finished at `now`: the probes still out get the whole
    /// probe timeout from now.
    fn progressed(&self, now: Instant) {
        let timeout = u64::try_from(self.config.probe_timeout.as_nanos()).unwrap_or(u64::MAX);
        self.stuck_from(self.nanos(now).saturating_add(timeout));
    }

    /// Counts a rejection (the service calls this when it actually rejects a call).
    #[inline]
    pub(crate) fn rejected(&self) {
        Counters::bump(&self.counters.rejected);
        self.events.calls.rejected();
    }

    /// A probe's future was dropped before it finished: frees its permit for another probe.
    pub(crate) fn release(&self, ticket: Ticket) {
        if ticket.kind != Kind::Probe {
            return;
        }
        loop {
            let word = self.word();
            if word.epoch() != ticket.epoch
                || word.state() != State::HalfOpen
                || word.admitted() == 0
            {
                return;
            }
            let next = word.0 - ONE_ADMITTED;
            if self
                .word
                .compare_exchange(word.0, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
        }
    }

    /// The state the next call would find: an open breaker whose time is up reads as
    /// half-open, a half-open one whose probes are stuck as open.
    pub(crate) fn state(&self) -> State {
        let word = self.word();
        match word.state() {
            State::Open => {
                let until = self.open_until.load(Ordering::Acquire);
                if self.nanos(Instant::now()) >= until {
                    State::HalfOpen
                } else {
                    State::Open
                }
            }
            State::HalfOpen if !self.may_probe(word) && self.probes_stuck(Instant::now()) => {
                State::Open
            }
            s => s,
        }
    }

    /// How long the breaker stays open from now, if it is open.
    pub(crate) fn remaining_open(&self) -> Option<Duration> {
        let word = self.word();
        (word.state() == State::Open).then(|| {
            let until = self.open_until.load(Ordering::Acquire);
            Duration::from_nanos(until.saturating_sub(self.nanos(Instant::now())))
        })
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<State> {
        self.watch.subscribe()
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let Totals {
            calls,
            failures,
            slow,
        } = self
            .window
            .as_ref()
            .map(|w| w.totals(Instant::now()))
            .unwrap_or_default();
        let c = &self.counters;
        let word = self.word();
        let half_open = word.state() == State::HalfOpen;
        Metrics {
            state: self.state(),
            consecutive_failures: self.consecutive.load(Ordering::Relaxed),
            window_calls: calls,
            window_failures: failures,
            window_slow_calls: slow,
            failures: Counters::get(&c.failures),
            slow_calls: Counters::get(&c.slow),
            ignored: Counters::get(&c.ignored),
            rejected: Counters::get(&c.rejected),
            trips: Counters::get(&c.trips),
            probes: Counters::get(&c.probes),
            probe_permits: if half_open { word.admitted() } else { 0 },
            probe_successes: if half_open { word.succeeded() } else { 0 },
        }
    }
}
