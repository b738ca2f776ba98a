//! The HTTP retry policy (feature `http`).
//!
//! [`HttpPolicy`] retries what is safe and useful to retry over HTTP, building on
//! `seawall-http`:
//!
//! - only idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), and POSTs with an
//!   `Idempotency-Key` once [`allow_keyed_post`](HttpPolicy::allow_keyed_post) vouches that
//!   the server honours it ([`seawall_http::classify::is_idempotent`]);
//! - what its [`HttpClassifier`] calls a failure — the same classification a breaker built
//!   with `seawall_breaker::http::builder()` counts with: transient statuses (408, 429, 5xx
//!   but 501 and 505) and transient errors (connect, reset, timeout)
//!   ([`seawall_http::classify`]). Errors that are neither transient nor rejections count
//!   as `Ignored` in the retry's default classifier, so they are not retried; pass
//!   [`HttpClassifier::new`] (or any [`Classify`]) to [`classifier`](HttpPolicy::classifier)
//!   to retry them too;
//! - bodies re-sent through [`ReplayableBody`]: put
//!   [`ReplayLayer`](seawall_http::ReplayLayer) in front of the retry layer.
//!   A body too large for its replay buffer, or whose source failed, is not re-sent. The
//!   first time a request that could be retried (idempotent) has a body over the cap, a
//!   `WARN` event (target `seawall::retry`, event `body_too_large`, with the cap,
//!   method and URI) says so, once per retry layer: raise the cap if such requests should be
//!   retried. Later ones, and bodies whose source failed, are `DEBUG` events only;
//! - a `Retry-After` on the response replaces the backoff; a response asking for longer
//!   than the layer's `max_retry_after` (10 s) is not retried: the caller gets it, header
//!   and all (or, with the layer's `clamp_retry_after`, it is retried after
//!   `max_retry_after`);
//! - re-sent requests can carry their attempt number (`seawall-attempt: 2`, …), once
//!   [`attempt_header`](HttpPolicy::attempt_header) names the header (off by default);
//! - a response carrying **`seawall-retry: no`** is never retried, and the responses this
//!   layer gives up on (attempts or budget exhausted) get that header, so that the tier
//!   above does not retry them again.
//!
//! A body that becomes unreplayable while the abandoned first attempt still reads it (an
//! HTTP/1 connection still uploading it during the backoff) is checked again just before
//! the retry: the caller then gets the first attempt's response, and no retry is drawn from
//! the budget.
//!
//! # Settings and defaults
//!
//! | setting | default |
//! |---|---|
//! | [`classifier`](HttpPolicy::classifier) | `HttpClassifier::new().other_errors(Outcome::Ignored)`: transient statuses and errors are retried, other errors are not |
//! | [`allow_keyed_post`](HttpPolicy::allow_keyed_post) | off: POSTs are never retried |
//! | [`attempt_header`](HttpPolicy::attempt_header) | `None`: no header; `Some(`[`ATTEMPT_HEADER`]`)` sends `seawall-attempt: 2`, `3`, … on re-sent requests |
//! | [`mark_give_ups`](HttpPolicy::mark_give_ups) | on: responses given up on get `seawall-retry: no` |
//! | the replay cap | 64 KiB, set on [`ReplayLayer::new`](seawall_http::ReplayLayer::new), not here; bodies over it are not retried (a `WARN` once per layer) |
//! | the longest `Retry-After` waited out | the layer's [`max_retry_after`](crate::RetryLayerBuilder::max_retry_after) (10 s); longer: not retried |
//!
//! Attempts, backoff and budget are the [layer's](crate::RetryLayerBuilder). A result that
//! says "do not retry" ([`seawall_http::retry_signal::do_not_retry`]: the header on a
//! response; a Seawall rejection or a [`DoNotRetry`](crate::DoNotRetry) mark in an error's
//! chain) never is, whatever the classifier says.
//!
//! # Side by side with the breaker
//!
//! `seawall_breaker::http` and this module have the same shape: each re-exports
//! [`HttpClassifier`] and has a `builder()` that starts its layer with the HTTP policy
//! (here [`builder`]: a [`RetryLayerBuilder`] with
//! [`HttpPolicy::new`]). One `HttpClassifier` value can configure both, so the breaker
//! counts exactly the failures the retry layer retries:
//!
//! ```
//! use seawall_core::Outcome;
//! use seawall_retry::http::{self, HttpClassifier, HttpPolicy};
//!
//! let classifier = HttpClassifier::new().other_errors(Outcome::Ignored);
//! let retry = http::builder().policy(HttpPolicy::new().classifier(classifier)).build().unwrap();
//! # let _ = retry;
//! // and `seawall_breaker::http::builder().classify(classifier)` for the breaker.
//! ```
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use seawall_http::replay::ReplayableBody;
//! use seawall_http::ReplayLayer;
//! use seawall_retry::{HttpPolicy, RetryLayer};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//!
//! let calls = Arc::new(AtomicU32::new(0));
//! let seen = calls.clone();
//! let upstream = service_fn(move |_: http::Request<ReplayableBody<Full<Bytes>>>| {
//!     // The second attempt succeeds.
//!     let status = if seen.fetch_add(1, Ordering::Relaxed) == 0 { 503 } else { 200 };
//!     async move {
//!         Ok::<_, seawall_core::BoxError>(http::Response::builder().status(status).body(()).unwrap())
//!     }
//! });
//! let client = ServiceBuilder::new()
//!     .layer(ReplayLayer::default())
//!     .layer(RetryLayer::builder().policy(HttpPolicy::new()).build().unwrap())
//!     .service(upstream);
//! let request = http::Request::get("http://upstream/").body(Full::new(Bytes::new())).unwrap();
//! assert_eq!(client.oneshot(request).await.unwrap().status(), 200);
//! assert_eq!(calls.load(Ordering::Relaxed), 2);
//! # }
//! ```

