//! One breaker per key: per upstream host on the client side, per route on the server side.
//!
//! # Why keyed
//!
//! One breaker in front of many destinations turns one destination's outage into everyone's:
//! when it opens, it fails fast for the healthy ones too. On a server that is worse: axum's
//! `Router::layer` wraps every route in a clone of the layer, so a plain breaker there is
//! one breaker for the whole server, and a single route whose downstream fails (answering
//! 503) opens it for `/health` and every other route. A keyed breaker keeps one breaker per
//! key — a host, a route, a tenant — so only the failing one is failed fast. The guide
//! `docs/breakers.md` shows where inbound and outbound breakers go.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use seawall_breaker::{CircuitBreakerLayer, KeyedCircuitBreakerBuilder, State};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! // Requests are (route, should fail); "/health" bypasses the breakers.
//! let layer = KeyedCircuitBreakerBuilder::optional(|req: &(&'static str, bool)| {
//!     (req.0 != "/health").then_some(req.0)
//! })
//! .breaker(CircuitBreakerLayer::builder().consecutive_failures(2))
//! .build()
//! .unwrap();
//! let svc = layer.layer(service_fn(|(_, fail): (&'static str, bool)| async move {
//!     if fail { Err("down") } else { Ok(()) }
//! }));
//! for route in ["/orders", "/orders", "/health", "/health"] {
//!     let _ = svc.clone().oneshot((route, true)).await;
//! }
//! assert_eq!(layer.handle(&"/orders").unwrap().state(), State::Open);
//! assert!(svc.clone().oneshot(("/orders", false)).await.is_err(), "failed fast");
//! assert!(svc.clone().oneshot(("/users", false)).await.is_ok(), "its own breaker");
//! assert!(svc.clone().oneshot(("/health", false)).await.is_ok(), "no breaker at all");
//! assert!(layer.handle(&"/health").is_none());
//! # }
//! ```
//!
//! # Bounded memory
//!
//! Keys come from requests, and requests may come from anyone: a breaker per key must not
//! let a flood of made-up keys exhaust memory. The breakers live in core's
//! [`KeyedTable`](seawall_core::keyed::KeyedTable): at most
//! [`max_keys`](KeyedCircuitBreakerBuilder::max_keys) keys get a breaker of their own. A breaker is
//! forgotten only when its key has gone unused for the
//! [idle timeout](KeyedCircuitBreakerBuilder::idle_timeout) and nothing holds it (no call in flight, no
//! [`BreakerHandle`](crate::BreakerHandle)); an **open breaker is kept until its open time
//! ends**, however short the idle timeout, so that its key's next request is not let
//! through to the failing host by a fresh, closed breaker; and a breaker set by hand stays
//! until reset. A breaker in use is never forgotten to make room, so a flood of new keys
//! cannot wipe an outage a key's breaker is counting towards (19 failures of 20, say).
//!
//! When a new key arrives and the table is full, it looks at up to 16 of the table's
//! breakers in turn and forgets those that may go; if that made room, the new key gets its
//! own breaker. Otherwise it shares one **overflow breaker** with the other keys that found
//! no room, until room frees up: see [`max_keys`](KeyedCircuitBreakerBuilder::max_keys) for that blast
//! radius and [`overflow_requests`](KeyedCircuitBreakerLayer::overflow_requests) for how
//! often it happens.
//!
//! Finding a known key's breaker takes one of 16 shards' read locks for a hash lookup and
//! clones an `Arc`; no global lock, no allocation. Memory is bounded by `max_keys`
//! breakers (plus the overflow one): each costs two copies of its key, about a kilobyte of
//! fixed state and its window (one byte per call of a
//! [count window](crate::CircuitBreakerBuilder::count_window), three 8-byte counters per bucket of a
//! [time window](crate::CircuitBreakerBuilder::time_window)). With the defaults (1,024 keys, the last
//! 100 calls) that is about a megabyte.
//!
//! # Metric labels
//!
//! Each key's breaker is named `<name>/<key>` in events and metrics, for the first
//! [`max_labels`](KeyedCircuitBreakerBuilder::max_labels) keys (default 100); later keys share the name
//! `<name>/other`, so that keys chosen by whoever sends requests cannot create unlimited
//! metric series. The overflow breaker is `<name>/overflow`.

#[cfg(feature = "axum")]
pub mod axum;
mod builder;
pub mod future;
mod keys;
mod layer;
mod service;

pub use builder::KeyedCircuitBreakerBuilder;
pub use layer::KeyedCircuitBreakerLayer;
pub use service::KeyedCircuitBreaker;

/// How a keyed breaker finds a request's key: `None` sends the request past every breaker.
///
/// Implemented by every `Fn(&Req) -> K` (every request has a key; see
/// [`KeyedCircuitBreakerBuilder::new`]) and by [`Optional`] (see [`KeyedCircuitBreakerBuilder::optional`]).
pub trait KeyFn<Req> {
    /// The key.
    type Key;

    /// The key of `request`, if it has one.
    fn key(&self, request: &Req) -> Option<Self::Key>;
}

impl<Req, K, F: Fn(&Req) -> K> KeyFn<Req> for F {
    type Key = K;

    #[inline]
    fn key(&self, request: &Req) -> Option<K> {
        Some(self(request))
    }
}

/// A key function returning `Option<K>`, made by [`KeyedCircuitBreakerBuilder::optional`]: a request
/// whose key is `None` bypasses the breakers.
#[derive(Clone, Copy, Debug)]
pub struct Optional<F>(pub(crate) F);

impl<Req, K, F: Fn(&Req) -> Option<K>> KeyFn<Req> for Optional<F> {
    type Key = K;

    #[inline]
    fn key(&self, request: &Req) -> Option<K> {
        (self.0)(request)
    }
}
