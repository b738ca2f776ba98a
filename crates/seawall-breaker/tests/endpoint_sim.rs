//! A partial outage behind tower's p2c balancer, in the simulator: three replicas at
//! 1,000 req/s in all, one failing every call (fast, in 1 ms) for 20 s. With a breaker per
//! endpoint the balancer routes around it; without, the same run fails about a share of
//! the requests. Prints the per-second figures (`-- --nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_breaker::endpoint::EndpointBreakerLayer;
use seawall_breaker::{CircuitBreakerLayer, State};
use seawall_sim::scenarios::Outage;
use seawall_sim::{balanced, run_paused, Arrivals, Latency, Load, Summary, Upstream};
use tokio::time::Instant;
use tower::Layer;

const OUTAGE: (u64, u64) = (10, 30);
const SECONDS: u64 = 40;
const SEED: u64 = 11;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Replica 0 fails every call from 10 s to 30 s; replicas 1 and 2 stay healthy.
fn replicas(seed: u64) -> Vec<Upstream> {
    let healthy = Latency::uniform(ms(8), ms(12));
    let failing = Outage::new(Duration::from_secs(OUTAGE.0), Duration::from_secs(OUTAGE.1))
        .healthy(healthy.clone())
        .failing(Latency::constant(ms(1)))
        .seed(seed)
        .build()
        .unwrap();
    let others = (1..3).map(|i| {
        Upstream::builder()
            .latency(healthy.clone())
            .seed(seed + i)
            .build()
            .unwrap()
    });
    std::iter::once(failing).chain(others).collect()
}

fn load(seed: u64) -> Load {
    Load::builder()
        .rate(1000.0)
        .duration(Duration::from_secs(SECONDS))
        .arrivals(Arrivals::Poisson)
        .timeout(Duration::from_secs(1))
        .seed(seed)
        .build()
        .unwrap()
}

/// Notes when endpoint 0's breaker enters each state, from the start of the run.
fn watch(handle: &seawall_breaker::BreakerHandle, start: Instant) -> Arc<Mutex<Vec<(f64, State)>>> {
    let log: Arc<Mutex<Vec<(f64, State)>>> = Arc::default();
    let mut rx = handle.subscribe();
    let sink = log.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let state = *rx.borrow_and_update();
            sink.lock()
                .unwrap()
                .push((start.elapsed().as_secs_f64(), state));
        }
    });
    log
}

struct Run {
    summary: Summary,
    transitions: Vec<(f64, State)>,
}

/// What stands in front of each replica.
#[derive(Clone, Copy)]
enum Guard {
    /// An `EndpointBreaker`: not ready while open.
    EndpointBreakers,
    /// A plain `CircuitBreaker` per replica: ready while open, failing fast in `call`.
    PlainBreakers,
    /// Nothing: p2c alone.
    Nothing,
}

fn run(guard: Guard) -> Run {
    run_paused(async move {
        let replicas = replicas(SEED);
        let failing = replicas[0].clone();
        let start = Instant::now();
        let breaker = || CircuitBreakerLayer::builder().seed(SEED);
        let (service, log) = match guard {
            Guard::EndpointBreakers => {
                let layer = EndpointBreakerLayer::builder()
                    .breaker(breaker())
                    .build()
                    .unwrap();
                let endpoints: Vec<_> = replicas.into_iter().map(|r| layer.layer(r)).collect();
                let log = watch(&endpoints[0].handle(), start);
                (balanced(endpoints, SEED), Some(log))
            }
            Guard::PlainBreakers => {
                let endpoints: Vec<_> = replicas
                    .into_iter()
                    .map(|r| breaker().build().unwrap().layer(r))
                    .collect();
                (balanced(endpoints, SEED), None)
            }
            Guard::Nothing => (balanced(replicas, SEED), None),
        };
        let summary = load(SEED).run(&failing, service).await;
        let transitions = log.map(|l| l.lock().unwrap().clone()).unwrap_or_default();
        Run {
            summary,
            transitions,
        }
    })
}

/// Per-second figures of a run: (second, sent, success rate, share sent to replica 0).
fn seconds(summary: &Summary) -> Vec<(u64, u64, f64, f64)> {
    summary
        .series
        .iter()
        .filter(|s| s.sent > 0)
        .map(|s| {
            let sent = s.sent as f64;
            (
                s.t,
                s.sent,
                s.succeeded as f64 / sent,
                s.upstream_attempts as f64 / sent,
            )
        })
        .collect()
}

fn success_between(summary: &Summary, from: u64, to: u64) -> f64 {
    let (sent, ok) = summary
        .series
        .iter()
        .filter(|s| (from..to).contains(&s.t))
        .fold((0, 0), |(n, k), s| (n + s.sent, k + s.succeeded));
    ok as f64 / sent as f64
}

