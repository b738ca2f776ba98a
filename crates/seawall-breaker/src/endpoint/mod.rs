//! A breaker per endpoint of a load balancer: a failing replica is taken out of rotation.
//!
//! # Why
//!
//! A client that spreads load over several replicas (tower's
//! [p2c `Balance`](https://docs.rs/tower/latest/tower/balance/p2c/struct.Balance.html))
//! keeps sending a share of its requests to a replica that fails every one of them: p2c
//! compares the load of two ready endpoints, and a replica that fails fast looks *less*
//! loaded, not more. One breaker in front of the balancer would not help either: it would
//! see a third of the calls fail and, whether it tripped or not, it would fail fast for the
//! healthy replicas too. What Envoy's outlier detection and Linkerd's failure accrual do
//! instead is keep a breaker per endpoint and take an endpoint whose breaker is open out of
//! the balancer's rotation until it has healed.
//!
//! [`EndpointBreakerLayer`] does that for tower balancers. Each endpoint gets its own
//! breaker (the same state machine as [`CircuitBreaker`](crate::CircuitBreaker), with the
//! same knobs). While the breaker is open, the endpoint's `poll_ready` returns `Pending`:
//! the balancer moves it out of its ready set and sends to the others.
//!
//! ## Why `Pending`, against the rule
//!
//! Every other Seawall layer that rejects (the plain breaker, load shedding) reports
//! `Ready` and fails fast in `call`: a layer in front of one dependency should answer at
//! once rather than leave the caller waiting. Here the caller is a balancer with other
//! choices, and `Ready` would be the wrong answer: p2c calls `poll_ready` only on the two
//! endpoints it samples, and sends to the one ready with the lower load; an open breaker
//! that says `Ready` and fails fast is a ready endpoint with almost no load, so it would
//! attract *more* requests, each one failed. `Pending` is what tower's balancer
//! understands as "not now": its ready cache parks the endpoint and polls it again only
//! when the endpoint's task is woken. So this layer:
//!
//! - returns `Pending` while its breaker is open, and arms a timer for the end of the open
//!   time, which wakes the balancer: the endpoint is polled again, its breaker goes
//!   half-open and the probe is let through;
//! - returns `Pending` while its probe is out alone, and wakes the balancer when the probe
//!   finishes (or after one open duration at the latest): the endpoint is ready again as
//!   soon as the breaker closes, or parked again if the probe failed;
//! - never returns an error from `poll_ready`: a balancer drops an endpoint that does.
//!
//! A call the balancer makes after `poll_ready` said `Ready` but after the breaker tripped
//! (the outcome of an earlier call landed in between) is failed fast with
//! [`CircuitOpen`](crate::CircuitOpen), as no service may make `call` wait.
//!
//! ## The ejection cap
//!
//! If every endpoint were ejected, the balancer would have nowhere to send, and every
//! request would wait. Failures across all replicas at once usually mean the cause is not
//! the replicas (the client's network, a shared dependency, an overload that ejecting
//! would only worsen). So, like Envoy's `max_ejection_percent`, at most
//! [`max_ejected`](EndpointBreakerBuilder::max_ejected) of the endpoints (default half, rounded
//! down) are ejected at once; the [`EjectionCap`] counts them. An endpoint whose breaker
//! opens when the cap is full stays ready and its calls go through to the replica
//! (uncounted by its breaker, which still probes when its open time ends); it is ejected
//! at its next `poll_ready` after a slot frees up. An endpoint holds its slot until its
//! breaker closes, so a half-open replica counts as ejected.
//!
//! # Example
//!
//! Three replicas behind p2c, each behind its own breaker; replica 0 fails every call.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use seawall_breaker::endpoint::EndpointBreakerLayer;
//! use seawall_breaker::CircuitBreakerLayer;
//! use tower::balance::p2c::Balance;
//! use tower::discover::ServiceList;
//! use tower::load::{CompleteOnResponse, PendingRequests};
//! use tower::{service_fn, Layer, Service, ServiceExt};
//!
//! let layer = EndpointBreakerLayer::builder()
//!     .breaker(CircuitBreakerLayer::builder().consecutive_failures(5).seed(1))
//!     .build()
//!     .unwrap();
//! let to_zero = Arc::new(AtomicUsize::new(0));
//! let replicas = (0..3).map(|i| {
//!     let to_zero = to_zero.clone();
//!     let replica = service_fn(move |_: ()| {
//!         if i == 0 { to_zero.fetch_add(1, Ordering::Relaxed); }
//!         async move { if i == 0 { Err("replica 0 is down") } else { Ok(i) } }
//!     });
//!     // The breaker inside, the load measure outside it.
//!     PendingRequests::new(layer.layer(replica), CompleteOnResponse::default())
//! });
//! let mut balancer = Balance::new(ServiceList::new(replicas.collect::<Vec<_>>()));
//!
//! let mut failed = 0;
//! for _ in 0..300 {
//!     if balancer.ready().await.unwrap().call(()).await.is_err() { failed += 1; }
//! }
//! // Replica 0 got its 5 failures, then was taken out of rotation.
//! assert_eq!(failed, 5);
//! assert_eq!(to_zero.load(Ordering::Relaxed), 5);
//! assert_eq!(layer.ejection_cap().ejected(), 1);
//! # }
//! ```
//!
//! # Knobs and defaults
//!
//! | knob | default | |
//! |---|---|---|
//! | [`breaker`](EndpointBreakerBuilder::breaker) | the breaker's defaults | each endpoint's breaker: trips, open time, probes (see the [crate docs](crate#knobs-and-defaults)) |
//! | [`max_ejected`](EndpointBreakerBuilder::max_ejected) | 0.5 | the largest share of endpoints ejected at once, rounded down |
//!
//! The breaker's defaults suit an endpoint: 20 failures in a row (or half of the last 100
//! calls, with 20 at least) eject it, it is probed about once a second, and three probes
//! in a row bring it back. Envoy ejects on 5 consecutive 5xx for 30 s and growing; the
//! breaker's steady 1 s probing readmits a healed replica within about a second. Each
//! endpoint's breaker is named in events with the key `endpoint-<n>`, `n` counting the
//! endpoints the layer made.
//!
//! # Figures
//!
//! In the simulator, three replicas at 1,000 req/s in all behind p2c, one failing every
//! call for 20 s: see `docs/benchmarks.md` ("Per-endpoint breakers behind a balancer") and
//! `crates/seawall-breaker/tests/endpoint_sim.rs`.

mod cap;
pub mod future;
mod layer;
mod service;

pub use cap::EjectionCap;
pub use layer::{EndpointBreakerBuilder, EndpointBreakerLayer};
pub use service::EndpointBreaker;
