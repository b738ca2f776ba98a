//! Which HTTP responses and errors are transient, and which requests are safe to send twice.
//!
//! # Why
//!
//! A retry is only worth it when the failure is likely to go away by itself (a 503 from an
//! overloaded upstream, a refused connection while a host restarts), and only safe when
//! sending the request twice does no harm. A circuit breaker needs the same judgement to
//! decide what counts against an upstream. Deciding it once, here, keeps every Seawall layer
//! consistent:
//!
//! - **transient responses**: 408, 429, and every 5xx except 501 (Not Implemented) and 505
//!   (HTTP Version Not Supported), which will not change on a retry — [`is_transient_status`];
//! - **transient errors**: connect errors, connection resets, connections closed before the
//!   response completed, and timeouts, found anywhere in the error's source chain —
//!   [`is_transient_error`]. Seawall's own rejections are *not*
//!   transient: they say "do not retry";
//! - **safe to repeat**: the idempotent methods of RFC 9110 (GET, HEAD, OPTIONS, TRACE, PUT,
//!   DELETE), and POST only when it carries an `Idempotency-Key` header and the caller opted
//!   in — [`is_idempotent`].
//!
//! [`HttpClassifier`] puts the first two together as a [`seawall_core::Classify`] for
//! `Result<http::Response<B>, E>`, and also implements `tower_http`'s
//! [`ClassifyResponse`], so the same policy can drive
//! `tower_http::trace`. [`TowerHttpClassifier`] goes the other way: it lets any `tower_http`
//! classifier (such as `StatusInRangeAsFailures`) drive Seawall's layers.
//!
//! ```
//! use http::StatusCode;
//! use seawall_core::{Classify, Outcome};
//! use seawall_http::classify::{is_idempotent, is_transient_status, HttpClassifier};
//!
//! assert!(is_transient_status(StatusCode::SERVICE_UNAVAILABLE));
//! assert!(!is_transient_status(StatusCode::NOT_IMPLEMENTED));
//!
//! let classifier = HttpClassifier::new();
//! let response: Result<_, std::io::Error> = Ok(http::Response::builder().status(502).body(()).unwrap());
//! assert_eq!(classifier.classify(&response), Outcome::Failure);
//!
//! let post = http::Request::post("/payments").header("idempotency-key", "8e03").body(()).unwrap();
//! assert!(!is_idempotent(&post, false));
//! assert!(is_idempotent(&post, true));
//! ```

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::io;

use http::header::HeaderName;
use http::{Method, Request, Response, StatusCode};
use seawall_core::rejection::chain;
use seawall_core::{find_rejection, BoxError, Classify, Outcome};
use tower_http::classify::{ClassifiedResponse, ClassifyResponse, NeverClassifyEos};

/// The `Idempotency-Key` request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Whether a response with `status` reports a failure that may go away on its own: 408, 429,
/// and every 5xx except 501 and 505.
pub fn is_transient_status(status: StatusCode) -> bool {
    match status {
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => true,
        StatusCode::NOT_IMPLEMENTED | StatusCode::HTTP_VERSION_NOT_SUPPORTED => false,
        status => status.is_server_error(),
    }
}

