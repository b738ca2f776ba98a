//! Clients as tower services, ready for a Seawall stack.
//!
//! A Seawall client stack is a tower service of `http::Request<B>`. hyper-util's legacy
//! `Client` already is one; [`hyper_client`] builds it for plain-HTTP use with any body, such
//! as a [`ReplayableBody`](crate::replay::ReplayableBody). `reqwest::Client` is a service of
//! `reqwest::Request`; [`ReqwestService`] makes it a service of `http::Request<B>` returning
//! `http::Response<reqwest::Body>`, and [`to_reqwest`] / [`from_reqwest`] convert requests
//! while keeping the method, URI, version, headers, extensions and body.
//!
//! ```no_run
//! # #[cfg(all(feature = "hyper", feature = "reqwest"))]
//! # async fn run() -> Result<(), seawall_core::BoxError> {
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use seawall_http::client::{hyper_client, ReqwestService};
//! use seawall_http::replay::{ReplayableBody, ReplayLayer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! let hyper = ServiceBuilder::new()
//!     .layer(ReplayLayer::default())
//!     .service(hyper_client::<ReplayableBody<Full<Bytes>>>());
//! let reqwest = ServiceBuilder::new()
//!     .layer(ReplayLayer::default())
//!     .service(ReqwestService::new(reqwest::Client::new()));
//!
//! let request = || http::Request::post("http://127.0.0.1:8080/").body(Full::new(Bytes::from("hi"))).unwrap();
//! let _ = hyper.oneshot(request()).await?;
//! let _ = reqwest.oneshot(request()).await?;
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "hyper")]
mod hyper;
#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
#[cfg(feature = "reqwest")]
mod reqwest;

#[cfg(feature = "hyper")]
pub use self::hyper::{hyper_client, HyperClient};
#[cfg(feature = "reqwest")]
pub use self::reqwest::{
    from_reqwest, to_reqwest, PolledAfterCompletion, ReqwestFuture, ReqwestService,
};
