//! The reference model: the breaker's rules written as plainly as possible, sequentially.

use std::collections::VecDeque;
use std::time::Duration;

use seawall_breaker::{BreakerHandle, State};
use seawall_core::Outcome;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug)]
pub(crate) enum WindowCfg {
    Count(u32),
    Time { length_ms: u64, buckets: usize },
}

#[derive(Clone, Debug)]
pub(crate) struct Cfg {
    pub(crate) consecutive: Option<u32>,
    pub(crate) rate: Option<f64>,
    pub(crate) slow: Option<(Duration, f64)>,
    pub(crate) window: WindowCfg,
    pub(crate) min_calls: u32,
    pub(crate) open: Duration,
    pub(crate) multiplier: f64,
    pub(crate) max_open: Duration,
    pub(crate) probes: u32,
    pub(crate) probe_timeout: Duration,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Manual {
    ForceOpen,
    ForceClosed,
    Disable,
    MetricsOnly,
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Closed,
    Probe,
    MetricsOnly,
    ForcedClosed,
    Disabled,
}

/// The reference: the breaker's rules written as plainly as possible, sequentially.
pub(crate) struct Model {
    cfg: Cfg,
    origin: Instant,
    state: State,
    epoch: u64,
    open_until: Instant,
    progress: Instant,
    admitted: u32,
    succeeded: u32,
    consecutive: u32,
    /// (failed, slow) of the last calls, newest last.
    count: VecDeque<(bool, bool)>,
    /// (bucket, failed, slow) for a time window.
    timed: Vec<(u64, bool, bool)>,
    trips_in_row: u32,
    counters: Counters,
}

/// The counters of `Metrics` that do not depend on the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) trips: u64,
    pub(crate) rejected: u64,
    pub(crate) probes: u64,
    /// The current half-open's permits taken and probes succeeded.
    pub(crate) probe_permits: u32,
    pub(crate) probe_successes: u32,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
    pub(crate) ignored: u64,
}

impl Counters {
    pub(crate) fn of(handle: &BreakerHandle) -> Self {
        let m = handle.metrics();
        Self {
            trips: m.trips,
            rejected: m.rejected,
            probes: m.probes,
            probe_permits: m.probe_permits,
            probe_successes: m.probe_successes,
            failures: m.failures,
            slow: m.slow_calls,
            ignored: m.ignored,
        }
    }
}

impl Model {
    pub(crate) fn new(cfg: Cfg, origin: Instant) -> Self {
        Self {
            cfg,
            origin,
            state: State::Closed,
            epoch: 0,
            open_until: origin,
            progress: origin,
            admitted: 0,
            succeeded: 0,
            consecutive: 0,
            count: VecDeque::new(),
            timed: Vec::new(),
            trips_in_row: 0,
            counters: Counters::default(),
        }
    }

    pub(crate) fn windowed(&self) -> bool {
        self.cfg.rate.is_some() || self.cfg.slow.is_some()
    }

    pub(crate) fn enter(&mut self, to: State, now: Instant) {
        match to {
            State::Open => {
                let grown = self
                    .cfg
                    .open
                    .mul_f64(self.cfg.multiplier.powi(self.trips_in_row as i32).min(1e9))
                    .min(self.cfg.max_open);
                self.open_until = now + grown;
                self.trips_in_row += 1;
                self.counters.trips += 1;
            }
            State::HalfOpen => self.progress = now,
            _ => {
                if to == State::Closed {
                    self.trips_in_row = 0;
                }
                self.consecutive = 0;
                self.count.clear();
                self.timed.clear();
            }
        }
        self.admitted = 0;
        self.succeeded = 0;
        self.epoch += 1;
        self.state = to;
    }

    pub(crate) fn manual(&mut self, m: Manual, now: Instant) {
        self.trips_in_row = 0;
        let to = match m {
            Manual::ForceOpen => State::ForcedOpen,
            Manual::ForceClosed => State::ForcedClosed,
            Manual::Disable => State::Disabled,
            Manual::MetricsOnly => State::MetricsOnly,
            Manual::Reset => State::Closed,
        };
        self.enter(to, now);
    }

