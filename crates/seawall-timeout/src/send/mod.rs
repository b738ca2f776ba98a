//! The client side of deadline propagation: send the remaining time with the request.
//!
//! [`SendDeadline`] finds the outgoing request's deadline — a
//! [`Deadline`](seawall_core::deadline::Deadline) in its extensions, or the
//! [current](seawall_core::deadline::Deadline::current) deadline of the task, which
//! [`ReceiveDeadline`](crate::ReceiveDeadline) sets around a server's handler; the earlier
//! if both — and then:
//!
//! - refuses the request with `DeadlineExceeded`, without calling the inner service, if the
//!   deadline has passed;
//! - writes the time left into `grpc-timeout` (gRPC requests) or `seawall-deadline-ms`
//!   (others), replacing what was there (see [`header`](crate::header));
//! - puts the deadline into the request's extensions, runs the inner service with it as
//!   the task's current deadline (so a retry layer below does not back off past it), and
//!   fails the call with `DeadlineExceeded` when it passes.
//!
//! A request with no deadline passes through untouched.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::deadline::Deadline;
//! use seawall_timeout::SendDeadlineLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! // Stands in for an HTTP client: answers with the header it was sent.
//! let client = service_fn(|req: http::Request<()>| async move {
//!     Ok::<_, std::convert::Infallible>(req.headers()["seawall-deadline-ms"].clone())
//! });
//! let client = SendDeadlineLayer::new().layer(client);
//! # tokio::time::pause();
//!
//! let mut request = http::Request::new(());
//! request.extensions_mut().insert(Deadline::after(Duration::from_secs(2)));
//! let sent = client.oneshot(request).await.unwrap();
//! assert_eq!(sent, "2000");
//! # }
//! ```
//!
//! # Knobs
//!
//! One: [`SendDeadlineLayer::unenforced`] leaves failing the call when the deadline passes
//! to another layer — an [`AttemptTimeout`](crate::AttemptTimeout) below, which ends each
//! attempt at the task's deadline or earlier — and so saves a timer per request; it still
//! refuses a request whose deadline has passed. The header follows the request's
//! `content-type`, and the deadline is the request's or the task's.

mod layer;
mod service;

pub use layer::SendDeadlineLayer;
pub use service::SendDeadline;
