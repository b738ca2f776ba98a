//! Shedding in real time: tower-resilience's adaptive limiter beside Seawall's default limit,
//! on the overload shape of the lab (20 workers × log-normal 20 ms, σ 0.3: 956 req/s; Poisson
//! arrivals at 2× and 5× that; client timeout 1 s).
//!
//! tower-resilience's limiter times each call with `std::time::Instant`, which tokio's paused
//! clock does not move, so the lab cannot measure it in simulated time. This runs the same
//! simulator on tokio's real clock instead: 6 runs of 4 s, about 25 s in all.
//! `cargo bench -p seawall-lab --bench shed_realtime` prints the table. Real-time figures move
//! with the machine's load (timers fire late on a busy machine, which lengthens every
//! latency); the rows of one invocation ran minutes apart on the same machine.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::time::Duration;

use seawall_shed::ShedLayer;
use seawall_sim::{Abandonment, Arrivals, Capacity, Latency, Load, Summary, Upstream};
use tower::util::BoxCloneService;
use tower::{BoxError, Layer, ServiceBuilder, ServiceExt};
use tower_resilience_adaptive::{AdaptiveLimiterLayer, Aimd, Vegas};

type Svc = BoxCloneService<seawall_sim::Request, (), BoxError>;
/// A column: its name, and how it wraps the upstream.
type Stack = (&'static str, fn(Upstream) -> Svc);

const WORKERS: usize = 20;
const SECONDS: u64 = 4;
/// Figures from this second on: before it, the limits learn.
const FROM: u64 = 2;

/// Requests per second the workers serve: workers / mean service time (20.92 ms).
fn capacity() -> f64 {
    WORKERS as f64 / (0.020 * (0.3f64 * 0.3 / 2.0).exp())
}

fn erase<S>(service: S) -> Svc
where
    S: tower::Service<seawall_sim::Request> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    BoxCloneService::new(service.map_response(|_| ()).map_err(Into::into))
}

/// tower-resilience's limiter waits for a permit; `LoadShed` over it refuses instead.
fn tower_resilience<A>(algorithm: A, upstream: Upstream) -> Svc
where
    A: tower_resilience_adaptive::ConcurrencyAlgorithm + Send + Sync + 'static,
{
    erase(
        ServiceBuilder::new()
            .load_shed()
            .layer(AdaptiveLimiterLayer::new(algorithm))
            .service(upstream),
    )
}

fn stacks() -> Vec<Stack> {
    vec![
        ("Seawall shed, default (Vegas, 1 s windows)", |u| {
            erase(ShedLayer::builder().build().unwrap().layer(u))
        }),
        ("tower-resilience AIMD + `LoadShed`", |u| {
            tower_resilience(Aimd::builder().build().unwrap(), u)
        }),
        ("tower-resilience Vegas + `LoadShed`", |u| {
            tower_resilience(Vegas::builder().build().unwrap(), u)
        }),
    ]
}

fn run(rate: f64, stack: fn(Upstream) -> Svc) -> Summary {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let upstream = Upstream::builder()
            .latency(Latency::log_normal(Duration::from_millis(20), 0.3))
            .capacity(Capacity::workers(WORKERS))
            .abandonment(Abandonment::Never)
            .seed(1)
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(rate)
            .duration(Duration::from_secs(SECONDS))
            .arrivals(Arrivals::Poisson)
            .timeout(Duration::from_secs(1))
            .seed(1)
            .build()
            .unwrap();
        load.run(&upstream, stack(upstream.clone())).await
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let capacity = capacity();
    println!("Real time, {SECONDS} s per run; figures over seconds {FROM}-{SECONDS} (the limits learn before).");
    println!("| offered | stack | goodput / capacity | worst second | accepted p99, whole run (ms) | worst second's p99 (ms) |");
    println!("|---|---|---|---|---|---|");
    for factor in [2.0, 5.0] {
        for (name, stack) in stacks() {
            let s = run(factor * capacity, stack);
            let seconds: Vec<_> = s
                .series
                .iter()
                .filter(|x| x.t >= FROM && x.t < SECONDS)
                .collect();
            let ok: u64 = seconds.iter().map(|x| x.succeeded).sum();
            let share = ok as f64 / seconds.len() as f64 / capacity;
            let worst = seconds
                .iter()
                .map(|x| x.succeeded as f64 / capacity)
                .fold(f64::INFINITY, f64::min);
            let worst_p99 = seconds.iter().map(|x| x.p99_ms).fold(0.0, f64::max);
            println!(
                "| {factor}× | {name} | {:.1}% | {:.1}% | {:.1} | {worst_p99:.1} |",
                share * 100.0,
                worst * 100.0,
                s.success_latency_ms.p99,
            );
        }
    }
}
