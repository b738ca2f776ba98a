//! HTTP plumbing for Seawall's layers.
//!
//! # Why bodies need replaying
//!
//! Retrying or hedging an HTTP request means sending it more than once. But `http::Request`
//! is not `Clone`, and its body is usually a stream that can be read only once: by the time a
//! retry layer learns that the first attempt failed, the first attempt has consumed the
//! bytes. Worse, it may have consumed only *some* of them — the server answered 503 before
//! the upload finished — or it may still be reading while a hedged second attempt starts.
//! Proxies that got this wrong re-sent truncated bodies, duplicated chunks, or panicked. This
//! is the top complaint against tower's retry, tower-resilience and reqwest-middleware alike.
//!
//! [`ReplayableBody`] keeps the bytes (and trailers) as they stream
//! past, up to a cap (64 KiB by default), and hands out replays that yield exactly the
//! original body whatever the timing. A body larger than the cap streams through untouched
//! and is marked not replayable, so the layers that would re-send it do not.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, StreamBody};
//! use http_body::Frame;
//! use seawall_http::replay::{make_replayable, try_clone_request};
//!
//! // A streaming upload of three chunks.
//! let chunks = ["one ", "two ", "three"]
//!     .map(|c| Ok::<_, std::io::Error>(Frame::data(Bytes::from(c))));
//! let body = StreamBody::new(futures_util::stream::iter(chunks));
//! let request = http::Request::post("http://upstream/upload").body(body).unwrap();
//!
//! let mut first = make_replayable(request, 64 * 1024);
//! // The first attempt sends one chunk; then the upstream answers 503 and it is dropped.
//! let sent = first.body_mut().frame().await.unwrap().unwrap().into_data().unwrap();
//! assert_eq!(sent, "one ");
//! let retry = try_clone_request(&first).expect("small bodies are replayable");
//! drop(first);
//!
//! // The retry carries the whole body, not just what the first attempt left behind.
//! let resent = retry.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(resent, "one two three");
//! # }
//! ```
//!
//! # What else is here
//!
//! | module | what it is |
//! |---|---|
//! | [`replay`] | replayable bodies, request cloning, [`ReplayLayer`] |
//! | [`retry_after`] | parsing (both forms, capped) and formatting `Retry-After` |
//! | [`retry_signal`] | the `seawall-retry: no` header by which a tier tells its caller not to retry |
//! | [`classify`] | transient statuses and errors, idempotent requests, [`HttpClassifier`] |
//! | [`rejection_response`] | Seawall rejections as 503/429/504 responses, [`RejectionResponseLayer`] |
//! | [`body`] | response bodies that hold a layer's permit until they end ([`body::GuardedBody`]) |
//! | [`client`] | hyper-util's and reqwest's clients as tower services (features `hyper`, `reqwest`), and a tower stack as reqwest middleware (`reqwest-middleware`) |
//!
//! This crate holds no retry, breaker or shedding logic: it is what those layers need to be
//! HTTP-native.
//!
//! # Features
//!
//! - `axum`: `IntoResponse` for [`RejectionResponse`].
//! - `hyper`: classification of hyper's and hyper-util's errors, [`client::hyper_client`].
//! - `reqwest`: [`client::ReqwestService`] and request conversions.
//! - `reqwest-middleware`: `client::middleware::TowerMiddleware`, a tower stack as a
//!   `reqwest_middleware::Middleware`, so reqwest users keep `.send()` (implies `reqwest`).
//! - `metrics`: rejection responses and bodies over their replay cap counted in
//!   `seawall_calls_total` through the `metrics` facade.
//! - `full`: `axum`, `hyper`, `reqwest` and `reqwest-middleware`.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
pub mod classify;
pub mod client;
pub mod rejection_response;
pub mod replay;
pub mod retry_after;
pub mod retry_signal;

pub use classify::HttpClassifier;
pub use rejection_response::{RejectionResponse, RejectionResponseLayer};
#[allow(deprecated)]
pub use replay::ReplayableBodyLayer;
pub use replay::{Replay, ReplayLayer, ReplayableBody};