use std::time::Duration;

use ::http::header::HeaderName;
use ::http::{HeaderValue, Request, Response};
use seawall_core::{Classify, Outcome};
use seawall_http::classify::AsDynError;
use seawall_http::replay::{ReplayableBody, Resend, Resender};
use seawall_http::retry_after::RetryAfterParser;
use seawall_http::retry_signal;

use crate::{Described, Policy, RetryLayer, RetryLayerBuilder};

/// The default name of the attempt-number header on re-sent requests.
pub const ATTEMPT_HEADER: HeaderName = HeaderName::from_static("seawall-attempt");

pub use seawall_http::retry_signal::{is_marked_do_not_retry, mark_do_not_retry, DO_NOT_RETRY};
pub use seawall_http::HttpClassifier;

/// A retry layer builder with the HTTP policy ([`HttpPolicy::new`]) and the layer's
/// defaults: the counterpart of `seawall_breaker::http::builder()`.
pub fn builder() -> RetryLayerBuilder<HttpPolicy> {
    RetryLayer::builder().policy(HttpPolicy::new())
}

/// The retry policy for HTTP clients: see the [module docs](self).
///
/// # Clone
///
/// A clone has the same settings; it warns about bodies over the replay cap once on its own
/// (see the module docs), so each layer built from a clone warns once.
#[derive(Clone, Debug)]
pub struct HttpPolicy<C = HttpClassifier> {
    classifier: C,
    /// Which requests are sent again; the warning about bodies over the replay cap.
    resend: Resend,
    attempt_header: Option<HeaderName>,
    mark_give_ups: bool,
    retry_after: RetryAfterParser,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpPolicy {
    /// Transient statuses and errors of idempotent requests, no attempt header, give-ups
    /// marked.
    pub fn new() -> Self {
        Self {
            classifier: HttpClassifier::new().other_errors(Outcome::Ignored),
            resend: Resend::new(Resender::Retry),
            attempt_header: None,
            mark_give_ups: true,
            // The layer cuts the hint to its own `max_retry_after`.
            retry_after: RetryAfterParser::new(Duration::from_secs(3600)),
        }
    }
}

impl<C> HttpPolicy<C> {
    /// Retries what `classifier` calls a `Failure` (default: [`HttpClassifier`] with
    /// [`other_errors`](HttpClassifier::other_errors) `Ignored`). Pass the classifier a
    /// breaker counts with to make the two layers agree; any [`Classify`] of
    /// `Result<http::Response<B>, E>` will do, such as
    /// [`TowerHttpClassifier`](seawall_http::classify::TowerHttpClassifier).
    pub fn classifier<D>(self, classifier: D) -> HttpPolicy<D> {
        HttpPolicy {
            classifier,
            resend: self.resend,
            attempt_header: self.attempt_header,
            mark_give_ups: self.mark_give_ups,
            retry_after: self.retry_after,
        }
    }

