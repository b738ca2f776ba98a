//! Hedged requests: a slow call gets a second copy, and the first acceptable answer wins.
//!
//! # Why
//!
//! At scale, the slowest 1% of calls decide the latency users see: a page that needs 100
//! backend answers waits for the slowest. Most of that tail is not the request's fault — a
//! garbage collection, a full queue, a cold cache on one replica — so a second copy sent a
//! little later usually answers first. "The Tail at Scale" (Dean & Barroso, CACM 2013):
//! sending a second copy of a request unanswered after 10 ms cut a BigTable test's p99.9
//! from 1,800 ms to 74 ms for 2% more requests.
//!
//! Done naively, hedging goes wrong in three ways, and [`HedgeLayer`] closes each:
//!
//! - **The delay.** A fixed delay is right for one latency distribution only. The default
//!   delay is the 95th percentile of the last 500–1,000 latencies (at most 10 s old), learnt
//!   from the first 100 calls. A percentile learnt only from the answers that won is biased low (the slow first
//!   attempts that lost to their hedge are never seen, so the estimate falls and hedges
//!   grow); here a first attempt that lost, or that the caller dropped after the delay,
//!   counts as a latency of *at least* its time, which is exact for the question the delay
//!   asks ("is it slower than d?").
//! - **The load.** When the upstream slows down as a whole, a percentile follows it, but a
//!   fixed delay hedges every request, doubling the load on a struggling service. Hedges draw
//!   on a budget, by default 5% of each second's requests plus 10 per second; the budget can
//!   be the very [`RetryBudget`](seawall_retry::RetryBudget) a retry layer outside draws on
//!   ([`shared_budget`](HedgeLayerBuilder::shared_budget)), so retries and hedges together
//!   stay within one cap. And when hedges stop winning — at an upstream at capacity they
//!   wait in the same queue as the attempt they copy — a gate stops them
//!   ([`min_win_rate`](HedgeLayerBuilder::min_win_rate)).
//! - **The answer.** The first *acceptable* answer wins: a failure does not, but sends the
//!   next attempt at once (or after its `Retry-After`); an answer that says "do not retry" (a
//!   Seawall rejection, a `DoNotRetry` mark, `seawall-retry: no`) ends the request. The
//!   attempts still in flight are dropped at once, which cancels them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::BoxError;
//! use seawall_hedge::HedgeLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! // The first call hangs for a second; any other answers in 10 ms.
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let upstream = service_fn(move |_: ()| {
//!     let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!     async move {
//!         let ms = if n == 0 { 1000 } else { 10 };
//!         tokio::time::sleep(Duration::from_millis(ms)).await;
//!         Ok::<_, BoxError>(n)
//!     }
//! });
//! let layer = HedgeLayer::builder().delay(Duration::from_millis(20)).build().unwrap();
//! let service = ServiceBuilder::new().layer(layer.clone()).service(upstream);
//! let started = tokio::time::Instant::now();
//! assert_eq!(service.oneshot(()).await.unwrap(), 1, "the hedge answered");
//! assert_eq!(started.elapsed(), Duration::from_millis(30));
//! assert_eq!(layer.stats().won, 1);
//! # }
//! ```
//!
//! # Knobs and defaults
//!
//! | knob | default |
//! |---|---|
//! | [`percentile`](HedgeLayerBuilder::percentile) | 0.95: the delay is the p95 of recent latencies |
//! | [`min_samples`](HedgeLayerBuilder::min_samples) | 100 latencies before the first hedge |
//! | [`window_samples`](HedgeLayerBuilder::window_samples) | 1,000 (the percentile covers the last 500–1,000 latencies) |
//! | [`window`](HedgeLayerBuilder::window) | 10 s: older latencies leave the window |
//! | [`floor`](HedgeLayerBuilder::floor), [`ceiling`](HedgeLayerBuilder::ceiling) | 1 ms, 10 s |
//! | [`delay`](HedgeLayerBuilder::delay) | none: adaptive; a fixed delay replaces the percentile |
//! | [`per_key`](HedgeLayerBuilder::per_key) | off: one delay for every request; on, a delay per [`Policy::key`] (such as `HttpPolicy`'s authority, once `per_authority(true)` is set), for a bounded number of keys |
//! | [`max_extra_attempts`](HedgeLayerBuilder::max_extra_attempts) | 1 |
//! | [`max_extra_load`](HedgeLayerBuilder::max_extra_load), [`min_per_second`](HedgeLayerBuilder::min_per_second) | 5% of each second's requests, plus 10 hedges per second |
//! | [`min_win_rate`](HedgeLayerBuilder::min_win_rate) | 0.05: once 10 hedges went in 2 s, fewer than 5% winning stops hedging on the delay (one probe per 100 ms) |
//! | [`shared_budget`](HedgeLayerBuilder::shared_budget), [`budget`](HedgeLayerBuilder::budget), [`unlimited_budget`](HedgeLayerBuilder::unlimited_budget) | a fresh budget of this layer's own |
//! | [`policy`](HedgeLayerBuilder::policy) | [`HedgeErrors`]: `Ok` wins, errors are retried unless they say "do not retry" |
//! | [`name`](HedgeLayerBuilder::name) | empty (the `name` of its events) |
//!
//! Measured in the simulator (`docs/benchmarks.md`, `tests/figures.rs`): on "The Tail at
//! Scale"'s shape (98% ~10 ms, 2% ~1 s) at 1,000 requests/s, the defaults cut the whole
//! run's p99.9 from 1,092 ms to 24 ms (45×) for 2.1% more upstream calls (the share of slow
//! calls drawn; 3.35% in the worst second), hedging from the 100th call; when the distribution shifts to ten times
//! slower mid-run, p99.9 stays 45× and 14× below no hedging on either side.
//!
//! Why p95: it hedges about 5% of requests of a smooth distribution, the share "The Tail
//! at Scale" recommends, and on a bimodal one (most calls fast, a few very slow) it lands
//! at the top of the fast mode, where a hand-picked delay would be. tower's `Hedge` needs a
//! percentile, a minimum of samples and a rotation period, and learns nothing until its
//! first period has passed; tower-resilience and Polly hedge after a fixed delay only
//! (Polly's default is 2 s, past most tails).
//!
//! # Events
//!
//! Tracing events on the target **`seawall::hedge`**, with the fields `layer = "hedge"`,
//! `name` and `event`, all at `DEBUG`: `hedge` (an extra attempt sent; `attempt`, `reason`
//! `"delay"` or `"failure"`, `delay_ms`), `won` (an extra attempt's answer won), `lost` (an
//! extra attempt cancelled because another answered first), `cancelled` (the caller dropped
//! the request; `attempts` in flight), `budget_exhausted` (a due attempt refused by the
//! budget), `not_winning` (a hedge held back by the gate), `do_not_retry` (an answer ended
//! the request). Nothing on the fast path. With the `metrics` feature each also counts in
//! `seawall_events_total`; [`HedgeLayer::stats`] keeps the same counts. `HttpPolicy` (feature
//! `http`) also warns, once per layer, at `WARN` (`body_too_large`, with `cap`, `method`,
//! `uri`; not counted) when a request is not hedged because its body is over the replay cap.
//!
//! # Cost
//!
//! A call answered before the delay: one clone of the request and one of the inner service
//! (as tower's `Hedge` makes), one clock reading, a timer held inline (no allocation), one
//! budget deposit, and two atomic additions to record its latency (every 64th call also
//! reads the window to refresh the delay). An extra attempt is boxed when it is sent.

mod events;
pub mod future;
mod gate;
mod layer;
mod policy;
mod service;
mod window;

#[cfg(feature = "http")]
pub mod http;

pub use events::HedgeStats;
pub use layer::{HedgeLayer, HedgeLayerBuilder};
pub use policy::{says_do_not_retry, HedgeErrors, Policy, Verdict};
pub use seawall_core::ConfigError;
pub use service::Hedge;

#[cfg(feature = "http")]
pub use crate::http::HttpPolicy;
