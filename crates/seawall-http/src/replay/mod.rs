//! Replayable request bodies.
//!
//! # Why
//!
//! `http::Request` is not `Clone`, and a streaming body can be read only once: after the
//! first attempt has sent it, its bytes are gone. A layer that wants to retry or hedge a
//! request needs a second copy of a body that may not have finished arriving yet, that the
//! first attempt may still be reading, or that the first attempt abandoned halfway because
//! the response came back early. [`ReplayableBody`] keeps the bytes as they stream past, up to
//! a cap, and hands out replays that yield exactly the original bytes and trailers, whatever
//! the timing. A body larger than the cap streams through untouched and is marked not
//! replayable, so the layers that would re-send it do not.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use seawall_http::replay::{make_replayable, try_clone_request};
//!
//! let request = http::Request::put("http://localhost/doc")
//!     .body(Full::new(Bytes::from_static(b"version 2")))
//!     .unwrap();
//! let mut first = make_replayable(request, 64 * 1024);
//!
//! // The first attempt reads part of the body, then gives up.
//! let _ = first.body_mut().frame().await;
//! let second = try_clone_request(&first).expect("small bodies are replayable");
//! drop(first);
//!
//! let body = second.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "version 2");
//! # }
//! ```
//!
//! # Knobs
//!
//! - the cap, in bytes: [`DEFAULT_REPLAY_CAP`] (64 KiB) unless given to
//!   [`ReplayableBody::new`], [`make_replayable`] or [`ReplayLayer::new`].

mod body;
pub mod error;
mod kept;
mod layer;
mod request;
mod resend;
mod waiters;

pub use body::{ReplayableBody, DEFAULT_REPLAY_CAP};
pub use error::{NotReplayable, ReplayError};
#[allow(deprecated)]
pub use layer::{Replay, ReplayLayer, ReplayableBodyLayer, ReplayableBodyService};
pub use request::{is_replayable, make_replayable, try_clone_idempotent, try_clone_request};
pub use resend::{Resend, Resender};
