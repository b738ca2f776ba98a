//! Rate limiting for tower services, on [governor](https://docs.rs/governor)'s GCRA.
//!
//! # Why not tower's `RateLimit`
//!
//! tower's `RateLimit` keeps its state in the service: every clone starts with a full
//! quota. axum clones the service for every request, so in `Router::layer` it limits
//! nothing (tower issue #794); it also answers a spent quota by not being ready, which
//! queues requests instead of refusing them. [`RateLimitLayer`] keeps **one limiter behind
//! an `Arc`**, shared by every service the layer makes and every clone of those, and
//! **refuses at once** in `call` with
//! [`RateLimited`](seawall_core::rejection::RateLimited), which carries the exact wait
//! until a request would be let through (through `seawall-http`'s `RejectionResponseLayer`:
//! 429 with that wait, rounded up, in `Retry-After`). `poll_ready` never fails.
//!
//! The arithmetic is governor's generic cell rate algorithm (GCRA): one atomic word per
//! limiter, no timer, no background task, and the wait is exact to the nanosecond. It reads
//! tokio's clock ([`TokioClock`]), so paused-time tests and simulations control it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::{find_rejection, BoxError};
//! use seawall_ratelimit::RateLimitLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! // 2 requests a second, in a burst of 2.
//! let layer = RateLimitLayer::builder(2, Duration::from_secs(1)).build().unwrap();
//! let svc = layer.layer(service_fn(|_: ()| async { Ok::<_, BoxError>("ok") }));
//! assert!(svc.clone().oneshot(()).await.is_ok());
//! assert!(svc.clone().oneshot(()).await.is_ok(), "clones share the one quota");
//! let err = svc.clone().oneshot(()).await.unwrap_err();
//! let wait = find_rejection(err.as_ref()).unwrap().retry_after();
//! assert_eq!(wait, Some(Duration::from_millis(500)), "the next cell is due in 500 ms");
//! tokio::time::advance(Duration::from_millis(500)).await;
//! assert!(svc.clone().oneshot(()).await.is_ok());
//! # }
//! ```
//!
//! # Keyed limits
//!
//! A limit per client rather than for everyone: [`key_by`](RateLimitBuilder::key_by) with
//! [`PeerIp`] (axum's `ConnectInfo`, feature `axum`), [`FromHeader`] (feature `http`) or
//! any [`KeyExtractor`], or [`key_by_fn`](RateLimitBuilder::key_by_fn) with a function of
//! the request. Each key has its own limiter with the same quota.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::BoxError;
//! use seawall_ratelimit::RateLimitLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! // Requests are tenant names here; 1 request a minute per tenant.
//! let layer = RateLimitLayer::builder(1, Duration::from_secs(60))
//!     .key_by_fn(|tenant: &&'static str| *tenant)
//!     .max_keys(1_000)
//!     .build()
//!     .unwrap();
//! let svc = layer.layer(service_fn(|_: &'static str| async { Ok::<_, BoxError>(()) }));
//! assert!(svc.clone().oneshot("acme").await.is_ok());
//! assert!(svc.clone().oneshot("acme").await.is_err(), "acme spent its minute");
//! assert!(svc.clone().oneshot("globex").await.is_ok(), "globex has its own");
//! assert_eq!(layer.keys(), 2);
//! # }
//! ```
//!
//! # Bounded memory
//!
//! Keys come from requests, so whoever sends requests chooses them. The limiters live in
//! core's [`KeyedTable`](seawall_core::keyed::KeyedTable): at most
//! [`max_keys`](RateLimitBuilder::max_keys) keys have a limiter of their own, however many
//! distinct keys arrive. A key's limiter may be forgotten to make room once the key has
//! sent nothing for the [idle timeout](RateLimitBuilder::idle_timeout), which is at least
//! the time a burst takes to refill: by then the limiter is full again, so being forgotten
//! never gives a key more than it had.
//!
//! **Overflow.** A new key that finds the table full, with no idle limiter among those it
//! looks at, does not get one: it is counted by one **overflow limiter** with the same
//! quota, shared by every key in that position, until room frees up. So a flood of new keys
//! gets, together, one key's rate — neither unlimited nor a denial of the keys already in
//! the table. [`overflow_requests`](RateLimitLayer::overflow_requests) counts how often
//! this happened; size `max_keys` so that it stays at zero in normal traffic.
//!
//! # Knobs
//!
//! | knob | default | meaning |
//! |---|---|---|
//! | `requests`, `per` ([`RateLimitLayer::builder`]) | — | the sustained rate: `requests` every `per`, one every `per / requests` |
//! | [`burst`](RateLimitBuilder::burst) | `requests` | how many may go at once after a quiet spell |
//! | [`max_keys`](RateLimitBuilder::max_keys) | 10,000 | keyed: keys with a limiter of their own |
//! | [`idle_timeout`](RateLimitBuilder::idle_timeout) | a burst's refill time (the least allowed) | keyed: idle time before a limiter may be forgotten |
//!
//! Every value is checked once, in `build`, which returns a
//! [`ConfigError`](seawall_core::ConfigError) naming the field.

mod builder;
mod clock;
pub mod future;
mod key;
mod layer;
mod limiter;
mod service;

pub use builder::RateLimitBuilder;
pub use clock::TokioClock;
#[cfg(feature = "http")]
pub use key::FromHeader;
#[cfg(feature = "axum")]
pub use key::PeerIp;
pub use key::{ExtractKey, KeyExtractor, KeyFn};
pub use layer::RateLimitLayer;
pub use limiter::{Admit, GlobalLimit, KeyedLimit, Limiter};
pub use service::RateLimit;
