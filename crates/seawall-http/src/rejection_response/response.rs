use std::error::Error;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
#[cfg(doc)]
use seawall_core::rejection::{CircuitOpen, DeadlineExceeded, Overloaded, RateLimited};
use seawall_core::{find_rejection, Rejection, RejectionKind};

use crate::retry_after::format_retry_after;
use crate::retry_signal::mark_do_not_retry;

/// The response a client should see for a Seawall rejection.
///
/// | rejection | status | `Retry-After` |
/// |---|---|---|
/// | [`Overloaded`], [`CircuitOpen`] | 503 Service Unavailable | the hint, in whole seconds rounded up |
/// | [`RateLimited`] | 429 Too Many Requests | the hint, in whole seconds rounded up |
/// | [`DeadlineExceeded`] | 504 Gateway Timeout | none |
///
/// A rejection that says "do not retry" (all of Seawall's do) also carries the header
/// `seawall-retry: no` (see [`retry_signal`](crate::retry_signal)), so that a Seawall retry
/// layer in the caller passes the answer up instead of adding load where there is too much.
///
/// The body is the rejection's message as `text/plain`. With the `axum` feature it
/// implements `axum::response::IntoResponse`, so a handler can return
/// `Result<_, RejectionResponse>` and use `?` on a rejection.
///
/// ```
/// use std::time::Duration;
/// use seawall_core::rejection::RateLimited;
/// use seawall_http::RejectionResponse;
///
/// let response = RejectionResponse::from(RateLimited::new(Some(Duration::from_millis(2500))))
///     .into_http_response::<http_body_util::Full<bytes::Bytes>>();
/// assert_eq!(response.status(), 429);
/// assert_eq!(response.headers()["retry-after"], "3");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectionResponse {
    kind: RejectionKind,
    retry_after: Option<Duration>,
    retryable: bool,
    message: String,
}

impl RejectionResponse {
    /// The response for `rejection`.
    pub fn from_rejection(rejection: &dyn Rejection) -> Self {
        Self {
            kind: rejection.kind(),
            retry_after: rejection.retry_after(),
            retryable: rejection.retryable(),
            message: rejection.to_string(),
        }
    }

    /// The response for the rejection in `error` or its chain of sources, if there is one.
    pub fn find(error: &(dyn Error + 'static)) -> Option<Self> {
        find_rejection(error).map(Self::from_rejection)
    }

    /// The kind of rejection.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The status code of the response: the kind's
    /// [`http_status`](RejectionKind::http_status), listed beside the rejection types in
    /// core's one list.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }

    /// The `Retry-After` header of the response, if it has one.
    pub fn retry_after(&self) -> Option<HeaderValue> {
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                self.retry_after.map(format_retry_after)
            }
            _ => None,
        }
    }

    /// Builds the response with any body type that can be made from `Bytes`.
    pub fn into_http_response<B: From<Bytes>>(self) -> Response<B> {
        let mut response = Response::new(B::from(Bytes::from(self.message.clone())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(retry_after) = self.retry_after() {
            headers.insert(RETRY_AFTER, retry_after);
        }
        if !self.retryable {
            mark_do_not_retry(headers);
        }
        response
    }
}

/// `From` every rejection in core's one list.
macro_rules! from_rejection {
    ($($(#[$doc:meta])* $name:ident, $display:literal, $status:literal;)*) => {
        $(
            impl From<seawall_core::rejection::$name> for RejectionResponse {
                fn from(rejection: seawall_core::rejection::$name) -> Self {
                    Self::from_rejection(&rejection)
                }
            }
        )*
    };
}

seawall_core::for_each_rejection!(from_rejection);

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for RejectionResponse {
    fn into_response(self) -> axum_core::response::Response {
        self.into_http_response()
    }
}

/// The 500 response for an error that is not a rejection; its message stays in the logs.
pub(crate) fn internal_error<B: From<Bytes>>(error: &(dyn Error + 'static)) -> Response<B> {
    tracing::error!(error = %error, "service error that is not a rejection; responding 500");
    let mut response = Response::new(B::from(Bytes::from_static(b"internal server error")));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http_body_util::Full;
    use seawall_core::rejection::{CircuitOpen, DeadlineExceeded, Overloaded, RateLimited};

    fn build(r: impl Into<RejectionResponse>) -> Response<Full<Bytes>> {
        r.into().into_http_response()
    }

    #[test]
    fn statuses_and_retry_after() {
        let secs = |s| Some(Duration::from_secs(s));
        let r = build(Overloaded::new(secs(2)));
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[RETRY_AFTER], "2");
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        let r = build(CircuitOpen::new(Some(Duration::from_millis(100))));
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[RETRY_AFTER], "1", "rounded up, never early");
        let r = build(Overloaded::new(None));
        assert!(r.headers().get(RETRY_AFTER).is_none());
        let r = build(RateLimited::new(secs(60)));
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[RETRY_AFTER], "60");
        let r = build(DeadlineExceeded::new(secs(1)));
        assert_eq!(r.status(), 504);
        assert!(r.headers().get(RETRY_AFTER).is_none());
        // Every Seawall rejection says "do not retry", and its response says so too.
        assert_eq!(r.headers()["seawall-retry"], "no");
        assert_eq!(
            build(Overloaded::new(None)).headers()["seawall-retry"],
            "no"
        );
    }

    /// Every rejection in core's list becomes a response with its kind's status and the
    /// do-not-retry header, found through a wrapping error: a new entry in the list needs
    /// nothing here.
    #[test]
    fn every_listed_rejection_becomes_its_response() {
        macro_rules! check {
            ($($(#[$doc:meta])* $name:ident, $display:literal, $status:literal;)*) => {{
                let mut kinds = Vec::new();
                $(
                    let rejection = seawall_core::rejection::$name::new(None);
                    let kind = rejection.kind();
                    let wrapped = seawall_core::DoNotRetry::new(Box::new(rejection.clone()));
                    let found = RejectionResponse::find(&wrapped).unwrap();
                    assert_eq!(found.status().as_u16(), kind.http_status());
                    let r = build(rejection);
                    assert_eq!(r.status().as_u16(), $status);
                    assert_eq!(r.headers()["seawall-retry"], "no", "{}", $display);
                    kinds.push(kind);
                )*
                kinds
            }};
        }
        assert_eq!(seawall_core::for_each_rejection!(check), RejectionKind::ALL);
    }
}