fn first(transitions: &[(f64, State)], state: State, after: u64) -> Option<f64> {
    transitions
        .iter()
        .find(|(t, s)| *s == state && *t >= after as f64)
        .map(|(t, _)| t - after as f64)
}

#[test]
fn a_breaker_per_endpoint_routes_around_a_failing_replica() {
    let runs = [
        run(Guard::EndpointBreakers),
        run(Guard::PlainBreakers),
        run(Guard::Nothing),
    ];
    let with = &runs[0];
    let (from, to) = OUTAGE;

    println!(
        "partial outage: 3 replicas behind p2c, 1000 req/s, replica 0 fails every call \
         (in 1 ms) from {from} s to {to} s (seed {SEED})"
    );
    println!(
        "per second: requests that succeeded, and the share of requests that reached replica 0"
    );
    println!(
        "{:>4} {:>6} | {:>19} | {:>19} | {:>19}",
        "t", "sent", "endpoint breakers", "plain breakers", "p2c alone"
    );
    let series: Vec<_> = runs.iter().map(|r| seconds(&r.summary)).collect();
    for (i, x) in series[0].iter().enumerate() {
        let cell = |v: &Vec<(u64, u64, f64, f64)>| {
            v.get(i).map_or(String::new(), |s| {
                format!("{:>7.2}% {:>7.2}%#0", 100.0 * s.2, 100.0 * s.3)
            })
        };
        println!(
            "{:>4} {:>6} | {} | {} | {}",
            x.0,
            x.1,
            cell(&series[0]),
            cell(&series[1]),
            cell(&series[2])
        );
    }
    // The worst second of the outage, by success.
    let worst = |v: &[(u64, u64, f64, f64)]| {
        v.iter()
            .copied()
            .filter(|s| (from..to).contains(&s.0))
            .min_by(|p, q| p.2.total_cmp(&q.2))
            .unwrap()
    };
    let outage: Vec<f64> = runs
        .iter()
        .map(|r| success_between(&r.summary, from, to))
        .collect();
    // After the outage's first second, the most any second sent to the failing replica.
    let most_to_failing = series[0]
        .iter()
        .filter(|s| (from + 1..to).contains(&s.0))
        .map(|s| s.3)
        .fold(0.0, f64::max);
    let eject = first(&with.transitions, State::Open, from).unwrap();
    let readmit = first(&with.transitions, State::Closed, to).unwrap();
    println!(
        "                         | {:>19} | {:>19} | {:>19}",
        "endpoint breakers", "plain breakers", "p2c alone"
    );
    let row = |name: &str, f: &dyn Fn(usize) -> String| {
        println!("{name:<24} | {:>19} | {:>19} | {:>19}", f(0), f(1), f(2));
    };
    row("success, whole run", &|i| {
        format!("{:.2}%", 100.0 * runs[i].summary.success_rate)
    });
    row("success, the outage", &|i| {
        format!("{:.2}%", 100.0 * outage[i])
    });
    row("worst second (outage)", &|i| {
        let w = worst(&series[i]);
        format!("{:.2}% (t={})", 100.0 * w.2, w.0)
    });
    row("at replica 0, outage", &|i| {
        let s = &runs[i].summary.series;
        let n: u64 = s
            .iter()
            .filter(|s| (from..to).contains(&s.t))
            .map(|s| s.upstream_attempts)
            .sum();
        format!("{n}")
    });
    println!(
        "endpoint breakers: most sent to replica 0 in a second after the outage's first: {:.2}%",
        100.0 * most_to_failing
    );
    println!("endpoint breakers: ejected {eject:.3} s into the outage; closed again {readmit:.3} s after the heal");

    assert!(
        outage[0] >= 0.995,
        "success during the outage: {}",
        outage[0]
    );
    assert!(
        most_to_failing < 0.02,
        "share sent to the failing replica: {most_to_failing}"
    );
    assert!(eject < 1.0, "ejected {eject} s into the outage");
    assert!(readmit < 2.0, "readmitted {readmit} s after the heal");
    // Readmitted for real: the healed replica takes its share again.
    let after: Vec<f64> = series[0]
        .iter()
        .filter(|s| (to + 3..SECONDS).contains(&s.0))
        .map(|s| s.3)
        .collect();
    let back = after.iter().sum::<f64>() / after.len() as f64;
    assert!(back > 0.2, "share of the healed replica: {back}");
    // Without the breakers, and with breakers that stay ready and fail fast, the same run
    // loses a good part of the outage's requests.
    assert!(outage[1] < 0.9, "plain breakers: {}", outage[1]);
    assert!(outage[2] < 0.9, "p2c alone: {}", outage[2]);
}
