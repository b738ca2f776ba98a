//! A timeout on each attempt, for use inside a retry or a hedge.
//!
//! # Why
//!
//! A total timeout placed below a retry layer bounds each attempt, but when it fires it says
//! "deadline exceeded", which Seawall's retry policies take as "do not retry": the attempt
//! that hung would end the retries it was meant to enable. [`AttemptTimeout`] fails a slow
//! attempt with [`AttemptTimedOut`](crate::error::AttemptTimedOut) instead, a transient
//! failure that the retry layer retries, and never lets an attempt run past the task's
//! [`Deadline`](seawall_core::deadline::Deadline): when the deadline comes first, the attempt
//! fails with `DeadlineExceeded`, which is not retried because no time is left. An attempt
//! started after the deadline is refused without calling the inner service.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use seawall_core::BoxError;
//! use seawall_retry::RetryLayer;
//! use seawall_timeout::AttemptTimeoutLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! // The first attempt hangs; the second answers at once.
//! let calls = Arc::new(AtomicU32::new(0));
//! let flaky = service_fn(move |()| {
//!     let call = calls.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         if call == 0 {
//!             std::future::pending::<()>().await;
//!         }
//!         Ok::<_, BoxError>("answer")
//!     }
//! });
//! let service = ServiceBuilder::new()
//!     .layer(RetryLayer::builder().unlimited_budget().build().unwrap())
//!     .layer(AttemptTimeoutLayer::new(Duration::from_millis(50)).unwrap())
//!     .service(flaky);
//! assert_eq!(service.oneshot(()).await.unwrap(), "answer");
//! # }
//! ```
//!
//! # Knobs
//!
//! | knob | default | |
//! |---|---|---|
//! | the timeout | none: required | more than zero; counted from `call`, capped by the task's deadline |

mod layer;
mod service;

pub use layer::AttemptTimeoutLayer;
pub use service::AttemptTimeout;
