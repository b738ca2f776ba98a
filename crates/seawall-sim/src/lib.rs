//! Deterministic simulation of services under load, in tokio's paused time.
//!
//! Resilience claims are claims about behaviour over time — "the breaker trips within a
//! second", "retries never more than double the load" — and testing them against real
//! servers with real sleeps is slow and flaky. This crate makes them cheap and exact: an
//! [`Upstream`] that behaves like a real dependency (latency distributions, failures,
//! scripted outages and brownouts, a capacity limit with a queue), a [`Load`] driver that
//! sends open-loop traffic through any tower stack in front of it, and a [`Summary`] of what
//! the client saw and what reached the upstream. Everything runs on tokio's clock, so in
//! paused time a minute of traffic takes a fraction of a second, and the same seeds give
//! byte-identical results.
//!
//! ```
//! use std::time::Duration;
//! use seawall_sim::{run_paused, Capacity, Latency, Load, Upstream};
//!
//! let summary = run_paused(async {
//!     // 98% of calls take ~10 ms, 2% take ~1 s; 20 workers.
//!     let upstream = Upstream::builder()
//!         .latency(Latency::mixture([
//!             (0.98, Latency::constant(Duration::from_millis(10))),
//!             (0.02, Latency::constant(Duration::from_secs(1))),
//!         ]))
//!         .capacity(Capacity::workers(20))
//!         .seed(7)
//!         .build()
//!         .unwrap();
//!     let load = Load::builder()
//!         .rate(100.0)
//!         .duration(Duration::from_secs(30))
//!         .timeout(Duration::from_secs(2))
//!         .build()
//!         .unwrap();
//!     // Any tower stack ending in the upstream goes here.
//!     load.run(&upstream, upstream.clone()).await
//! });
//! assert_eq!(summary.requests, 3000);
//! assert!(summary.latency_ms.p50 < 20.0);
//! ```
//!
//! [`EventLog`] records the events Seawall's layers emit, for tests that assert a layer said
//! what it did.
//!
//! The knobs and their defaults: [`Upstream::builder`] (10 ms, no failures, unlimited
//! capacity, seed 0) and [`Load::builder`] (100 requests/s for 10 s, evenly spaced, no
//! client timeout).
//!
//! # Resolution
//!
//! The upstream computes every event at its exact time, but tokio's timer fires on
//! millisecond ticks: a waiting future is woken on the first tick at or after its answer is
//! ready. A client therefore sees each service time rounded up to the millisecond — on
//! average +0.5 ms for a continuous distribution (measured in `docs/lab.md`) and exactly
//! nothing for whole-millisecond constants — and requests sent at more than ~1,000 per
//! second arrive in batches on each tick. An upstream whose latency has more than 1% of its
//! mass under [`RESOLUTION_FLOOR`] (5 ms) warns, or is refused with
//! [`UpstreamBuilder::refuse_unresolved`]. An answer and a timer due on the same tick: the
//! answer is ready to whoever polls it on that tick, and the reply future's own timer wakes
//! the task awaiting it on that tick, so a layer that polls its inner future before its
//! timer lets the answer win, even one that re-polls only the futures that were woken (see
//! [`hedge_rate`]).
//!
//! # Determinism
//!
//! Results depend only on the seeds and on the order in which calls reach the upstream. On
//! a current-thread runtime with paused time (what [`run_paused`] builds) that order is
//! fixed, so runs repeat exactly. On a multi-threaded runtime they do not. A layer that
//! seeds itself from entropy inside a run breaks this: [`run_paused`] warns about it and
//! [`run_deterministic`] refuses the run (see [`seawall_core::rng`]).

mod balance;
mod determinism;
mod events;
mod hedge;
mod load;
pub mod scenarios;
mod summary;
mod upstream;

pub use balance::balanced;
pub use determinism::{run_deterministic, run_paused, Unrepeatable};
pub use events::{EventLog, EventLogGuard, RecordedEvent};
pub use hedge::{hedge_rate, HedgeRate};
pub use load::{Arrivals, Load, LoadBuilder, Request};
pub use seawall_core::latency::{Latency, MAX_LATENCY};
pub use summary::{Percentiles, Second, Summary, WorstSecond};
pub use upstream::{
    unresolved_share, Abandonment, Capacity, Phase, Reply, Upstream, UpstreamBuilder,
    UpstreamError, UpstreamFuture, UpstreamStats, RESOLUTION_FLOOR,
};

pub use seawall_core::ConfigError;
