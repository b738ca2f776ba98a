//! A timeout on the whole call, the wait for readiness included.
//!
//! # Why not tower's `Timeout`?
//!
//! tower's `Timeout` starts its clock in `call`. Time the caller spends waiting in
//! `poll_ready` — behind a concurrency limit, a `Buffer`, a breaker's half-open probe — is not
//! counted (tower issue #648), so a "two-second timeout" can keep a caller for much longer.
//! [`Timeout`] starts the clock at the first `poll_ready` for a request, and if the inner
//! service is still not ready when the time is up, it reports ready anyway and refuses the
//! call with [`DeadlineExceeded`](seawall_core::rejection::DeadlineExceeded), without calling
//! the inner service. (Failing in `poll_ready` itself would be terminal for tower.)
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_timeout::TimeoutLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! let slow = service_fn(|()| async {
//!     tokio::time::sleep(Duration::from_secs(10)).await;
//!     Ok::<_, std::convert::Infallible>("late")
//! });
//! let service = TimeoutLayer::new(Duration::from_millis(10)).unwrap().layer(slow);
//! let error = service.oneshot(()).await.unwrap_err();
//! assert_eq!(error.to_string(), "deadline exceeded");
//! # }
//! ```
//!
//! # Knobs
//!
//! | knob | default | |
//! |---|---|---|
//! | the timeout | none: required | more than zero; counted from the first `poll_ready` of a request |
//!
//! # Clone
//!
//! A clone starts with no clock running: each clone times its own next request. Like any
//! readiness tower reports, a readiness that ran out belongs to the next call: a caller that
//! polls ready and then drops its request leaves that call to be refused.

mod layer;
mod service;

pub use layer::TimeoutLayer;
pub use service::Timeout;
