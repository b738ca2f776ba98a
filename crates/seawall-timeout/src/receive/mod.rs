//! The server side of deadline propagation: take the caller's deadline and hand it on.
//!
//! [`ReceiveDeadline`] reads the time the caller has left from `grpc-timeout` (gRPC
//! requests) or `seawall-deadline-ms` (others; see [`header`](crate::header)), and then:
//!
//! - a value that is not valid (garbage, negative, non-UTF-8, more than 8 digits of
//!   `grpc-timeout`) is ignored, as if the header were absent; a value above
//!   [`max_timeout`](ReceiveDeadlineBuilder::max_timeout) is capped to it;
//! - a request with no usable header gets the
//!   [`default_timeout`](ReceiveDeadlineBuilder::default_timeout), if one is set, or no
//!   deadline at all; a `Deadline` already in the request's extensions also counts;
//! - a request with [`min_remaining`](ReceiveDeadlineBuilder::min_remaining) or less left
//!   (an expired one always) is refused at once with `DeadlineExceeded` — 504 through
//!   `RejectionResponseLayer` — and the handler is not called;
//! - otherwise the deadline goes into the request's extensions, the handler runs with it as
//!   the task's [current](seawall_core::deadline::Deadline::current) deadline, and the call
//!   fails with `DeadlineExceeded` when it passes: nobody is waiting for the answer then.
//!
//! # How a handler's calls inherit the deadline
//!
//! The requests a handler sends are new values: they cannot see the inbound request's
//! extensions. What they share with it is the task: the handler's future runs inside the
//! future of this layer, which sets a tokio task-local around every poll of it. A
//! [`SendDeadline`](crate::SendDeadline) in the handler's client reads that task-local when
//! its request has no `Deadline` of its own, so the remaining time flows on with no code in
//! the handler. Work the handler moves to another task with `tokio::spawn` leaves the scope;
//! pass the `Deadline` from the extensions along by hand there.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::deadline::Deadline;
//! use seawall_timeout::ReceiveDeadlineLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! let handler = service_fn(|req: http::Request<()>| async move {
//!     // The deadline is in the request and is the task's current one.
//!     let deadline = req.extensions().get::<Deadline>().copied();
//!     assert_eq!(deadline, Deadline::current());
//!     Ok::<_, std::convert::Infallible>(deadline.map(|d| d.remaining()))
//! });
//! let server = ReceiveDeadlineLayer::builder()
//!     .min_remaining(Duration::from_millis(5))
//!     .build()
//!     .unwrap()
//!     .layer(handler);
//!
//! # tokio::time::pause();
//! let request = http::Request::builder()
//!     .header("seawall-deadline-ms", "1500")
//!     .body(())
//!     .unwrap();
//! let remaining = server.clone().oneshot(request).await.unwrap();
//! assert_eq!(remaining, Some(Duration::from_millis(1500)));
//!
//! let too_late = http::Request::builder()
//!     .header("seawall-deadline-ms", "3")
//!     .body(())
//!     .unwrap();
//! let error = server.oneshot(too_late).await.unwrap_err();
//! assert_eq!(error.to_string(), "deadline exceeded");
//! # }
//! ```
//!
//! # Knobs
//!
//! | knob | default | |
//! |---|---|---|
//! | [`min_remaining`](ReceiveDeadlineBuilder::min_remaining) | 0 | a request with this much time left or less is refused at once |
//! | [`max_timeout`](ReceiveDeadlineBuilder::max_timeout) | 5 minutes | a caller's timeout above it is capped to it |
//! | [`default_timeout`](ReceiveDeadlineBuilder::default_timeout) | none | the timeout of a request that brings none |
//!
//! Five minutes bounds how long one caller can pin a handler by claiming a huge timeout
//! (`99999999H` is valid gRPC) while leaving room for slow uploads; a service whose calls
//! take seconds should lower it. A minimum of zero refuses only what has already expired:
//! the server cannot know how long a request will take, and a handler that answers from a
//! cache may need far less than its median. Set it to the time below which no useful
//! answer is possible.

mod layer;
mod service;

pub use layer::{ReceiveDeadlineBuilder, ReceiveDeadlineLayer};
pub use service::ReceiveDeadline;
