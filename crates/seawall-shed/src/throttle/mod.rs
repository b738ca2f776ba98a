//! Client-side adaptive throttling, from Google's SRE book ("Handling Overload").
//!
//! # Why
//!
//! A backend that is refusing work still spends work on each refusal, and a client that keeps
//! sending at full rate into it keeps it overloaded. The client can see this for itself: it
//! counts, over a rolling window, the `requests` it tried and the `accepts` the backend took,
//! and refuses a new request locally, without sending it, with probability
//!
//! ```text
//! max(0, (requests − K × accepts) / (requests + 1))
//! ```
//!
//! capped at `max_probability`. While the backend accepts everything the probability is
//! zero; once it accepts less than `1/K` of what is sent, the client sends about `K` times
//! what it accepts, no more. K = 2 (the default) lets a recovering backend be noticed quickly
//! while halving the wasted work; the cap keeps a trickle of traffic probing a backend that
//! refuses everything.
//!
//! Local refusals are [`Overloaded`](seawall_core::rejection::Overloaded) and count as
//! requests. What counts as an accept is a [`Classify`](seawall_core::Classify): a
//! [`Success`](seawall_core::Outcome::Success) is accepted, a
//! [`Failure`](seawall_core::Outcome::Failure) was refused by the backend, an
//! [`Ignored`](seawall_core::Outcome::Ignored) result counts as neither. The default counts
//! every error as a refusal; a client should pass a classifier that says which responses
//! are the backend's refusals (a 503, a 429, an `Overloaded` from below).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use seawall_shed::ThrottleLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! let layer = ThrottleLayer::builder().seed(7).build().unwrap();
//! let refusing = layer.layer(service_fn(|_: ()| async { Err::<(), _>("overloaded") }));
//! let mut sent_locally_refused = 0;
//! for _ in 0..1000 {
//!     if let Err(e) = refusing.clone().oneshot(()).await {
//!         if e.is::<seawall_core::rejection::Overloaded>() {
//!             sent_locally_refused += 1;
//!         }
//!     }
//! }
//! // The cap (0.9) lets about one request in ten through to probe.
//! assert!(sent_locally_refused > 800, "{sent_locally_refused}");
//! # }
//! ```
//!
//! | knob | default |
//! |---|---|
//! | [`k`](ThrottleBuilder::k) | 2 |
//! | [`window`](ThrottleBuilder::window) | 2 minutes (the book's), in 120 buckets |
//! | [`max_probability`](ThrottleBuilder::max_probability) | 0.9 |
//! | [`seed`](ThrottleBuilder::seed) | 0 |
//! | [`classify`](ThrottleBuilder::classify) | every error is a refusal |

mod service;

pub use service::{ResponseFuture, Throttle, ThrottleBuilder, ThrottleLayer};