    /// Also retries POSTs that carry a non-empty `Idempotency-Key` (default: off). Turn it
    /// on only for servers that honour the key.
    pub fn allow_keyed_post(mut self, allow: bool) -> Self {
        self.resend = self.resend.allow_keyed_post(allow);
        self
    }

    /// The header that numbers re-sent requests, such as [`ATTEMPT_HEADER`]
    /// (`seawall-attempt: 2`, `3`, …; default `None`: no header).
    ///
    /// Off by default, as Envoy's `x-envoy-attempt-count` is: a request to a third-party
    /// API should not carry headers it never asked for. Turn it on towards servers that log
    /// or act on it.
    pub fn attempt_header(mut self, name: Option<HeaderName>) -> Self {
        self.attempt_header = name;
        self
    }

    /// Adds `seawall-retry: no` to the responses this layer gives up on (default: on).
    pub fn mark_give_ups(mut self, mark: bool) -> Self {
        self.mark_give_ups = mark;
        self
    }
}

impl<B, ResB, E, C> Policy<Request<ReplayableBody<B>>, Response<ResB>, E> for HttpPolicy<C>
where
    E: AsDynError,
    C: Classify<Response<ResB>, E>,
{
    fn classify(&self, result: &Result<Response<ResB>, E>) -> Outcome {
        self.classifier.classify(result)
    }

    fn do_not_retry(&self, result: &Result<Response<ResB>, E>) -> bool {
        retry_signal::do_not_retry(result)
    }

    fn retry_after(&self, result: &Result<Response<ResB>, E>) -> Option<Duration> {
        match result {
            Ok(response) => self.retry_after.wait(response.headers()),
            Err(e) => seawall_core::retry_signal::retry_after(e.as_dyn_error()),
        }
    }

    fn clone_request(
        &self,
        request: &Request<ReplayableBody<B>>,
    ) -> Option<Request<ReplayableBody<B>>> {
        self.resend.try_copy(request)
    }

    fn describe<'a>(&self, result: &'a Result<Response<ResB>, E>) -> Described<'a> {
        match result {
            Ok(response) => Described::Status(response.status().as_u16()),
            Err(e) => Described::Error(e.as_dyn_error()),
        }
    }

    fn can_replay(&self, replay: &Request<ReplayableBody<B>>) -> bool {
        self.resend.can_replay(replay)
    }

    fn prepare_retry(&self, request: &mut Request<ReplayableBody<B>>, attempt: u32) {
        if let Some(name) = &self.attempt_header {
            request
                .headers_mut()
                .insert(name.clone(), HeaderValue::from(attempt));
        }
    }

    fn mark_give_up(&self, result: Result<Response<ResB>, E>) -> Result<Response<ResB>, E> {
        match result {
            Ok(mut response) if self.mark_give_ups => {
                mark_do_not_retry(response.headers_mut());
                Ok(response)
            }
            other => other,
        }
    }
}
