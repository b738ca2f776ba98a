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
//! tokio's timer fires on millisecond ticks: a sleep ends at the first tick at or after its
//! deadline. Simulated latencies are therefore rounded up to the millisecond, exactly as
//! every timer in a real tokio program is. Model service times in milliseconds or more.
//!
//! # Determinism
//!
//! Results depend only on the seeds and on the order in which calls reach the upstream. On
//! a current-thread runtime with paused time (what [`run_paused`] builds) that order is
//! fixed, so runs repeat exactly. On a multi-threaded runtime they do not.

use std::future::Future;

mod events;
mod hedge;
mod load;
mod summary;
mod upstream;

pub use events::{EventLog, EventLogGuard, RecordedEvent};
pub use hedge::{hedge_rate, HedgeRate};
pub use load::{Arrivals, Load, LoadBuilder, Request};
pub use seawall_core::latency::{Latency, MAX_LATENCY};
pub use summary::{Percentiles, Second, Summary};
pub use upstream::{
    unresolved_share, Abandonment, Capacity, Phase, Reply, Upstream, UpstreamBuilder,
    UpstreamError, UpstreamFuture, UpstreamStats, RESOLUTION_FLOOR,
};

pub use seawall_core::ConfigError;

/// Runs `future` to completion on a fresh current-thread runtime whose clock starts paused,
/// so that sleeps complete instantly, in order, and repeatably.
///
/// # Panics
///
/// If the runtime cannot be built (the OS refused the resources a runtime needs), or if
/// `future` panics.
pub fn run_paused<F: Future>(future: F) -> F::Output {
    #[allow(clippy::expect_used)]
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("failed to build a tokio runtime");
    runtime.block_on(future)
}
