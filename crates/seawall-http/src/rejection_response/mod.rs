//! Seawall rejections as HTTP responses.
//!
//! # Why
//!
//! A Seawall layer that refuses work — shedding load, failing fast on an open circuit,
//! enforcing a rate limit or a deadline — returns a typed error, so that code in the same
//! process can tell the refusal apart from a failure. A client on the other side of the wire
//! needs a response instead: 503 with `Retry-After` for an overloaded service or an open
//! circuit, 429 with `Retry-After` for a rate limit, 504 for a deadline. This module builds
//! those ([`RejectionResponse`]) and provides the layer that does it for a whole stack
//! ([`RejectionResponseLayer`]), so a Seawall stack goes straight into axum's `Router::layer`
//! without a `HandleErrorLayer`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::{rejection::Overloaded, BoxError};
//! use seawall_http::RejectionResponseLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! // Stands in for a load-shedding layer that refuses the request.
//! let shedding = service_fn(|_req: http::Request<()>| async {
//!     Err::<http::Response<http_body_util::Full<bytes::Bytes>>, BoxError>(
//!         Overloaded::new(Some(Duration::from_secs(1))).into(),
//!     )
//! });
//! let service = ServiceBuilder::new()
//!     .layer(RejectionResponseLayer::new())
//!     .service(shedding);
//!
//! let response = service.oneshot(http::Request::new(())).await.unwrap();
//! assert_eq!(response.status(), 503);
//! assert_eq!(response.headers()["retry-after"], "1");
//! # }
//! ```
//!
//! # Knobs
//!
//! - what happens to errors that are not rejections: passed through
//!   ([`RejectionResponseLayer::new`]) or answered with 500
//!   ([`RejectionResponseLayer::infallible`], for axum).

pub mod future;
mod layer;
mod response;
mod service;

pub use layer::{OtherErrorsAs500, PassOtherErrors, RejectionResponseLayer};
pub use response::RejectionResponse;
pub use service::RejectionResponseService;
