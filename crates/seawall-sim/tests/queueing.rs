//! The simulator's queue against queueing theory: mean waits of M/M/c (Erlang C) and M/D/1
//! (Pollaczek–Khinchine) at utilisation 0.5, 0.8 and 0.95, within 5%.
//!
//! # How, and why in two steps
//!
//! A mean wait near saturation converges slowly: at ρ = 0.95 successive waits stay
//! correlated for about ρ/(1 − √ρ)² ≈ 1,500 customers, so one estimate within 5% at a
//! useful confidence needs millions of customers — minutes of a simulated runtime, since
//! every event is a tick of tokio's paused clock. So the check is made in two exact steps:
//!
//! 1. **The simulator is the queue.** Through the real [`Upstream`] and [`Load`], every
//!    request's wait equals, to the nanosecond, the FIFO multi-server recursion
//!    (Kiefer–Wolfowitz; Lindley's for one server) fed with the same arrival instants and the
//!    same service draws (the upstream's seeded generator, drawn in order of service start).
//! 2. **The queue is the theory.** The same recursion, fed by the simulator's own generators
//!    (the load's Poisson gaps, arrivals rounded up to tokio's millisecond tick as the load
//!    sends them, the upstream's service draws) over millions of customers, gives mean waits
//!    within 5% of Erlang C and Pollaczek–Khinchine at each utilisation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use common::recorder;
use seawall_core::rng::Rng;
use seawall_sim::{run_paused, Arrivals, Capacity, Latency, Load, Upstream};

const SERVICE: Duration = Duration::from_millis(100);

/// The FIFO c-server queue: given arrival instants (seconds, in order) and a source of
/// service times drawn in order of service start, each customer's wait.
fn recursion(
    arrivals: impl Iterator<Item = f64>,
    servers: usize,
    mut service: impl FnMut() -> f64,
) -> impl Iterator<Item = f64> {
    // When each server is next free, as integer nanoseconds (exact, like the simulator).
    let mut free: BinaryHeap<Reverse<u64>> = (0..servers).map(|_| Reverse(0)).collect();
    arrivals.map(move |a| {
        let a = (a * 1e9).round() as u64;
        let Reverse(f) = free.pop().unwrap();
        let start = a.max(f);
        let s = (service() * 1e9).round() as u64;
        free.push(Reverse(start + s));
        (start - a) as f64 / 1e9
    })
}

/// Step 1: runs the simulator and checks every wait against the recursion.
fn simulator_is_the_recursion(latency: Latency, servers: usize, rate: f64, seconds: u64) {
    let seed = 7;
    let (arrivals, waits) = run_paused({
        let latency = latency.clone();
        async move {
            let upstream = Upstream::builder()
                .latency(latency)
                .capacity(Capacity::workers(servers))
                .seed(seed)
                .build()
                .unwrap();
            let (service, log) = recorder(&upstream);
            let load = Load::builder()
                .rate(rate)
                .duration(Duration::from_secs(seconds))
                .arrivals(Arrivals::Poisson)
                .seed(seed + 1)
                .build()
                .unwrap();
            load.run(&upstream, service).await;
            let mut seen = log.lock().unwrap().clone();
            seen.sort_by_key(|s| s.id);
            let origin = upstream.origin();
            let arrivals: Vec<f64> = seen
                .iter()
                .map(|s| (s.sent - origin).as_secs_f64())
                .collect();
            let waits: Vec<Duration> = seen.iter().map(|s| s.reply.unwrap().queued).collect();
            (arrivals, waits)
        }
    });
    let mut rng = Rng::from_seed(seed);
    let expected: Vec<f64> = recursion(arrivals.iter().copied(), servers, || {
        latency.sample(&mut rng).as_secs_f64()
    })
    .collect();
    let queued = waits.iter().filter(|w| !w.is_zero()).count();
    assert!(
        queued > 100,
        "the run must queue: {queued} of {}",
        waits.len()
    );
    for (i, (w, e)) in waits.iter().zip(&expected).enumerate() {
        let off = (w.as_secs_f64() - e).abs();
        assert!(
            off < 2e-9,
            "request {i}: waited {w:?}, the FIFO recursion says {e} s"
        );
    }
}

/// Step 2: the mean wait of `customers` customers of the recursion fed by the simulator's
/// generators, after a warm-up of a tenth.
fn long_run_mean_wait(latency: &Latency, servers: usize, rate: f64, customers: usize) -> f64 {
    let mut gaps = Rng::from_seed(11);
    let mut t = 0.0;
    let arrivals = std::iter::from_fn(move || {
        t += gaps.exponential() / rate;
        // The load's task wakes on the first millisecond tick at or after the arrival.
        Some((t * 1000.0).ceil() / 1000.0)
    });
    let mut draws = Rng::from_seed(12);
    let waits = recursion(arrivals, servers, move || {
        latency.sample(&mut draws).as_secs_f64()
    });
    let warm = customers / 10;
    waits.skip(warm).take(customers - warm).sum::<f64>() / (customers - warm) as f64
}

/// Erlang C: the probability that an arrival waits in M/M/c with offered load `a` = λ/μ.
fn erlang_c(c: usize, a: f64) -> f64 {
    let rho = a / c as f64;
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let top = term / (1.0 - rho);
    top / (sum + top)
}

fn within_5_percent(name: &str, measured: f64, theory: f64) {
    let off = measured / theory - 1.0;
    println!(
        "{name}: mean wait {:.2} ms, theory {:.2} ms ({:+.2}%)",
        measured * 1e3,
        theory * 1e3,
        off * 100.0
    );
    assert!(off.abs() < 0.05, "{name}: {measured} s against {theory} s");
}

#[test]
fn every_wait_is_the_fifo_recursion() {
    let mu = 1.0 / SERVICE.as_secs_f64();
    for rho in [0.5, 0.8, 0.95] {
        simulator_is_the_recursion(Latency::exponential(SERVICE), 10, rho * 10.0 * mu, 300);
        simulator_is_the_recursion(Latency::constant(SERVICE), 1, rho * mu, 1500);
    }
}

#[test]
fn mmc_mean_wait_matches_erlang_c() {
    let (c, mu) = (10, 1.0 / SERVICE.as_secs_f64());
    for (rho, customers) in [(0.5, 1_000_000), (0.8, 2_000_000), (0.95, 4_000_000)] {
        let lambda = rho * c as f64 * mu;
        let theory = erlang_c(c, lambda / mu) / (c as f64 * mu - lambda);
        let measured = long_run_mean_wait(&Latency::exponential(SERVICE), c, lambda, customers);
        within_5_percent(&format!("M/M/{c} at ρ = {rho}"), measured, theory);
    }
}

#[test]
fn md1_mean_wait_matches_pollaczek_khinchine() {
    let s = SERVICE.as_secs_f64();
    for (rho, customers) in [(0.5, 1_000_000), (0.8, 2_000_000), (0.95, 4_000_000)] {
        // Pollaczek–Khinchine for deterministic service: Wq = ρ·S / (2(1 − ρ)).
        let theory = rho * s / (2.0 * (1.0 - rho));
        let measured = long_run_mean_wait(&Latency::constant(SERVICE), 1, rho / s, customers);
        within_5_percent(&format!("M/D/1 at ρ = {rho}"), measured, theory);
    }
}
