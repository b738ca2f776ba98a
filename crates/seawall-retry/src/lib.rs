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
//!   withdraw, a retry that succeeds is refunded, and in any second the retries may add at
//!   most `percent_can_retry` (20%) of that second's requests plus a floor (10). Under an
//!   outage the dependency sees at most 1.2× the traffic plus 10 in *every* second, the
//!   first one included (nothing saved up while healthy is spent at the onset); a burst of
//!   30% transient errors or a steady 1% is retried in full. When the budget is empty the
//!   caller gets the original failure.
//! - What is a failure is the one classification every Seawall layer shares: the policy's
//!   [`Classify`](seawall_core::Classify) gives an [`Outcome`](seawall_core::Outcome), and a
//!   `Failure` is retried where the breaker would count it ([`Verdict::of`] combines it
//!   with the "do not retry" mark and the retry-after hint, in one place).
//! - Failures that say "do not retry" ([`seawall_core::do_not_retry`]) are not retried: Seawall's own rejections
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
//! | [`max_retry_after`](RetryLayerBuilder::max_retry_after) | 10 s: a failure asking for a longer `Retry-After` is not retried |
//! | [`clamp_retry_after`](RetryLayerBuilder::clamp_retry_after) | off: on, a longer `Retry-After` is cut to `max_retry_after` and retried then |
//! | [`budget`](RetryLayerBuilder::budget) | a fresh [`RetryBudget::default`]: failed retries ≤ 20% of each second's requests + 10 |
//! | [`policy`](RetryLayerBuilder::policy) | [`RetryErrors`]: every `BoxError` ([`ErrorsAreFailures`](seawall_core::ErrorsAreFailures), or the classifier you give it) except "do not retry" ones |
//! | [`seed`](RetryLayerBuilder::seed) | random |
//! | [`name`](RetryLayerBuilder::name) | empty (the `name` of its events) |
//!
//! Invalid values are a [`ConfigError`] from [`build`](RetryLayerBuilder::build) naming the
//! field, never a panic at request time.
//!
//! # The "do not retry" signal across tiers
//!
//! In one process the signal is the [`DoNotRetry`] error mark (defined in
//! [`seawall_core::retry_signal`], re-exported here): turn on
//! [`RetryErrors::mark_give_ups`] and a failure this layer gave up on (attempts or budget
//! exhausted) is wrapped in it, and no [`RetryErrors`] layer above retries it.
//!
//! Only what this layer gave up on is marked: a failure it retried until the attempts ran
//! out, or whose retry its budget refused. A failure it retried nothing of passes through
//! unmarked, so a tier above may still retry it: with `max_attempts(1)`, a `Retry-After`
//! longer than `max_retry_after`, or a request that cannot be replayed. A budget refusal is
//! marked although no retry was sent, because it means this tier's retries are already
//! failing at the full share: a tier above that retried then would multiply the load the
//! budget bounds (two tiers in an outage: 1.46× in the worst second without the mark, 1.21×
//! with it; `tests/figures.rs`). Over HTTP the
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
//! Tracing events on the target **`seawall::retry`** (filter them with
//! `RUST_LOG=seawall::retry=debug`), each (`body_too_large` aside) with the fields `layer = "retry"`, `name` (the
//! layer's [`name`](RetryLayerBuilder::name)), `event`, `attempt` and `outcome` (the status
//! or the error, from [`Policy::describe`]):
//!
//! | event | level | when | more fields |
//! |---|---|---|---|
//! | `retry` | debug | a retry is sent; `attempt` is its number (2 for the first retry) | `backoff_ms`, the wait before it, and `retry_after`, whether a `Retry-After` chose it |
//! | `give_up` | debug | the attempts ran out after at least one retry | |
//! | `budget_exhausted` | warn | the budget refused a retry | |
//! | `retry_after_too_long` | debug | the callee asked for a wait over `max_retry_after` | |
//! | `not_replayable` | debug | a retry was due but the request cannot be sent again | |
//! | `deadline` | debug | the request's deadline leaves no time for the retry | |
//! | `do_not_retry` | debug | the failure says "do not retry" | |
//! | `body_too_large` | warn, once per layer | `HttpPolicy`: a request that could be retried has a body over the replay cap, so it will not be | `cap`, `method`, `uri` |
//!
//! Nothing on the success path. With the `metrics` feature each event also counts in
//! `seawall_events_total` (labels `layer`, `name`, `event`), each chosen wait is recorded in
//! the histogram `seawall_duration_seconds` (`what = "backoff"`), and the budget keeps its
//! own counters (see [`RetryBudget`]).
//!
//! A retry is drawn from the budget when it is sent, and refunded if its result is done. While it waits out its backoff the
//! layer holds the failure being retried (for HTTP, the response with its unread body): if
//! the request stopped being replayable meanwhile, or the budget ran dry, that failure is
//! what the caller gets, and nothing is drawn.
//!
//! # Cost
//!
//! The success path (the first attempt succeeds) is one budget deposit (one atomic
//! compare-and-swap and one atomic increment), one clone of the request through the policy (free for `Copy`
//! requests) and, only when that clone can be retried, one clone of the inner service, with
//! no allocation of its own (the policy is shared, not cloned); see
//! `docs/benchmarks.md`. (An HTTP request's copy clones its headers, which allocates; its
//! body is shared, not copied.) The retry path allocates nothing either: the backoff timer
//! lives inside the response future.

mod backoff;
mod budget;
pub mod error;
pub mod future;
mod layer;
mod policy;
mod service;
mod stripes;

#[cfg(feature = "http")]
pub mod http;

pub use backoff::{Backoff, Jitter};
pub use budget::{BudgetChoice, RetryBudget, RetryBudgetBuilder, Withdrawal};
pub use error::{ConfigError, DoNotRetry};
pub use layer::{RetryLayer, RetryLayerBuilder};
pub use policy::{Described, Policy, RetryErrors, Verdict};
pub use service::Retry;

#[cfg(feature = "http")]
pub use crate::http::HttpPolicy;
