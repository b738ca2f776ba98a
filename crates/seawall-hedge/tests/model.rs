//! The hedge future against a tiny reference model: for any script of attempt latencies
//! and outcomes, the caller gets the answer, at the time, after the attempts, that the model
//! says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use seawall_core::rejection::Overloaded;
use seawall_core::BoxError;
use seawall_hedge::HedgeLayer;
use tokio::time::Instant;
use tower::{service_fn, Layer, ServiceExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Fail,
    Fatal,
}

/// A fatal failure of attempt `.0`: says "do not retry" through its source.
#[derive(Debug)]
struct Fatal(usize, Overloaded);
impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fatal {}", self.0)
    }
}
impl std::error::Error for Fatal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.1)
    }
}

/// The answer: the attempt whose answer the caller got, and how.
type Answer = (usize, Outcome);

/// The model: attempts `script[i]` = (latency ms, outcome); delay `d` ms. Answers due at one
/// instant are taken in the order the attempts were sent, before the timer; a failure sends
/// the next attempt at once, and every attempt sent re-arms the timer.
fn model(script: &[(u64, Outcome)], d: u64) -> (Answer, u64, usize) {
    let max = script.len();
    let mut in_flight: Vec<(usize, u64)> = vec![(0, script[0].0)]; // (attempt, done at)
    let mut sent = 1;
    let mut timer = (max > 1).then_some(d);
    let mut last = None;
    loop {
        let next_done = in_flight.iter().map(|&(_, at)| at).min();
        let t = match (next_done, timer) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return (last.unwrap(), 0, sent),
        };
        // Answers at t, in sending order; a failure sends the next attempt at once.
        let mut i = 0;
        while i < in_flight.len() {
            let (attempt, at) = in_flight[i];
            if at != t {
                i += 1;
                continue;
            }
            in_flight.remove(i);
            match script[attempt].1 {
                Outcome::Ok => return ((attempt, Outcome::Ok), t, sent),
                Outcome::Fatal => return ((attempt, Outcome::Fatal), t, sent),
                Outcome::Fail => {
                    last = Some((attempt, Outcome::Fail));
                    if sent < max {
                        in_flight.push((sent, t + script[sent].0));
                        sent += 1;
                        timer = (sent < max).then_some(t + d);
                    }
                }
            }
        }
        if timer == Some(t) {
            timer = None;
            if sent < max {
                in_flight.push((sent, t + script[sent].0));
                sent += 1;
                timer = (sent < max).then_some(t + d);
            }
        }
        if in_flight.is_empty() && timer.is_none() {
            return (last.unwrap(), t, sent);
        }
    }
}

fn run(script: Vec<(u64, Outcome)>, d: u64) -> (Answer, u64, usize) {
    seawall_sim::run_paused(async move {
        let sent = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(script);
        let layer = HedgeLayer::builder()
            .delay(Duration::from_millis(d))
            .max_extra_attempts(script.len() as u32 - 1)
            .unlimited_budget()
            .build()
            .unwrap();
        let upstream = {
            let (sent, script) = (sent.clone(), script.clone());
            service_fn(move |()| {
                let n = sent.fetch_add(1, Ordering::SeqCst);
                let (ms, outcome) = script[n];
                async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    match outcome {
                        Outcome::Ok => Ok::<usize, BoxError>(n),
                        Outcome::Fail => Err(format!("fail {n}").into()),
                        Outcome::Fatal => Err(Fatal(n, Overloaded::new(None)).into()),
                    }
                }
            })
        };
        let started = Instant::now();
        let result = layer.layer(upstream).oneshot(()).await;
        let elapsed = started.elapsed().as_millis() as u64;
        let answer = match result {
            Ok(n) => (n, Outcome::Ok),
            Err(e) => match e.downcast_ref::<Fatal>() {
                Some(f) => (f.0, Outcome::Fatal),
                None => (
                    e.to_string().trim_start_matches("fail ").parse().unwrap(),
                    Outcome::Fail,
                ),
            },
        };
        (answer, elapsed, sent.load(Ordering::SeqCst))
    })
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        6 => Just(Outcome::Ok),
        3 => Just(Outcome::Fail),
        1 => Just(Outcome::Fatal),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_hedge_future_does_what_the_model_says(
        script in prop::collection::vec((1u64..60, outcome()), 2..5),
        d in 1u64..40,
    ) {
        let expected = model(&script, d);
        let got = run(script.clone(), d);
        prop_assert_eq!(got, expected, "script {:?}, delay {} ms", script, d);
    }
}
