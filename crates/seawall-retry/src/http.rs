//! The HTTP retry policy (feature `http`).
//!
//! [`HttpPolicy`] retries what is safe and useful to retry over HTTP, building on
//! `seawall-http`:
//!
//! - only idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), and POSTs with an
//!   `Idempotency-Key` once [`allow_keyed_post`](HttpPolicy::allow_keyed_post) vouches that
//!   the server honours it ([`seawall_http::classify::is_idempotent`]);
//! - transient statuses (408, 429, 5xx but 501 and 505) and transient errors (connect,
//!   reset, timeout) ([`seawall_http::classify`]);
//! - bodies re-sent through [`ReplayableBody`]: put
//!   [`ReplayableBodyLayer`](seawall_http::ReplayableBodyLayer) in front of the retry layer.
//!   A body too large for its replay buffer, or whose source failed, is not re-sent (a
//!   `DEBUG` event says so);
//! - a `Retry-After` on the response replaces the backoff (up to the layer's
//!   `max_retry_after`);
//! - re-sent requests carry their attempt number (`seawall-attempt: 2`, …; the header name
//!   is configurable);
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
//! | [`allow_keyed_post`](HttpPolicy::allow_keyed_post) | off: POSTs are never retried |
//! | [`attempt_header`](HttpPolicy::attempt_header) | `Some(`[`ATTEMPT_HEADER`]`)`: `seawall-attempt: 2`, `3`, … on re-sent requests; `None` sends none |
//! | [`mark_give_ups`](HttpPolicy::mark_give_ups) | on: responses given up on get `seawall-retry: no` |
//! | the replay cap | 64 KiB, set on [`ReplayableBodyLayer::new`](seawall_http::ReplayableBodyLayer::new), not here |
//! | the longest `Retry-After` honoured | the layer's [`max_retry_after`](crate::RetryLayerBuilder::max_retry_after) (10 s) |
//!
//! Attempts, backoff and budget are the [layer's](crate::RetryLayerBuilder). Errors are
//! classified by [`seawall_http::classify::is_transient_error`]: transient ones (connect,
//! reset, timeout) are retried, others are not; an error that says "do not retry" (a Seawall
//! rejection, a [`DoNotRetry`](crate::DoNotRetry) mark) never is.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use seawall_http::replay::ReplayableBody;
//! use seawall_http::ReplayableBodyLayer;
//! use seawall_retry::{HttpPolicy, RetryLayer};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! let upstream = service_fn(|req: http::Request<ReplayableBody<Full<Bytes>>>| async move {
//!     // The second attempt succeeds.
//!     let status = if req.headers().contains_key("seawall-attempt") { 200 } else { 503 };
//!     Ok::<_, seawall_core::BoxError>(http::Response::builder().status(status).body(()).unwrap())
//! });
//! let client = ServiceBuilder::new()
//!     .layer(ReplayableBodyLayer::default())
//!     .layer(RetryLayer::builder().policy(HttpPolicy::new()).build().unwrap())
//!     .service(upstream);
//! let request = http::Request::get("http://upstream/").body(Full::new(Bytes::new())).unwrap();
//! assert_eq!(client.oneshot(request).await.unwrap().status(), 200);
//! # }
//! ```

use std::time::{Duration, SystemTime};

use ::http::header::HeaderName;
use ::http::{HeaderValue, Request, Response};
use seawall_core::find_rejection;
use seawall_http::classify::{is_idempotent, is_transient_error, is_transient_status, AsDynError};
use seawall_http::replay::{try_clone_request, ReplayableBody};
use seawall_http::retry_after::RetryAfterParser;

use crate::error::has_do_not_retry;
use crate::{Policy, Verdict};

/// The default name of the attempt-number header on re-sent requests.
pub const ATTEMPT_HEADER: HeaderName = HeaderName::from_static("seawall-attempt");

pub use seawall_http::retry_signal::{is_marked_do_not_retry, mark_do_not_retry, DO_NOT_RETRY};

/// The retry policy for HTTP clients: see the [module docs](self).
#[derive(Clone, Debug)]
pub struct HttpPolicy {
    allow_keyed_post: bool,
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
    /// Idempotent methods only, attempt header `seawall-attempt`, give-ups marked.
    pub fn new() -> Self {
        Self {
            allow_keyed_post: false,
            attempt_header: Some(ATTEMPT_HEADER),
            mark_give_ups: true,
            // The layer cuts the hint to its own `max_retry_after`.
            retry_after: RetryAfterParser::new(Duration::from_secs(3600)),
        }
    }

    /// Also retries POSTs that carry a non-empty `Idempotency-Key` (default: off). Turn it
    /// on only for servers that honour the key.
    pub fn allow_keyed_post(mut self, allow: bool) -> Self {
        self.allow_keyed_post = allow;
        self
    }

    /// The header that numbers re-sent requests (`None`: no header; default
    /// `seawall-attempt`).
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

impl<B, ResB, E> Policy<Request<ReplayableBody<B>>, Response<ResB>, E> for HttpPolicy
where
    E: AsDynError,
{
    fn classify(&self, result: &Result<Response<ResB>, E>) -> Verdict {
        match result {
            Ok(response) => {
                if is_marked_do_not_retry(response.headers()) {
                    return Verdict::DoNotRetry;
                }
                if !is_transient_status(response.status()) {
                    return Verdict::Done;
                }
                let after = self
                    .retry_after
                    .from_headers(response.headers(), SystemTime::now())
                    .and_then(Result::ok);
                Verdict::Retry { after }
            }
            Err(e) => {
                let e = e.as_dyn_error();
                if has_do_not_retry(e) || find_rejection(e).is_some_and(|r| !r.retryable()) {
                    Verdict::DoNotRetry
                } else if is_transient_error(e) {
                    Verdict::Retry {
                        after: find_rejection(e).and_then(|r| r.retry_after()),
                    }
                } else {
                    Verdict::Done
                }
            }
        }
    }

    fn clone_request(
        &self,
        request: &Request<ReplayableBody<B>>,
    ) -> Option<Request<ReplayableBody<B>>> {
        if !is_idempotent(request, self.allow_keyed_post) {
            return None;
        }
        try_clone_request(request).ok()
    }

    fn can_replay(&self, replay: &Request<ReplayableBody<B>>) -> bool {
        replay.body().is_replayable()
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
