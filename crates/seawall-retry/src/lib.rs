//! Retries with a budget: transient faults are retried, outages are not multiplied.
//!
//! # Why
//!
//! A retry saves a request from a transient fault — a dropped connection, a restarting
//! host. Done naively it turns an outage into a retry storm: three retries per request send
//! a failing dependency four times its normal load exactly when it can least take it, and
//! every tier of a call graph that retries multiplies that again (3 tiers × 3 retries: 64×).
//!
//! [`RetryLayer`] bounds both:
//!
//! - A [`RetryBudget`] shared by every clone and task: original requests deposit, retries
//!   withdraw, and retries may add at most `percent_can_retry` (20%) of the requests plus a
//!   floor (10 per second) over a sliding window (10 s). Under an outage the dependency sees
//!   at most about 1.2× the traffic, however long it lasts; a 1% fault rate is retried in
//!   full. When the budget is empty the caller gets the original failure.
//! - Failures that say "do not retry" are not retried: Seawall's own rejections
//!   ([`Overloaded`](seawall_core::rejection::Overloaded),
//!   [`CircuitOpen`](seawall_core::rejection::CircuitOpen), …) and failures that a retry
//!   layer below already gave up on ([`DoNotRetry`]). So only the tier directly above a
//!   failure retries it, as the Google SRE book advises.
//! - Backoff (constant, linear, exponential) with a cap and jitter (full, equal,
//!   decorrelated), deterministic under a seed; a `Retry-After` hint replaces it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use seawall_core::BoxError;
//! use seawall_retry::RetryLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! // A service that fails its first call.
//! let calls = Arc::new(AtomicU32::new(0));
//! let flaky = {
//!     let calls = calls.clone();
//!     service_fn(move |name: &'static str| {
//!         let n = calls.fetch_add(1, Ordering::Relaxed);
//!         async move {
//!             if n == 0 {
//!                 Err::<String, BoxError>("connection reset".into())
//!             } else {
//!                 Ok(format!("hello, {name}"))
//!             }
//!         }
//!     })
//! };
//! let service = ServiceBuilder::new()
//!     .layer(RetryLayer::builder().seed(7).build().unwrap())
//!     .service(flaky);
//! assert_eq!(service.oneshot("world").await.unwrap(), "hello, world");
//! assert_eq!(calls.load(Ordering::Relaxed), 2);
//! # }
//! ```
//!
//! # Knobs and defaults
//!
//! | knob | default |
//! |---|---|
//! | [`max_attempts`](RetryLayerBuilder::max_attempts) | 3 (two retries) |
//! | [`backoff`](RetryLayerBuilder::backoff) | exponential from 50 ms, ×2, cap 3 s, full jitter |
//! | [`max_retry_after`](RetryLayerBuilder::max_retry_after) | 10 s: a longer `Retry-After` is cut to it |
//! | [`budget`](RetryLayerBuilder::budget) | a fresh [`RetryBudget::default`]: 20% + 10/s over 10 s |
//! | [`policy`](RetryLayerBuilder::policy) | [`RetryErrors`]: every `BoxError` except "do not retry" ones |
//! | [`seed`](RetryLayerBuilder::seed) | random |
//! | [`name`](RetryLayerBuilder::name) | empty (the `name` of its events) |
//!
//! Invalid values are a [`ConfigError`] from [`build`](RetryLayerBuilder::build) naming the
//! field, never a panic at request time.
//!
//! # The "do not retry" signal across tiers
//!
//! In one process the signal is the [`DoNotRetry`] error mark: turn on
//! [`RetryErrors::mark_give_ups`] and a failure this layer gave up on (attempts or budget
//! exhausted) is wrapped in it, and no [`RetryErrors`] layer above retries it. Over HTTP the
//! same signal is the response header **`seawall-retry: no`**: a service whose retry layer
//! gave up on a failure, or that answers with an overloaded or open-circuit rejection, adds
//! it to its response, and the caller's `HttpPolicy` (feature `http`) does not retry a response
//! that carries it. The header belongs to `seawall-http` (`seawall_http::retry_signal`), whose
//! `RejectionResponse` sets it on every rejection; `HttpPolicy` sets it on give-ups. Other clients may honour
//! it too: it means "this failure was already retried as much as is wise below me; retrying it
//! will only add load".
//!
//! # Events
//!
//! Through [`seawall_core::Events`] with layer `retry`: `retry` (debug, when a retry is
//! sent; the wait before it is recorded as the duration `backoff` when it is decided),
//! `budget_exhausted` (warn), `give_up` when attempts run out, `not_replayable` (when a
//! retry is due, or when it is about to be sent after its backoff), `do_not_retry` (debug).
//! Nothing on the success path.
//!
//! A retry is drawn from the budget when it is sent. While it waits out its backoff the
//! layer holds the failure being retried (for HTTP, the response with its unread body): if
//! the request stopped being replayable meanwhile, or the budget ran dry, that failure is
//! what the caller gets, and nothing is drawn.
//!
//! # Cost
//!
//! The success path (the first attempt succeeds) is one budget deposit (one atomic
//! compare-and-swap), one clone of the request through the policy (free for `Copy`
//! requests) and, only when that clone can be retried, one clone of the inner service, with
//! no allocation of its own (the policy is shared, not cloned); see
//! `docs/benchmarks.md`. (An HTTP request's copy clones its headers, which allocates; its
//! body is shared, not copied.) The retry path allocates nothing either: the backoff timer
//! lives inside the response future.

mod backoff;
mod budget;
pub mod error;
mod events;
pub mod future;
mod layer;
mod policy;
mod service;

#[cfg(feature = "http")]
pub mod http;

pub use backoff::{Backoff, Jitter};
pub use budget::{RetryBudget, RetryBudgetBuilder, Withdrawal};
pub use error::{ConfigError, DoNotRetry};
pub use layer::{RetryLayer, RetryLayerBuilder};
pub use policy::{Described, Policy, RetryErrors, Verdict};
pub use service::Retry;

#[cfg(feature = "http")]
pub use crate::http::HttpPolicy;
