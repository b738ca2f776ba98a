//! The HTTP hedge policy (feature `http`).
//!
//! [`HttpPolicy`] hedges what is safe to send twice over HTTP, building on `seawall-http`:
//!
//! - only idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), and POSTs with an
//!   `Idempotency-Key` once [`allow_keyed_post`](HttpPolicy::allow_keyed_post) vouches that
//!   the server honours it ([`seawall_http::classify::is_idempotent`]);
//! - bodies sent again through [`ReplayableBody`]: put
//!   [`ReplayLayer`](seawall_http::ReplayLayer) in front of the hedge layer.
//!   Every attempt sends the same bytes; a body over the replay cap, or whose source failed,
//!   is not sent again (the request is then not hedged). The first request a layer does not
//!   hedge for the cap is reported at `WARN` (`body_too_large`, once per layer), so a cap too
//!   small for the traffic shows;
//! - what its classifier calls a failure does not win: the next attempt goes at once, or
//!   after the response's `Retry-After`. The default is the retry layer's and the breaker's
//!   [`HttpClassifier`] with `other_errors(Outcome::Ignored)`: a transient status (408,
//!   429, 5xx but 501 and 505) or a transient error (connect, reset, timeout) is a failure;
//!   pass the classifier a breaker counts with to [`classifier`](HttpPolicy::classifier) to
//!   make the layers agree;
//! - with [`per_authority`](HttpPolicy::per_authority), each host gets its own delay (on a
//!   layer with [`per_key`](crate::HedgeLayerBuilder::per_key) delays);
//! - a response carrying **`seawall-retry: no`**, or an error that says "do not retry" (a
//!   Seawall rejection, a `DoNotRetry` mark), ends the request; so does any other error.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use seawall_hedge::{HedgeLayer, HttpPolicy};
//! use seawall_http::replay::ReplayableBody;
//! use seawall_http::ReplayLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! let upstream = service_fn(|_: http::Request<ReplayableBody<Full<Bytes>>>| async {
//!     Ok::<_, seawall_core::BoxError>(http::Response::new(()))
//! });
//! let client = ServiceBuilder::new()
//!     .layer(ReplayLayer::default())
//!     .layer(HedgeLayer::builder().policy(HttpPolicy::new()).build().unwrap())
//!     .service(upstream);
//! let request = http::Request::get("http://upstream/").body(Full::new(Bytes::new())).unwrap();
//! assert_eq!(client.oneshot(request).await.unwrap().status(), 200);
//! # }
//! ```

use std::time::Duration;

use ::http::{Request, Response};
use seawall_core::{Classify, Outcome};
use seawall_http::classify::AsDynError;
use seawall_http::replay::{ReplayableBody, Resend, Resender};
use seawall_http::retry_after::RetryAfterParser;
use seawall_http::retry_signal::is_marked_do_not_retry;
use seawall_http::HttpClassifier;

use crate::{says_do_not_retry, Policy, Verdict};

/// The hedge policy for HTTP clients: see the [module docs](self).
///
/// # Clone
///
/// A clone has the same settings; it warns about bodies over the replay cap once on its own,
/// so each layer built from a clone warns once.
#[derive(Clone, Debug)]
pub struct HttpPolicy<C = HttpClassifier> {
    classifier: C,
    /// Which requests are sent again; the warning about bodies over the replay cap.
    resend: Resend,
    per_authority: bool,
    retry_after: RetryAfterParser,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpPolicy {
    /// Idempotent methods only, classified by [`HttpClassifier`] with `other_errors`
    /// `Ignored` (as the retry layer's HTTP policy).
    pub fn new() -> Self {
        Self {
            classifier: HttpClassifier::new().other_errors(Outcome::Ignored),
            resend: Resend::new(Resender::Hedge),
            per_authority: false,
            // The layer stops at its ceiling; longer hints stop further attempts.
            retry_after: RetryAfterParser::new(Duration::from_secs(3600)),
        }
    }
}

impl<C> HttpPolicy<C> {
    /// Hedges past what `classifier` calls a `Failure`; any [`Classify`] of
    /// `Result<http::Response<B>, E>` will do. Pass the classifier a breaker or the retry
    /// layer counts with, so that the layers agree on what failed.
    pub fn classifier<D>(self, classifier: D) -> HttpPolicy<D> {
        HttpPolicy {
            classifier,
            resend: self.resend,
            per_authority: self.per_authority,
            retry_after: self.retry_after,
        }
    }

    /// Also hedges POSTs that carry a non-empty `Idempotency-Key` (default: off). Turn it on
    /// only for servers that honour the key.
    pub fn allow_keyed_post(mut self, allow: bool) -> Self {
        self.resend = self.resend.allow_keyed_post(allow);
        self
    }

    /// Keys each request by its URI's authority (`host:port`), so that a layer with
    /// [`per_key`](crate::HedgeLayerBuilder::per_key) learns one delay per upstream host
    /// (default: off).
    pub fn per_authority(mut self, per_authority: bool) -> Self {
        self.per_authority = per_authority;
        self
    }
}

impl<B, ResB, E, C> Policy<Request<ReplayableBody<B>>, Response<ResB>, E> for HttpPolicy<C>
where
    E: AsDynError,
    C: Classify<Response<ResB>, E>,
{
    fn classify(&self, result: &Result<Response<ResB>, E>) -> Verdict {
        let failed = self.classifier.classify(result) == Outcome::Failure;
        match result {
            Ok(response) if is_marked_do_not_retry(response.headers()) => Verdict::Fatal,
            Ok(response) if failed => Verdict::Retry {
                after: self.retry_after.wait(response.headers()),
            },
            Ok(_) => Verdict::Accept,
            Err(e) if failed && !says_do_not_retry(e.as_dyn_error()) => {
                Verdict::Retry { after: None }
            }
            Err(_) => Verdict::Fatal,
        }
    }

    fn clone_request(
        &self,
        request: &Request<ReplayableBody<B>>,
    ) -> Option<Request<ReplayableBody<B>>> {
        self.resend.try_copy(request)
    }

    fn can_replay(&self, replay: &Request<ReplayableBody<B>>) -> bool {
        self.resend.can_replay(replay)
    }

    fn key(&self, request: &Request<ReplayableBody<B>>) -> Option<u64> {
        let authority = request.uri().authority().filter(|_| self.per_authority)?;
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(authority.as_str(), &mut hasher);
        Some(std::hash::Hasher::finish(&hasher))
    }
}
