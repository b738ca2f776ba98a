//! Server-side load shedding: admit what can be served in time, refuse the rest at once.
//!
//! # Why reject instead of queue
//!
//! An overloaded service that queues everything serves nobody: every request waits behind
//! all the others until latency passes every client's timeout, and the server spends its
//! capacity on answers nobody reads. [`ShedLayer`] keeps at most *limit* requests in flight
//! and fails the rest in `call` with
//! [`Overloaded`](seawall_core::rejection::Overloaded) (a retry-after hint, "do not retry"),
//! which `seawall_http`'s `RejectionResponseLayer` turns into a 503 with `Retry-After`.
//!
//! Unlike tower's `ConcurrencyLimit` + `LoadShed`:
//! - admission is decided in `call`, never from the inner `poll_ready` returning `Pending`
//!   (which tokio's cooperative budget can cause spuriously), and a caller that is only
//!   waiting for readiness holds no slot, so idle connections hold nothing;
//! - the slot can be held to the end of an HTTP response body ([`UntilBodyEnd`], feature
//!   `http`), not just to the headers;
//! - the limit can learn ([`limit`](crate::limit)), requests have [priorities](crate::Priority),
//!   and an optional bounded queue with a maximum wait and a CoDel mode lets short bursts
//!   wait instead of failing.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use seawall_shed::{limit::Fixed, ShedLayer};
//! use tower::{service_fn, Layer, Service, ServiceExt};
//!
//! let layer = ShedLayer::builder().limit(Fixed::new(1)).build().unwrap();
//! let mut svc = layer.layer(service_fn(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) }));
//! let first = svc.ready().await.unwrap().call(1); // holds the one slot until it completes
//! let second = svc.ready().await.unwrap().call(2).await;
//! assert!(second.unwrap_err().is::<seawall_core::rejection::Overloaded>());
//! assert_eq!(first.await.unwrap(), 1);
//! assert_eq!(svc.ready().await.unwrap().call(3).await.unwrap(), 3);
//! # }
//! ```
//!
//! # Knobs
//!
//! | knob | default |
//! |---|---|
//! | [`limit`](ShedBuilder::limit) | [`Vegas`](crate::limit::Vegas) at its defaults: Netflix's, fed one sample per 1 s window (as Netflix's `WindowedLimit`) |
//! | [`queue`](ShedBuilder::queue) | none: refuse at once when full |
//! | [`codel`](ShedBuilder::codel) | off (Fail at Scale uses 5 ms target, 100 ms interval) |
//! | [`priority`](ShedBuilder::priority) | every request normal |
//! | [`reserve`](ShedBuilder::reserve) | 0 |
//! | [`classify`](ShedBuilder::classify) | every error is a drop |
//! | [`retry_after`](ShedBuilder::retry_after) | 1 s |

mod future;
mod hold;
mod layer;
mod service;

pub use future::ResponseFuture;
#[cfg(feature = "http")]
pub use hold::UntilBodyEnd;
pub use hold::{Hold, UntilResponse};
pub use layer::{ShedBuilder, ShedLayer};
pub use service::Shed;