/// Whether `error` is a failure that may go away on its own: a connect error, a reset or
/// aborted connection, or a timeout, anywhere in its chain of sources.
///
/// It recognises `std::io::Error`s of kind `ConnectionRefused`, `ConnectionReset`,
/// `ConnectionAborted`, `NotConnected`, `BrokenPipe` and `TimedOut`; tower's and tokio's
/// `Elapsed`; with the `hyper` feature, hyper-util's connect errors; with the `hyper` or
/// `reqwest` feature, hyper's timeouts and its "connection closed before message completed"
/// ([`is_incomplete_message`](https://docs.rs/hyper/1/hyper/struct.Error.html#method.is_incomplete_message):
/// the server closed a connection, often a kept-alive one it had timed out, before the
/// response was complete) however deeply hyper-util's or reqwest's errors wrap them; with the
/// `reqwest` feature, reqwest's connect errors and timeouts.
///
/// Like a reset connection, an incomplete message may come after the server processed the
/// request: a layer should resend only a request that is safe to repeat ([`is_idempotent`]).
///
/// A Seawall [rejection](seawall_core::rejection) is transient only if it says so
/// ([`Rejection::retryable`](seawall_core::Rejection::retryable)); Seawall's own never do.
pub fn is_transient_error(error: &(dyn Error + 'static)) -> bool {
    if let Some(rejection) = find_rejection(error) {
        return rejection.retryable();
    }
    chain(error).any(is_transient_here)
}

fn is_transient_here(error: &(dyn Error + 'static)) -> bool {
    if let Some(io) = error.downcast_ref::<io::Error>() {
        if matches!(
            io.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::TimedOut
        ) {
            return true;
        }
    }
    if error.is::<tower::timeout::error::Elapsed>() || error.is::<tokio::time::error::Elapsed>() {
        return true;
    }
    #[cfg(feature = "hyper")]
    {
        if let Some(e) = error.downcast_ref::<hyper_util::client::legacy::Error>() {
            if e.is_connect() {
                return true;
            }
        }
    }
    // reqwest's errors wrap hyper's, so the `reqwest` feature needs this check too.
    #[cfg(any(feature = "hyper", feature = "reqwest"))]
    {
        if let Some(e) = error.downcast_ref::<hyper::Error>() {
            // An incomplete message is a connection the server closed before the response
            // was complete — typically a kept-alive connection it had just timed out. No
            // `io::Error` lies under it.
            if e.is_timeout() || e.is_incomplete_message() {
                return true;
            }
        }
    }
    #[cfg(feature = "reqwest")]
    {
        if let Some(e) = error.downcast_ref::<reqwest::Error>() {
            if e.is_connect() || e.is_timeout() {
                return true;
            }
        }
    }
    false
}

/// Whether sending `request` twice is safe: its method is idempotent per RFC 9110 (GET, HEAD,
/// OPTIONS, TRACE, PUT, DELETE), or it is a POST with a non-empty `Idempotency-Key` header and
/// `allow_keyed_post` is set.
///
/// With `allow_keyed_post` the caller vouches that the server honours `Idempotency-Key`
/// (it stores the first response under the key and returns it again for a repeat).
pub fn is_idempotent<B>(request: &Request<B>, allow_keyed_post: bool) -> bool {
    let method = request.method();
    if method == Method::GET
        || method == Method::HEAD
        || method == Method::OPTIONS
        || method == Method::TRACE
        || method == Method::PUT
        || method == Method::DELETE
    {
        return true;
    }
    allow_keyed_post
        && method == Method::POST
        && request
            .headers()
            .get(IDEMPOTENCY_KEY)
            .is_some_and(|key| !key.is_empty())
}

/// Errors that the HTTP classifiers can look inside.
///
/// A classifier sees a service's error as `&E`; to search its source chain it needs it as
/// `&dyn Error`. `BoxError` is not itself an `Error`, so the two cannot share one generic
/// bound: this trait covers both. It is implemented for `BoxError`, `std::io::Error`,
/// `Infallible`, tower's and tokio's `Elapsed`, Seawall's rejections and, with their
/// features, hyper's, hyper-util's and reqwest's errors. For an error type of your own it
/// is one line:
///
/// ```
/// # use std::error::Error;
/// # #[derive(Debug)] struct MyError;
/// # impl std::fmt::Display for MyError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("mine") } }
/// # impl Error for MyError {}
/// impl seawall_http::classify::AsDynError for MyError {
///     fn as_dyn_error(&self) -> &(dyn Error + 'static) { self }
/// }
/// ```
pub trait AsDynError {
    /// The error as a trait object.
    fn as_dyn_error(&self) -> &(dyn Error + 'static);
}

impl AsDynError for BoxError {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self.as_ref()
    }
}

impl AsDynError for Box<dyn Error + Send + 'static> {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self.as_ref()
    }
}

