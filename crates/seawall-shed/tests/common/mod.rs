//! The overload shape the figures share: 20 workers serving log-normal 20 ms (σ 0.3) requests,
//! an unbounded FIFO queue, a server that serves requests whose client has gone, Poisson
//! arrivals, client timeout 1 s.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use seawall_shed::limit::{Aimd, Gradient2, GradientController, Limit, Vegas};
use seawall_shed::ShedLayer;
use seawall_sim::{run_paused, Abandonment, Arrivals, Capacity, Latency, Load, Summary, Upstream};
use tower::util::BoxCloneService;
use tower::{BoxError, Layer, Service, ServiceExt};

pub type Svc = BoxCloneService<seawall_sim::Request, (), BoxError>;
/// A column: its name, and how it wraps the upstream.
pub type Stack = (&'static str, fn(Upstream) -> Svc);

pub const WORKERS: usize = 20;
pub const SEED: u64 = 11;

pub fn latency() -> Latency {
    Latency::log_normal(Duration::from_millis(20), 0.3)
}

/// Requests per second `workers` serve: workers / mean service time.
pub fn capacity_rps(workers: usize) -> f64 {
    let mean = 0.020 * (0.3f64 * 0.3 / 2.0).exp();
    workers as f64 / mean
}

pub fn erase<S>(service: S) -> Svc
where
    S: Service<seawall_sim::Request> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    BoxCloneService::new(
        ServiceExt::<seawall_sim::Request>::map_response(service, |_| ()).map_err(Into::into),
    )
}

pub fn upstream(capacity: Capacity) -> Upstream {
    Upstream::builder()
        .latency(latency())
        .capacity(capacity)
        .abandonment(Abandonment::Never)
        .seed(SEED)
        .build()
        .unwrap()
}

pub fn load(rate: f64, seconds: u64) -> Load {
    Load::builder()
        .rate(rate)
        .duration(Duration::from_secs(seconds))
        .arrivals(Arrivals::Poisson)
        .timeout(Duration::from_secs(1))
        .seed(SEED)
        .build()
        .unwrap()
}

/// Runs `rate` for `seconds` through `stack` in front of `upstream`, in paused time.
pub fn run(
    upstream: impl FnOnce() -> Upstream,
    rate: f64,
    seconds: u64,
    stack: impl FnOnce(Upstream) -> Svc,
) -> Summary {
    run_paused(async move {
        let upstream = upstream();
        let service = stack(upstream.clone());
        load(rate, seconds).run(&upstream, service).await
    })
}

/// Goodput as a share of capacity, over the seconds from `from` to the end of the load.
pub fn goodput_share(summary: &Summary, capacity: f64, from: u64) -> f64 {
    let seconds: Vec<_> = summary
        .series
        .iter()
        .filter(|s| s.t >= from && (s.t as f64) < summary.duration_s)
        .collect();
    let ok: u64 = seconds.iter().map(|s| s.succeeded).sum();
    ok as f64 / seconds.len() as f64 / capacity
}

/// The worst second's goodput share from `from` to the end of the load.
pub fn worst_goodput_share(summary: &Summary, capacity: f64, from: u64) -> f64 {
    summary
        .series
        .iter()
        .filter(|s| s.t >= from && (s.t as f64) < summary.duration_s)
        .map(|s| s.succeeded as f64 / capacity)
        .fold(f64::INFINITY, f64::min)
}

/// Seawall's shedding layer with `limit`, in front of `upstream`.
pub fn shed(limit: impl Limit, upstream: Upstream) -> Svc {
    erase(
        ShedLayer::builder()
            .limit(limit)
            .build()
            .unwrap()
            .layer(upstream),
    )
}

/// Each adaptive limit at its defaults, untuned, as a user gets it.
pub fn adaptive() -> [Stack; 4] {
    [
        ("Seawall AIMD", |u| shed(Aimd::default(), u)),
        ("Seawall Vegas (the layer's default)", |u| {
            shed(Vegas::default(), u)
        }),
        ("Seawall Gradient2", |u| shed(Gradient2::default(), u)),
        ("Seawall Envoy gradient", |u| {
            shed(GradientController::default(), u)
        }),
    ]
}
