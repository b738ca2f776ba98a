//! The breaker against a tiny reference model: the same random sequences of calls,
//! outcomes, clock advances and manual commands, and the two must agree on every
//! admit/reject decision, every retry-after hint, the state after every step, and the
//! counters (trips, rejections, probes, failures, slow and ignored calls).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use seawall_breaker::{BreakerHandle, CircuitBreakerLayer};
use seawall_core::{find_rejection, BoxError, Outcome};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tower::{service_fn, Layer, Service};

#[derive(Clone, Debug)]
enum Op {
    Start,
    /// Finish the in-flight call at this index (mod the number in flight) with an outcome.
    Finish(usize, Outcome),
    Drop(usize),
    Advance(u64),
    Manual(Manual),
}

mod reference;
use reference::{Cfg, Counters, Kind, Manual, Model, WindowCfg};

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
    seawall_sim::run_paused(async move {
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