impl AsDynError for Box<dyn Error + 'static> {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self.as_ref()
    }
}

impl AsDynError for Infallible {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        match *self {}
    }
}

macro_rules! as_dyn_error {
    ($($(#[$cfg:meta])* $ty:ty),* $(,)?) => {
        $(
            $(#[$cfg])*
            impl AsDynError for $ty {
                fn as_dyn_error(&self) -> &(dyn Error + 'static) {
                    self
                }
            }
        )*
    };
}

/// `AsDynError` for every rejection in core's one list.
macro_rules! as_dyn_error_for_rejections {
    ($($(#[$doc:meta])* $name:ident, $display:literal, $status:literal;)*) => {
        as_dyn_error!($(seawall_core::rejection::$name),*);
    };
}

seawall_core::for_each_rejection!(as_dyn_error_for_rejections);

as_dyn_error!(
    io::Error,
    http::Error,
    tower::timeout::error::Elapsed,
    tokio::time::error::Elapsed,
    seawall_core::DoNotRetry,
    crate::replay::ReplayError,
    #[cfg(feature = "hyper")]
    hyper::Error,
    #[cfg(feature = "hyper")]
    hyper_util::client::legacy::Error,
    #[cfg(feature = "reqwest")]
    reqwest::Error,
);

/// Seawall's HTTP classification policy, for every layer that needs one.
///
/// The breaker counts its `Failure`s against the upstream
/// (`seawall_breaker::http::builder()`); the retry layer's `HttpPolicy` retries them
/// (`seawall_retry::http::builder()`; a result that says "do not retry" excepted). The
/// two layers' `http` modules have the same shape and both re-export this type.
///
/// | result | outcome |
/// |---|---|
/// | a response with a [transient status](is_transient_status) | `Failure` |
/// | any other response (2xx, 3xx, 4xx, 501, 505) | `Success` |
/// | a Seawall rejection | `Ignored`: a layer protecting the service says nothing about its health |
/// | a [`DoNotRetry`](seawall_core::DoNotRetry) mark | what the failure it carries is |
/// | a [transient error](is_transient_error) | `Failure` |
/// | any other error | `Failure`, or what [`other_errors`](Self::other_errors) says |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpClassifier {
    other_errors: Outcome,
}

impl Default for HttpClassifier {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClassifier {
    /// The policy in the table above.
    pub fn new() -> Self {
        Self {
            other_errors: Outcome::Failure,
        }
    }

    /// How to count errors that are neither transient nor rejections (a malformed URI, a
    /// failing request body). `Failure` by default; `Ignored` keeps them from tripping a
    /// breaker or being retried.
    pub fn other_errors(mut self, outcome: Outcome) -> Self {
        self.other_errors = outcome;
        self
    }

    /// The outcome of a response with `status`.
    pub fn classify_status(&self, status: StatusCode) -> Outcome {
        if is_transient_status(status) {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }

    /// The outcome of `error`.
    pub fn classify_error(&self, error: &(dyn Error + 'static)) -> Outcome {
        if find_rejection(error).is_some() {
            Outcome::Ignored
        } else if is_transient_error(error) {
            Outcome::Failure
        } else {
            self.other_errors
        }
    }
}

impl<B, E: AsDynError> Classify<Response<B>, E> for HttpClassifier {
    fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
        match result {
            Ok(response) => self.classify_status(response.status()),
            Err(error) => self.classify_error(error.as_dyn_error()),
        }
    }
}

/// Why [`HttpClassifier`] classed a response or error as a failure, for `tower_http`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpFailureClass {
    /// A response with a transient status.
    Status(StatusCode),
    /// An error, by its message.
    Error(String),
}

impl fmt::Display for HttpFailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "transient status {status}"),
            Self::Error(error) => write!(f, "error: {error}"),
        }
    }
}

impl ClassifyResponse for HttpClassifier {
    type FailureClass = HttpFailureClass;
    type ClassifyEos = NeverClassifyEos<HttpFailureClass>;

    fn classify_response<B>(
        self,
        response: &Response<B>,
    ) -> ClassifiedResponse<Self::FailureClass, Self::ClassifyEos> {
        match self.classify_status(response.status()) {
            Outcome::Failure => {
                ClassifiedResponse::Ready(Err(HttpFailureClass::Status(response.status())))
            }
            _ => ClassifiedResponse::Ready(Ok(())),
        }
    }

    fn classify_error<E>(self, error: &E) -> Self::FailureClass
    where
        E: fmt::Display + 'static,
    {
        HttpFailureClass::Error(error.to_string())
    }
}

/// Any `tower_http` response classifier as a Seawall [`Classify`].
///
/// A response the `tower_http` classifier calls a failure is a `Failure`; any other response
/// (including one it can only judge at the end of its stream, such as a gRPC status in the
/// trailers) is a `Success`. A Seawall rejection is `Ignored` and any other error a
/// `Failure`.
///
/// ```
/// use seawall_core::{Classify, Outcome};
/// use seawall_http::classify::TowerHttpClassifier;
/// use tower_http::classify::StatusInRangeAsFailures;
///
/// let classifier = TowerHttpClassifier::new(StatusInRangeAsFailures::new_for_client_and_server_errors());
/// let not_found: Result<_, std::io::Error> = Ok(http::Response::builder().status(404).body(()).unwrap());
/// assert_eq!(classifier.classify(&not_found), Outcome::Failure);
/// ```
#[derive(Clone, Debug)]
pub struct TowerHttpClassifier<C> {
    inner: C,
}

impl<C> TowerHttpClassifier<C> {
    /// Wraps a `tower_http` classifier.
    pub fn new(inner: C) -> Self {
        Self { inner }
    }

    /// The `tower_http` classifier.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// Unwraps the `tower_http` classifier.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C, B, E> Classify<Response<B>, E> for TowerHttpClassifier<C>
where
    C: ClassifyResponse + Clone,
    E: AsDynError,
{
    fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
        match result {
            Ok(response) => match self.inner.clone().classify_response(response) {
                ClassifiedResponse::Ready(Err(_)) => Outcome::Failure,
                ClassifiedResponse::Ready(Ok(())) | ClassifiedResponse::RequiresEos(_) => {
                    Outcome::Success
                }
            },
            Err(error) if find_rejection(error.as_dyn_error()).is_some() => Outcome::Ignored,
            Err(_) => Outcome::Failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seawall_core::rejection::{CircuitOpen, Overloaded};
    use std::time::Duration;

    #[derive(Debug)]
    struct Wrapped(BoxError);
    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("request failed")
        }
    }
    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    #[test]
    fn transient_statuses() {
        let transient: Vec<u16> = (100..=599)
            .filter(|&code| is_transient_status(StatusCode::from_u16(code).unwrap()))
            .collect();
        let mut expected = vec![408, 429, 500, 502, 503, 504];
        expected.extend(506..=599);
        assert_eq!(transient, expected);
    }

    #[test]
    fn transient_errors_are_found_in_the_chain() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert!(is_transient_error(&refused));
        let wrapped = Wrapped(Box::new(io::Error::from(io::ErrorKind::ConnectionReset)));
        assert!(is_transient_error(&wrapped));
        let boxed: BoxError = Box::new(Wrapped(Box::new(tower::timeout::error::Elapsed::new())));
        assert!(is_transient_error(boxed.as_ref()));

        let not_found = io::Error::from(io::ErrorKind::NotFound);
        assert!(!is_transient_error(&not_found));
        let other: BoxError = "invalid uri".into();
        assert!(!is_transient_error(other.as_ref()));
    }

    #[test]
    fn rejections_are_not_transient_even_when_caused_by_a_timeout() {
        let overloaded = Overloaded::new(Some(Duration::from_secs(1)));
        assert!(!is_transient_error(&overloaded));
        let wrapped = Wrapped(Box::new(CircuitOpen::new(None)));
        assert!(!is_transient_error(&wrapped));
    }

    #[test]
    fn idempotent_requests() {
        for method in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            let request = Request::builder().method(method).body(()).unwrap();
            assert!(is_idempotent(&request, false), "{method}");
        }
        for method in ["POST", "PATCH", "CONNECT"] {
            let request = Request::builder().method(method).body(()).unwrap();
            assert!(!is_idempotent(&request, true), "{method}");
        }
        let keyed = Request::post("/")
            .header(IDEMPOTENCY_KEY, "k-1")
            .body(())
            .unwrap();
        assert!(!is_idempotent(&keyed, false), "keyed POST needs the opt-in");
        assert!(is_idempotent(&keyed, true));
        let empty_key = Request::post("/")
            .header(IDEMPOTENCY_KEY, "")
            .body(())
            .unwrap();
        assert!(!is_idempotent(&empty_key, true));
        let keyed_patch = Request::patch("/")
            .header(IDEMPOTENCY_KEY, "k")
            .body(())
            .unwrap();
        assert!(!is_idempotent(&keyed_patch, true), "only POST is opted in");
    }

    fn response(status: u16) -> Response<()> {
        Response::builder().status(status).body(()).unwrap()
    }

    #[test]
    fn the_http_classifier() {
        let c = HttpClassifier::new();
        let ok: Result<_, BoxError> = Ok(response(200));
        assert_eq!(c.classify(&ok), Outcome::Success);
        let not_found: Result<_, BoxError> = Ok(response(404));
        assert_eq!(c.classify(&not_found), Outcome::Success);
        let unavailable: Result<_, BoxError> = Ok(response(503));
        assert_eq!(c.classify(&unavailable), Outcome::Failure);
        let not_implemented: Result<_, BoxError> = Ok(response(501));
        assert_eq!(c.classify(&not_implemented), Outcome::Success);

        let shed: Result<Response<()>, BoxError> = Err(Overloaded::new(None).into());
        assert_eq!(c.classify(&shed), Outcome::Ignored);
        let reset: Result<Response<()>, io::Error> =
            Err(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(c.classify(&reset), Outcome::Failure);
        let odd: Result<Response<()>, BoxError> = Err("bad header".into());
        assert_eq!(c.classify(&odd), Outcome::Failure);
        let lenient = c.other_errors(Outcome::Ignored);
        assert_eq!(lenient.classify(&odd), Outcome::Ignored);
        assert_eq!(lenient.classify(&reset), Outcome::Failure);
    }

    #[test]
    fn the_http_classifier_in_tower_http() {
        let c = HttpClassifier::new();
        assert!(matches!(
            c.classify_response(&response(503)),
            ClassifiedResponse::Ready(Err(HttpFailureClass::Status(
                StatusCode::SERVICE_UNAVAILABLE
            )))
        ));
        assert!(matches!(
            c.classify_response(&response(404)),
            ClassifiedResponse::Ready(Ok(()))
        ));
    }

    #[test]
    fn tower_http_classifiers_drive_seawall() {
        let c = TowerHttpClassifier::new(tower_http::classify::ServerErrorsAsFailures::new());
        let teapot: Result<_, BoxError> = Ok(response(418));
        assert_eq!(c.classify(&teapot), Outcome::Success);
        let not_implemented: Result<_, BoxError> = Ok(response(501));
        assert_eq!(c.classify(&not_implemented), Outcome::Failure);
        let open: Result<Response<()>, BoxError> = Err(CircuitOpen::new(None).into());
        assert_eq!(c.classify(&open), Outcome::Ignored);
        let reset: Result<Response<()>, io::Error> =
            Err(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(c.classify(&reset), Outcome::Failure);
    }
}
