//! The breaker against a tiny reference model: the same random sequences of calls,
//! outcomes, clock advances and manual commands, and the two must agree on every
//! admit/reject decision, every retry-after hint, the state after every step, and the
//! counters (trips, rejections, probes, failures, slow and ignored calls).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use seawall_breaker::{BreakerHandle, CircuitBreakerLayer, State};
use seawall_core::{find_rejection, BoxError, Outcome};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tower::{service_fn, Layer, Service};

#[derive(Clone, Copy, Debug)]
enum WindowCfg {
    Count(u32),
    Time { length_ms: u64, buckets: usize },
}

#[derive(Clone, Debug)]
struct Cfg {
    consecutive: Option<u32>,
    rate: Option<f64>,
    slow: Option<(Duration, f64)>,
    window: WindowCfg,
    min_calls: u32,
    open: Duration,
    multiplier: f64,
    max_open: Duration,
    probes: u32,
    probe_timeout: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Manual {
    ForceOpen,
    ForceClosed,
    Disable,
    MetricsOnly,
    Reset,
}

#[derive(Clone, Debug)]
enum Op {
    Start,
    /// Finish the in-flight call at this index (mod the number in flight) with an outcome.
    Finish(usize, Outcome),
    Drop(usize),
    Advance(u64),
    Manual(Manual),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Closed,
    Probe,
    MetricsOnly,
    ForcedClosed,
    Disabled,
}

/// The reference: the breaker's rules written as plainly as possible, sequentially.
struct Model {
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
struct Counters {
    trips: u64,
    rejected: u64,
    probes: u64,
    /// The current half-open's permits taken and probes succeeded.
    probe_permits: u32,
    probe_successes: u32,
    failures: u64,
    slow: u64,
    ignored: u64,
}

impl Counters {
    fn of(handle: &BreakerHandle) -> Self {
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
    fn new(cfg: Cfg, origin: Instant) -> Self {
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

    fn windowed(&self) -> bool {
        self.cfg.rate.is_some() || self.cfg.slow.is_some()
    }

    fn enter(&mut self, to: State, now: Instant) {
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

    fn manual(&mut self, m: Manual, now: Instant) {
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

    fn stuck(&self, now: Instant) -> bool {
        now >= self.progress + self.cfg.probe_timeout
    }

    fn admit(&mut self, now: Instant) -> Result<(Kind, u64), Option<Duration>> {
        let decision = self.decide(now);
        match decision {
            Ok((Kind::Probe, _)) => self.counters.probes += 1,
            Err(_) => self.counters.rejected += 1,
            Ok(_) => {}
        }
        decision
    }

    fn decide(&mut self, now: Instant) -> Result<(Kind, u64), Option<Duration>> {
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

    fn bucket(&self, now: Instant) -> u64 {
        match self.cfg.window {
            WindowCfg::Time { length_ms, buckets } => {
                let bucket_nanos = u128::from(length_ms) * 1_000_000 / buckets as u128;
                ((now - self.origin).as_nanos() / bucket_nanos) as u64
            }
            WindowCfg::Count(_) => 0,
        }
    }

    fn totals(&self, now: Instant) -> (u64, u64, u64) {
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
    fn count(&mut self, outcome: Outcome, slow: bool) {
        match outcome {
            Outcome::Failure => self.counters.failures += 1,
            Outcome::Ignored => self.counters.ignored += 1,
            Outcome::Success => {}
        }
        if slow && outcome != Outcome::Ignored {
            self.counters.slow += 1;
        }
    }

    fn complete(
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

    fn release(&mut self, kind: Kind, epoch: u64) {
        if kind == Kind::Probe
            && epoch == self.epoch
            && self.state == State::HalfOpen
            && self.admitted > 0
        {
            self.admitted -= 1;
        }
    }

    /// The counters, with the current half-open's progress (zero in any other state).
    fn expected_counters(&self) -> Counters {
        let half_open = self.state == State::HalfOpen;
        Counters {
            probe_permits: if half_open { self.admitted } else { 0 },
            probe_successes: if half_open { self.succeeded } else { 0 },
            ..self.counters
        }
    }

    /// Half-open: the first probe goes alone, the rest once one has succeeded.
    fn may_probe(&self) -> bool {
        self.admitted < self.cfg.probes && (self.admitted == 0 || self.succeeded > 0)
    }

    fn state(&self, now: Instant) -> State {
        match self.state {
            State::Open if now >= self.open_until => State::HalfOpen,
            State::HalfOpen if !self.may_probe() && self.stuck(now) => State::Open,
            s => s,
        }
    }
}

type Reply = Result<u8, &'static str>;
type Call = Pin<Box<dyn Future<Output = Result<u8, BoxError>>>>;

struct InFlight {
    call: Call,
    reply: oneshot::Sender<Reply>,
    kind: Kind,
    epoch: u64,
    started: Instant,
}

fn poll_once(call: &mut Call) -> Poll<Result<u8, BoxError>> {
    call.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

fn run_case(cfg: Cfg, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut builder = CircuitBreakerLayer::builder()
            .consecutive_failures(cfg.consecutive)
            .failure_rate(cfg.rate)
            .min_calls(cfg.min_calls)
            .open_duration(cfg.open)
            .open_backoff(cfg.multiplier, cfg.max_open)
            .jitter(0.0)
            .probes(cfg.probes)
            .probe_timeout(cfg.probe_timeout)
            .classify(|r: &Reply| match r {
                Ok(0) => Outcome::Success,
                Ok(_) => Outcome::Ignored,
                Err(_) => Outcome::Failure,
            });
        if let Some((d, r)) = cfg.slow {
            builder = builder.slow_calls(d, r);
        }
        builder = match cfg.window {
            WindowCfg::Count(n) => builder.count_window(n),
            WindowCfg::Time { length_ms, buckets } => {
                builder.time_window(Duration::from_millis(length_ms), buckets)
            }
        };
        let layer = builder.build().unwrap();
        let mut model = Model::new(cfg.clone(), Instant::now());
        let handle: BreakerHandle = layer.handle();
        let inner = service_fn(|rx: oneshot::Receiver<Reply>| async move {
            rx.await.unwrap_or(Err("sender dropped"))
        });
        let svc = layer.layer(inner);
        let mut flight: Vec<InFlight> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let now = Instant::now();
            match op {
                Op::Start => {
                    let expected = model.admit(now);
                    let mut s = svc.clone();
                    let ready = s.poll_ready(&mut Context::from_waker(Waker::noop()));
                    prop_assert!(
                        matches!(ready, Poll::Ready(Ok(()))),
                        "step {step}: poll_ready"
                    );
                    let (tx, rx) = oneshot::channel();
                    let mut call: Call = Box::pin(s.call(rx));
                    match expected {
                        Ok((kind, epoch)) => {
                            prop_assert!(
                                poll_once(&mut call).is_pending(),
                                "step {step}: the model admits, the breaker rejected"
                            );
                            flight.push(InFlight {
                                call,
                                reply: tx,
                                kind,
                                epoch,
                                started: now,
                            });
                        }
                        Err(after) => match poll_once(&mut call) {
                            Poll::Ready(Err(e)) => {
                                let r = find_rejection(e.as_ref());
                                prop_assert!(r.is_some(), "step {step}: not a rejection: {e}");
                                prop_assert_eq!(
                                    r.unwrap().retry_after(),
                                    after,
                                    "step {}: retry-after",
                                    step
                                );
                            }
                            other => {
                                return Err(TestCaseError::fail(format!(
                                    "step {step}: the model rejects, the breaker gave {:?}",
                                    other.map(|r| r.is_ok())
                                )))
                            }
                        },
                    }
                }
                Op::Finish(i, outcome) if !flight.is_empty() => {
                    let mut f = flight.remove(i % flight.len());
                    let reply = match outcome {
                        Outcome::Success => Ok(0),
                        Outcome::Ignored => Ok(1),
                        Outcome::Failure => Err("boom"),
                    };
                    f.reply.send(reply).unwrap();
                    prop_assert!(poll_once(&mut f.call).is_ready());
                    model.complete(f.kind, f.epoch, outcome, f.started, now);
                }
                Op::Drop(i) if !flight.is_empty() => {
                    let f = flight.remove(i % flight.len());
                    drop(f.call);
                    model.release(f.kind, f.epoch);
                }
                Op::Finish(..) | Op::Drop(_) => {}
                Op::Advance(ms) => tokio::time::advance(Duration::from_millis(ms)).await,
                Op::Manual(m) => {
                    match m {
                        Manual::ForceOpen => handle.force_open(),
                        Manual::ForceClosed => handle.force_closed(),
                        Manual::Disable => handle.disable(),
                        Manual::MetricsOnly => handle.metrics_only(),
                        Manual::Reset => handle.reset(),
                    }
                    model.manual(m, now);
                }
            }
            let now = Instant::now();
            prop_assert_eq!(handle.state(), model.state(now), "step {}: state", step);
            prop_assert_eq!(
                Counters::of(&handle),
                model.expected_counters(),
                "step {}: counters",
                step
            );
        }
        Ok(())
    })
}

fn cfg() -> impl Strategy<Value = Cfg> {
    let window = prop_oneof![
        3 => (1u32..8).prop_map(WindowCfg::Count),
        1 => (1u64..4, 1usize..5).prop_map(|(s, b)| WindowCfg::Time { length_ms: s * 1000, buckets: b }),
    ];
    (
        proptest::option::weighted(0.6, 1u32..5),
        proptest::option::weighted(0.6, prop_oneof![Just(0.3), Just(0.5), Just(0.8)]),
        proptest::option::weighted(0.3, (50u64..400).prop_map(Duration::from_millis)),
        window,
        1u32..8,
        (100u64..2000).prop_map(Duration::from_millis),
        prop_oneof![Just(1.0), Just(2.0)],
        1u32..4,
        (200u64..3000).prop_map(Duration::from_millis),
    )
        .prop_map(
            |(
                consecutive,
                rate,
                slow,
                window,
                min_calls,
                open,
                multiplier,
                probes,
                probe_timeout,
            )| {
                let min_calls = match window {
                    WindowCfg::Count(n) => min_calls.min(n),
                    WindowCfg::Time { .. } => min_calls,
                };
                Cfg {
                    consecutive,
                    rate,
                    slow: slow.map(|d| (d, 0.5)),
                    window,
                    min_calls,
                    open,
                    multiplier,
                    max_open: open * 4,
                    probes,
                    probe_timeout,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![
        4 => Just(Outcome::Success),
        4 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
    ];
    let manual = prop_oneof![
        1 => Just(Manual::ForceOpen),
        1 => Just(Manual::ForceClosed),
        1 => Just(Manual::Disable),
        1 => Just(Manual::MetricsOnly),
        3 => Just(Manual::Reset),
    ];
    prop_oneof![
        5 => Just(Op::Start),
        5 => (0usize..8, outcome).prop_map(|(i, o)| Op::Finish(i, o)),
        1 => (0usize..8).prop_map(Op::Drop),
        3 => prop_oneof![0u64..50, 0u64..1500, 1000u64..8000].prop_map(Op::Advance),
        1 => manual.prop_map(Op::Manual),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn the_breaker_agrees_with_the_model(cfg in cfg(), ops in proptest::collection::vec(op(), 1..60)) {
        run_case(cfg, ops)?;
    }
}
