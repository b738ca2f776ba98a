//! A circuit breaker for tower services.
//!
//! # Why a breaker
//!
//! When a dependency is failing, every call sent to it costs the caller a wait (often the
//! whole timeout) and costs the dependency load it cannot carry, which keeps it down for
//! longer. A breaker notices the failures, stops sending work for a while and fails fast
//! instead, then sends a few probe calls to find out whether the dependency has healed.
//!
//! Users of breakers report the same bugs again and again: half-open letting far more than
//! the configured probes through under concurrency, half-open stuck forever because a probe
//! never finished, and stale results from before a trip deciding what happens after it.
//! This breaker is built so that none of those can happen:
//!
//! - **Exact probes.** Half-open hands out probe permits with a compare-and-swap on one
//!   atomic word, so exactly `probes` calls go through, however many race: the first
//!   alone, the rest once it has succeeded. A probe's future holds its permit and gives it
//!   back when dropped unfinished.
//! - **Never stuck.** When no further probe may go (the first is out alone, or all are
//!   out) and none has finished for the [probe timeout](CircuitBreakerBuilder::probe_timeout), the next
//!   call reopens the breaker.
//! - **Epochs.** Every transition bumps an epoch in the same word, and a call's outcome
//!   counts only in the epoch it was admitted in. A call told "go" by `poll_ready` is
//!   decided again in `call` if the breaker moved on in between.
//! - **Deadlines.** A request whose [deadline](seawall_core::deadline::Deadline::current)
//!   has passed is refused with `DeadlineExceeded`, neither sent nor counted, and never
//!   takes a probe permit; a probe holds half-open no longer than its own deadline. The
//!   keyed and per-endpoint breakers do the same, with the same code (`docs/deadlines.md`).
//! - **Fast.** A closed breaker admits a call with one atomic load and records a success
//!   with a few more, without a lock or an allocation (see `docs/benchmarks.md`).
//!
//! A proptest drives the breaker and a small reference model with the same random
//! sequences of calls, outcomes, clock advances and manual commands and checks that they
//! agree on every decision.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_breaker::{CircuitBreakerLayer, State};
//! use seawall_core::{find_rejection, RejectionKind};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! let layer = CircuitBreakerLayer::builder()
//!     .consecutive_failures(3)
//!     .open_duration(Duration::from_secs(5))
//!     .fixed_open_duration()
//!     .build()
//!     .unwrap();
//! let handle = layer.handle();
//! let svc = layer.layer(service_fn(|fail: bool| async move {
//!     if fail { Err("upstream down") } else { Ok("fine") }
//! }));
//!
//! for _ in 0..3 {
//!     let _ = svc.clone().oneshot(true).await;
//! }
//! assert_eq!(handle.state(), State::Open);
//!
//! // Open: rejected at once, with the remaining open time as the retry-after hint.
//! let err = svc.clone().oneshot(false).await.unwrap_err();
//! let rejection = find_rejection(err.as_ref()).unwrap();
//! assert_eq!(rejection.kind(), RejectionKind::CircuitOpen);
//! assert_eq!(rejection.retry_after(), Some(Duration::from_secs(5)));
//!
//! // After the open time, probes go through (the first alone); three successes close it.
//! tokio::time::advance(Duration::from_secs(5)).await;
//! for _ in 0..3 {
//!     svc.clone().oneshot(false).await.unwrap();
//! }
//! assert_eq!(handle.state(), State::Closed);
//! # }
//! ```
//!
//! # Knobs and defaults
//!
//! | knob | default | |
//! |---|---|---|
//! | [`consecutive_failures`](CircuitBreakerBuilder::consecutive_failures) | 20 | trips after this many failures in a row |
//! | [`failure_rate`](CircuitBreakerBuilder::failure_rate) | 0.5 | trips when this share of the window failed… |
//! | [`count_window`](CircuitBreakerBuilder::count_window) / [`time_window`](CircuitBreakerBuilder::time_window) | last 100 calls | …over this window… |
//! | [`min_calls`](CircuitBreakerBuilder::min_calls) | 20 | …once it holds this many calls |
//! | [`slow_calls`](CircuitBreakerBuilder::slow_calls) | off | trips when this share of the window took this long or more |
//! | [`open_duration`](CircuitBreakerBuilder::open_duration) | 1 s | open time after a trip: at most one probe per open time |
//! | [`open_backoff`](CircuitBreakerBuilder::open_backoff) | off (×1) | optional growth on trips that follow each other without closing |
//! | [`jitter`](CircuitBreakerBuilder::jitter) / [`seed`](CircuitBreakerBuilder::seed) | 0.1, random seed | open times lengthened by up to this share |
//! | [`probes`](CircuitBreakerBuilder::probes) | 3 | probe calls in half-open, the first alone; all must succeed |
//! | [`probe_timeout`](CircuitBreakerBuilder::probe_timeout) | 10 s | half-open with no progress this long reopens (a probe's request deadline, if sooner, ends its share) |
//! | [`classify`](CircuitBreakerBuilder::classify) | errors are failures | any [`seawall_core::Classify`] |
//!
//! A success never trips the breaker; conditions are checked on each failure or slow call.
//!
//! ## Why these defaults
//!
//! Polly (v8) trips at a **10%** failure ratio over **30 s** with at least **100** calls
//! and breaks for **5 s**; resilience4j trips at **50%** over the last **100** calls (at
//! least 100) and stays open 60 s. 10% is a brownout threshold: a dependency that fails
//! one call in ten still serves nine, and cutting it off turns a 10% error rate into a
//! 100% one for the caller. So the default is resilience4j's **50%**: the breaker opens
//! when calls fail more often than they succeed, when sending them does more harm than
//! good. The window is the last **100** calls like both, but the minimum is **20** calls
//! rather than 100, which is enough to tell "more than half fail" from a healthy few
//! percent while letting a service with modest traffic trip in time. Because a count window
//! full of old successes fills slowly at low traffic, **20 failures in a row** also trip it
//! (Envoy and Finagle eject on 5, but they eject one host of many; a whole dependency
//! deserves more evidence: with 1% background errors 20 in a row never happens, and even at
//! 10% it is a one-in-10²⁰ event). Half-open sends **3** probes (Polly sends 1,
//! resilience4j 10): one lucky success should not close the breaker, and ten calls is a lot
//! to send to something that may still be down. The first goes **alone** and the other two
//! follow once it succeeds, so a half-open that finds the dependency still down costs it
//! one call, and one that finds it healed closes after two round trips.
//!
//! ## Why a steady trickle of probes, not growing open times
//!
//! There are two ways to keep probes from hurting a dependency that stays down: open for
//! longer after each failed probe (Polly and resilience4j can; Seawall did by default,
//! 5 s doubling up to 60 s), or probe at a steady, low rate. Growth costs the caller at the
//! end of every outage: the breaker notices a heal only when its current open time runs
//! out. In the lab's outage scenario (1,000 req/s, upstream down from 20 s to 30 s) the
//! probe at 25 s failed, the open time doubled to ~10 s, and the breaker stayed open 3.8 s
//! past the heal: 77.1% of calls succeeded against 83.6% with no breaker at all. The
//! breaker made things worse.
//!
//! So the default is a trickle: open for **1 s**, lengthened (never shortened) by up to
//! **10%** jitter so many clients drift apart, with no growth. A breaker then probes at
//! most once per second — one call, as the first probe goes alone — and notices a heal
//! within 1.1 s plus two round trips. Measured in the simulator on the lab's scenario
//! (`cargo test -p seawall-breaker --test sim -- --nocapture the_defaults`):
//!
//! | | defaults | no breaker |
//! |---|---|---|
//! | success over the 60 s run (seed 1) | 82.28% | 83.33% |
//! | time to trip | 29 ms (20 failures in a row) | |
//! | closed after the heal | 0.63 s | |
//! | upstream calls during the 10 s outage | 35 (0.35% of 9,999) | 9,999 |
//! | worst second of the outage | 26 calls (the trip's failures, second 20) | ~1,000 |
//! | probes over a 10-minute outage | 0.95/s (worst second: 1) | |
//!
//! A fleet of N clients sends a dead dependency up to N probes a second; where that is too
//! many, [`open_backoff`](CircuitBreakerBuilder::open_backoff) brings growth back (and the late
//! recovery with it).
//!
//! # Keyed breakers
//!
//! [`KeyedCircuitBreakerLayer`] keeps one breaker per key (a host, a route, anything a
//! function of the request can name), with bounds on the number of keys and on the metric
//! labels they make; see [`keyed`]. A key function may return `None` to let a request past
//! every breaker ([`KeyedCircuitBreakerBuilder::optional`]).
//!
//! # Inbound and outbound breakers
//!
//! A breaker in front of a client (outbound) protects a dependency and fails fast while it
//! is down. A breaker in a server (inbound) must be keyed per route: axum's
//! `Router::layer` wraps each route in a clone of the layer, so a plain breaker there is
//! one breaker for the whole server, and one route whose downstream is down opens it for
//! every route, health checks included. With the `axum` feature,
//! `keyed::axum::matched_route` keys breakers by the route axum matched. The guide
//! `docs/breakers.md` (in the repository) shows where each goes in axum and tower stacks
//! and how to keep health routes out; `examples/axum_server.rs` runs it.
//!
//! # HTTP
//!
//! With the `http` feature, [`http::builder`] gives a breaker whose failures are the
//! transient statuses and errors of `seawall-http` (other 4xx count as successes), and
//! [`http::authority`] / [`http::route`] key a [`KeyedCircuitBreakerLayer`] by host or route.
//! A rejection's [`CircuitOpen`] carries the remaining open time, which `seawall-http`'s
//! rejection response turns into `503` with `Retry-After`.
//!
//! # Observation
//!
//! [`BreakerHandle`] reads the state and the [`Metrics`] (counts since the breaker was
//! built, and the current half-open's permits and successes) and steers the breaker by hand
//! (force open, force closed, disabled, metrics-only, reset). Every transition is a
//! tracing event with target `seawall::breaker` and the fields `layer` (`"breaker"`),
//! `name`, `key` (a keyed breaker's), `event` (the state entered, or `would_trip`),
//! `state` and `reason` (`consecutive_failures`, `failure_rate`, `slow_calls`,
//! `open_time_over`, `probe_failed`, `probe_timeout`, `probes_succeeded` or `manual`); with
//! the feature `metrics` it also increments the counter `seawall_events_total` with the
//! labels `layer = "breaker"`, `name` and `event`. The handle's
//! [`subscribe`](BreakerHandle::subscribe) channel holds the latest state: a receiver
//! that looks less often than the breaker moves skips the states in between, while the
//! events and metrics see every transition.

mod admission;
mod config;
pub mod endpoint;
pub mod error;
mod events;
pub mod future;
mod handle;
#[cfg(feature = "http")]
pub mod http;
pub mod keyed;

mod layer;
mod rng;
mod schedule;
mod service;
mod shared;
mod snapshot;
mod state;
mod window;

pub use config::{CircuitBreakerBuilder, Window};
pub use error::{CircuitOpen, ConfigError};
pub use handle::BreakerHandle;

pub use keyed::{KeyedCircuitBreaker, KeyedCircuitBreakerBuilder, KeyedCircuitBreakerLayer};
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreaker;
pub use snapshot::Metrics;
pub use state::State;

/// The old name of [`CircuitBreakerBuilder`].
#[deprecated(since = "0.1.0", note = "renamed to `CircuitBreakerBuilder`")]
pub type Builder<C = seawall_core::ErrorsAreFailures> = CircuitBreakerBuilder<C>;

/// The old name of [`KeyedCircuitBreakerBuilder`].
#[deprecated(since = "0.1.0", note = "renamed to `KeyedCircuitBreakerBuilder`")]
pub type KeyedBuilder<F, C = seawall_core::ErrorsAreFailures> = KeyedCircuitBreakerBuilder<F, C>;