    pub(crate) fn stuck(&self, now: Instant) -> bool {
        now >= self.progress + self.cfg.probe_timeout
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Result<(Kind, u64), Option<Duration>> {
        let decision = self.decide(now);
        match decision {
            Ok((Kind::Probe, _)) => self.counters.probes += 1,
            Err(_) => self.counters.rejected += 1,
            Ok(_) => {}
        }
        decision
    }

    pub(crate) fn decide(&mut self, now: Instant) -> Result<(Kind, u64), Option<Duration>> {
        loop {
            let kind = match self.state {
                State::Closed => Kind::Closed,
                State::Disabled => Kind::Disabled,
                State::ForcedClosed => Kind::ForcedClosed,
                State::MetricsOnly => Kind::MetricsOnly,
                State::ForcedOpen => return Err(None),
                State::Open => {
                    if now < self.open_until {
                        return Err(Some(self.open_until - now));
                    }
                    self.enter(State::HalfOpen, now);
                    continue;
                }
                State::HalfOpen => {
                    if self.may_probe() {
                        self.admitted += 1;
                        self.progress = now;
                        Kind::Probe
                    } else if self.stuck(now) {
                        self.enter(State::Open, now);
                        continue;
                    } else {
                        return Err(None);
                    }
                }
            };
            return Ok((kind, self.epoch));
        }
    }

    pub(crate) fn bucket(&self, now: Instant) -> u64 {
        match self.cfg.window {
            WindowCfg::Time { length_ms, buckets } => {
                let bucket_nanos = u128::from(length_ms) * 1_000_000 / buckets as u128;
                ((now - self.origin).as_nanos() / bucket_nanos) as u64
            }
            WindowCfg::Count(_) => 0,
        }
    }

    pub(crate) fn totals(&self, now: Instant) -> (u64, u64, u64) {
        let sum = |it: &mut dyn Iterator<Item = (bool, bool)>| {
            it.fold((0, 0, 0), |(c, f, s), (fail, slow)| {
                (c + 1, f + u64::from(fail), s + u64::from(slow))
            })
        };
        match self.cfg.window {
            WindowCfg::Count(_) => sum(&mut self.count.iter().copied()),
            WindowCfg::Time { buckets, .. } => {
                let b = self.bucket(now);
                sum(&mut self
                    .timed
                    .iter()
                    .filter(|(at, _, _)| b - at < buckets as u64)
                    .map(|(_, f, s)| (*f, *s)))
            }
        }
    }

    /// Counts an outcome in the counters since the breaker was built.
    pub(crate) fn count(&mut self, outcome: Outcome, slow: bool) {
        match outcome {
            Outcome::Failure => self.counters.failures += 1,
            Outcome::Ignored => self.counters.ignored += 1,
            Outcome::Success => {}
        }
        if slow && outcome != Outcome::Ignored {
            self.counters.slow += 1;
        }
    }

    pub(crate) fn complete(
        &mut self,
        kind: Kind,
        epoch: u64,
        outcome: Outcome,
        started: Instant,
        now: Instant,
    ) {
        let slow = self.cfg.slow.is_some_and(|(d, _)| now - started >= d);
        match kind {
            // A disabled breaker counts nothing; a forced-closed one only the counters.
            Kind::Disabled => {}
            Kind::ForcedClosed => self.count(outcome, slow),
            Kind::Closed | Kind::MetricsOnly => {
                if epoch != self.epoch {
                    return;
                }
                self.count(outcome, slow);
                let failed = match outcome {
                    Outcome::Ignored => return,
                    Outcome::Success => {
                        self.consecutive = 0;
                        false
                    }
                    Outcome::Failure => {
                        if self.cfg.consecutive.is_some() {
                            self.consecutive += 1;
                        }
                        true
                    }
                };
                if self.windowed() {
                    match self.cfg.window {
                        WindowCfg::Count(n) => {
                            self.count.push_back((failed, slow));
                            if self.count.len() > n as usize {
                                self.count.pop_front();
                            }
                        }
                        WindowCfg::Time { .. } => {
                            let b = self.bucket(now);
                            self.timed.push((b, failed, slow));
                        }
                    }
                }
                if !(failed || slow) {
                    return;
                }
                let mut trip = self
                    .cfg
                    .consecutive
                    .is_some_and(|c| failed && self.consecutive >= c);
                if !trip && self.windowed() {
                    let (calls, failures, slows) = self.totals(now);
                    if calls >= u64::from(self.cfg.min_calls) {
                        let share = |n: u64| n as f64 / calls as f64;
                        trip = self.cfg.rate.is_some_and(|r| share(failures) >= r)
                            || self.cfg.slow.is_some_and(|(_, r)| share(slows) >= r);
                    }
                }
                if trip {
                    let to = if self.state == State::MetricsOnly {
                        State::MetricsOnly
                    } else {
                        State::Open
                    };
                    self.enter(to, now);
                }
            }
            Kind::Probe => {
                // A slow probe is a failed one, and a probe's outcome is counted even when
                // it comes too late to matter.
                let outcome = if slow && outcome == Outcome::Success {
                    Outcome::Failure
                } else {
                    outcome
                };
                self.count(outcome, slow);
                if epoch != self.epoch || self.state != State::HalfOpen {
                    return;
                }
                match outcome {
                    Outcome::Failure => self.enter(State::Open, now),
                    Outcome::Ignored => {
                        self.admitted -= 1;
                        self.progress = now;
                    }
                    Outcome::Success => {
                        self.succeeded += 1;
                        self.progress = now;
                        if self.succeeded >= self.cfg.probes {
                            self.enter(State::Closed, now);
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn release(&mut self, kind: Kind, epoch: u64) {
        if kind == Kind::Probe
            && epoch == self.epoch
            && self.state == State::HalfOpen
            && self.admitted > 0
        {
            self.admitted -= 1;
        }
    }

    /// The counters, with the current half-open's progress (zero in any other state).
    pub(crate) fn expected_counters(&self) -> Counters {
        let half_open = self.state == State::HalfOpen;
        Counters {
            probe_permits: if half_open { self.admitted } else { 0 },
            probe_successes: if half_open { self.succeeded } else { 0 },
            ..self.counters
        }
    }

    /// Half-open: the first probe goes alone, the rest once one has succeeded.
    pub(crate) fn may_probe(&self) -> bool {
        self.admitted < self.cfg.probes && (self.admitted == 0 || self.succeeded > 0)
    }

    pub(crate) fn state(&self, now: Instant) -> State {
        match self.state {
            State::Open if now >= self.open_until => State::HalfOpen,
            State::HalfOpen if !self.may_probe() && self.stuck(now) => State::Open,
            s => s,
        }
    }
}
