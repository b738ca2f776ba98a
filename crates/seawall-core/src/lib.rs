//! The vocabulary that Seawall's layers share.
//!
//! Every resilience layer has to answer the same few questions, and answering them the same
//! way everywhere is what lets the layers compose:
//!
//! - **Did the call work?** [`Classify`] turns a `&Result<Res, Err>` into an [`Outcome`]:
//!   success, failure, or ignored (a result that says nothing about the callee's health,
//!   such as a caller-side cancellation). Closures implement it.
//!   The same classification feeds every layer: the breaker counts `Failure`s, the retry
//!   layer retries them (`Success` and `Ignored` are done), and the hedge, the shedder and
//!   the client throttle classify with it too.
//! - **Why did a layer refuse?** A layer that refuses work returns one of the typed
//!   rejections in [`rejection`]; each implements [`Rejection`], which carries an optional
//!   retry-after hint and says whether a retry is worth it. [`find_rejection`] finds one
//!   inside a `BoxError`, however deep. The rejection types are listed once, in
//!   [`for_each_rejection!`], with the HTTP status for each: a new layer's rejection is one
//!   new line there.
//! - **May this be retried?** [`retry_signal::do_not_retry`] is the one answer: a failure
//!   marked [`DoNotRetry`] by a retry layer that gave up on it, or a rejection that is not
//!   retryable, anywhere in the error's source chain ([`rejection::chain`] is the one walker
//!   of such chains). [`retry_signal::retry_after`] reads the wait it asks for.
//! - **What happened lately?** [`RollingCounter`] counts events over a sliding window of
//!   time with a handful of atomic operations and no locks; the circuit breaker, the retry
//!   budget and the client throttle all count with it.
//!   Per-call writes that two threads would fight over are split per thread with
//!   [`stripe`].
//! - **Was it set up right?** Every builder returns a [`ConfigError`] that names the field
//!   and its range, once, instead of panicking at request time.
//! - **Who should hear about it?** [`Events`] reports a layer's notable moments (a retry,
//!   a trip, a shed request) as tracing events and, with the `metrics` feature, as metrics.
//!
//! - **By when must it be done?** [`deadline::Deadline`] is a request's deadline on
//!   tokio's clock, and [`Deadline::current`](deadline::Deadline::current) the deadline of
//!   the task at hand, so that retries and hedges below a deadline respect it.
//!
//! - **What does chance decide?** [`rng::Rng`] is the one seeded generator every layer draws
//!   from, and [`latency::Latency`] the latency distributions the simulator and fault
//!   injection share.
//!
//! Nothing here knows about HTTP; that lives in `seawall-http`.
//!
//! ```
//! use seawall_core::{Classify, Outcome};
//!
//! // A classifier that treats timeouts as failures and everything else as a success.
//! let classify = |result: &Result<u16, &str>| match result {
//!     Err(e) if *e == "timeout" => Outcome::Failure,
//!     _ => Outcome::Success,
//! };
//! assert_eq!(classify.classify(&Err("timeout")), Outcome::Failure);
//! assert_eq!(classify.classify(&Ok(200)), Outcome::Success);
//! ```

mod accessors;
mod classify;
pub mod clock;
pub mod deadline;
pub mod duration;
mod error;
mod events;
pub mod keyed;
pub mod latency;
pub mod permit;
pub mod rejection;
pub mod retry_signal;
pub mod rng;
pub mod stripe;
mod window;

pub use classify::{Classify, ErrorsAreFailures, Outcome};
pub use error::ConfigError;
pub use events::{Calls, Events};
pub use rejection::{find_rejection, Rejection, RejectionKind};
pub use retry_signal::{do_not_retry, DoNotRetry};
pub use window::RollingCounter;

#[doc(hidden)]
/// What the crate's macros need from their callers' point of view; not public API.
pub mod __private {
    pub use tracing;
}

/// The error type of type-erased services: what `tower::BoxError` is.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
