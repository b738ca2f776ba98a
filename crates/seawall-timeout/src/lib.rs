//! Timeouts and deadlines for tower services.
//!
//! # Why
//!
//! A caller that has given up does not want the answer. Every moment a service spends on
//! a request whose caller has left — queueing for a connection, retrying, calling further
//! services — is load with no one to serve, and under overload it is most of the load.
//! Timeouts stop that for one hop; a **deadline** stops it for the whole chain: it is the
//! instant by which the *first* caller needs its answer, and every service the request
//! passes through should know it.
//!
//! This crate gives four layers:
//!
//! | layer | side | what it does |
//! |---|---|---|
//! | [`TimeoutLayer`] | any | bounds the whole call, **counting the wait in `poll_ready`** that tower's `Timeout` leaves out (tower #648) |
//! | [`AttemptTimeoutLayer`] | client, inside a retry or hedge | bounds each attempt with a *retryable* error, and never past the task's deadline |
//! | [`SendDeadlineLayer`] | client | sends the time left as `grpc-timeout` (gRPC) or `seawall-deadline-ms` (HTTP); refuses what has expired |
//! | [`ReceiveDeadlineLayer`] | server | reads that header, refuses at once what cannot be met, and hands the deadline to every call the handler makes |
//!
//! They refuse with [`DeadlineExceeded`](seawall_core::rejection::DeadlineExceeded), which
//! `seawall-http`'s `RejectionResponseLayer` turns into 504 Gateway Timeout. The deadline
//! itself is [`Deadline`], in `seawall-core` so that layers generic over their request can
//! read it: Seawall's retry layer does not sleep a backoff that would end past it.
//!
//! Each layer polls the inner future before its timer, so an answer ready on the same
//! tick as the timer is delivered, not discarded.
//!
//! # Example
//!
//! A gateway's handler calls a downstream service; the gateway received a request with
//! 800 ms left, and the downstream call carries what is left of it without the handler
//! doing anything:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use seawall_timeout::{ReceiveDeadlineLayer, SendDeadlineLayer};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! // The downstream client: answers with the header it would put on the wire.
//! let client = SendDeadlineLayer::new().layer(service_fn(|req: http::Request<()>| async move {
//!     Ok::<_, Infallible>(req.headers()["seawall-deadline-ms"].to_str().unwrap().to_owned())
//! }));
//!
//! // The gateway's handler: works for 300 ms, then calls downstream with a new request.
//! let handler = service_fn(move |_inbound: http::Request<()>| {
//!     let client = client.clone();
//!     async move {
//!         tokio::time::sleep(Duration::from_millis(300)).await;
//!         client.oneshot(http::Request::new(())).await
//!     }
//! });
//! let gateway = ReceiveDeadlineLayer::new().layer(handler);
//!
//! let inbound = http::Request::builder()
//!     .header("seawall-deadline-ms", "800")
//!     .body(())
//!     .unwrap();
//! assert_eq!(gateway.oneshot(inbound).await.unwrap(), "500");
//! # }
//! ```
//!
//! # Knobs
//!
//! | layer | knob | default |
//! |---|---|---|
//! | [`TimeoutLayer::new`] | the timeout, counted from the first `poll_ready` | required, more than zero |
//! | [`AttemptTimeoutLayer::new`] | the timeout of one attempt, counted from `call` | required, more than zero |
//! | [`ReceiveDeadlineBuilder::min_remaining`] | refuse at once with this much left or less | 0 (only what expired) |
//! | [`ReceiveDeadlineBuilder::max_timeout`] | cap on a caller's timeout | 5 minutes |
//! | [`ReceiveDeadlineBuilder::default_timeout`] | timeout of a request that brings none | none |
//!
//! gRPC's own default is no deadline at all and Envoy's route timeout is 15 s; the five
//! minute cap sits between "a caller may not pin a handler for ever" and "slow uploads
//! still work". The reasons for each default are in the module docs, and the whole story
//! (which header, gRPC interoperation, inheritance through task-locals) in
//! `docs/deadlines.md` in the repository.
//!
//! # Where they go
//!
//! - Server: `ReceiveDeadlineLayer` outermost in `Router::layer`, under
//!   `RejectionResponseLayer::infallible()`, so a refusal becomes a 504.
//! - Client, top to bottom: `SendDeadlineLayer` (so that everything below works under the
//!   deadline), `ReplayLayer`, `RetryLayer`, `AttemptTimeoutLayer`, and
//!   `SendDeadlineLayer` once more right above the HTTP client, so that each attempt
//!   carries the time left when *it* starts rather than when the first one did. Inside a
//!   handler behind `ReceiveDeadlineLayer` the task already has its deadline, and the lower
//!   one is enough. A `TimeoutLayer` on top bounds the caller's own wait when no deadline
//!   is inherited.
//!
//! `tests/deadline_retry.rs` and `tests/deadline_chain.rs` in the repository build these
//! stacks.
//!
//! # Events
//!
//! `DEBUG` tracing events on the target **`seawall::timeout`**: `refused` (a deadline that
//! cannot be met, `reason` `deadline_too_close` or `deadline_passed`) and `timed_out`
//! (`reason = "not_ready"`: the inner service was not ready in time); with `seawall-core`'s
//! `metrics` feature each also counts in `seawall_events_total`.

pub mod attempt;
pub mod error;
pub mod future;
pub mod grpc_timeout;
pub mod header;
mod passthrough;
pub mod receive;
pub mod send;
pub mod timeout;

pub use attempt::{AttemptTimeout, AttemptTimeoutLayer};
pub use error::AttemptTimedOut;
pub use receive::{ReceiveDeadline, ReceiveDeadlineBuilder, ReceiveDeadlineLayer};
#[doc(no_inline)]
pub use seawall_core::deadline::Deadline;
pub use send::{SendDeadline, SendDeadlineLayer};
pub use timeout::{Timeout, TimeoutLayer};
