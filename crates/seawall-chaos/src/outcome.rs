//! Answer with an HTTP response of a chosen status, and target requests by header.

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use seawall_http::retry_after::format_retry_after;
use tower_layer::Layer;
use tower_service::Service;

use crate::future::{Answer, ResponseFuture};
use crate::injection::{ChaosHandle, Everything, Injection, Target};

/// Answers a share of HTTP requests with a response of a chosen status instead of calling
/// the inner service (Polly's outcome strategy, Envoy's fault abort with an HTTP status),
/// optionally with `Retry-After`, as an overloaded or rate-limiting server would. The body
/// is `injected fault` as `text/plain`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), seawall_core::ConfigError> {
/// use std::time::Duration;
/// use http::StatusCode;
/// use http_body_util::Full;
/// use bytes::Bytes;
/// use seawall_chaos::{InjectOutcomeLayer, Injection};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let injection = Injection::builder().rate(1.0).seed(1).build()?;
/// let layer = InjectOutcomeLayer::new(injection, StatusCode::SERVICE_UNAVAILABLE)
///     .retry_after(Duration::from_secs(2));
/// let service = layer.layer(service_fn(|_: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::default()))
/// }));
/// let response = service.oneshot(http::Request::new(())).await.unwrap();
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.headers()["retry-after"], "2");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InjectOutcomeLayer<T = Everything> {
    injection: Injection<T>,
    status: StatusCode,
    retry_after: Option<Duration>,
}

impl<T> InjectOutcomeLayer<T> {
    /// Answers the requests `injection` picks with `status`.
    pub fn new(injection: Injection<T>, status: StatusCode) -> Self {
        Self {
            injection,
            status,
            retry_after: None,
        }
    }

    /// Adds `Retry-After` to the injected responses: `after` in whole seconds, rounded up.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The switch shared by this layer and every service it builds.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, T: Clone> Layer<S> for InjectOutcomeLayer<T> {
    type Service = InjectOutcome<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        InjectOutcome {
            inner,
            injection: self.injection.clone(),
            status: self.status,
            retry_after: self.retry_after,
        }
    }
}

/// The service of [`InjectOutcomeLayer`].
#[derive(Clone, Debug)]
pub struct InjectOutcome<S, T = Everything> {
    inner: S,
    injection: Injection<T>,
    status: StatusCode,
    retry_after: Option<Duration>,
}

seawall_core::inner_accessors!(InjectOutcome<S, T>, inner: S);

impl<S, T> InjectOutcome<S, T> {
    /// The switch shared with the layer.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, T, ReqBody, ResBody> Service<Request<ReqBody>> for InjectOutcome<S, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: Target<Request<ReqBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, OutcomeAnswer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // Switched off, the request goes straight on: it is not even borrowed, which would
        // make the compiler copy it (224 bytes) before the inner call.
        if !self.injection.switched_on() {
            return ResponseFuture::inner(self.inner.call(request));
        }
        self.call_switched_on(request)
    }
}

impl<S, T> InjectOutcome<S, T> {
    /// The switched-on path: the draw, then the inner call or the injected answer.
    #[inline(never)]
    fn call_switched_on<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
    ) -> ResponseFuture<S::Future, OutcomeAnswer>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        T: Target<Request<ReqBody>>,
    {
        if !self.injection.inject(&request) {
            return ResponseFuture::inner(self.inner.call(request));
        }
        self.injection.emit("outcome");
        ResponseFuture::injected(OutcomeAnswer {
            status: self.status,
            retry_after: self.retry_after,
        })
    }
}

/// The answer of [`InjectOutcome`]: a response with the chosen status, `Retry-After` if
/// configured, and the body `injected fault` as `text/plain`.
#[derive(Clone, Copy, Debug)]
pub struct OutcomeAnswer {
    status: StatusCode,
    retry_after: Option<Duration>,
}

impl<B: From<Bytes>, E> Answer<Result<Response<B>, E>> for OutcomeAnswer {
    fn answer(self) -> Result<Response<B>, E> {
        let mut response = Response::new(B::from(Bytes::from_static(b"injected fault")));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        if let Some(after) = self.retry_after {
            headers.insert(RETRY_AFTER, format_retry_after(after));
        }
        Ok(response)
    }
}

/// Injects only into HTTP requests carrying a header, as Envoy's fault filter does, so
/// that one request can be made to fail in a running system.
///
/// # Security
///
/// A header target lets whoever can send the header choose failures. Seawall reads no
/// header unless you build an injection with a `HeaderTarget`; when you do, strip the
/// header at your edge (or accept it only from inside), and keep the injection disabled
/// through its [`ChaosHandle`] until an operator turns it on.
///
/// ```
/// use seawall_chaos::{HeaderTarget, Injection};
///
/// let target = HeaderTarget::present("x-chaos-fault")?.with_value("checkout")?;
/// let injection = Injection::builder().rate(1.0).seed(1).target(target).build()?;
/// let marked = http::Request::get("/").header("x-chaos-fault", "checkout").body(())?;
/// assert!(injection.inject(&marked));
/// assert!(!injection.inject(&http::Request::new(())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct HeaderTarget {
    name: HeaderName,
    value: Option<HeaderValue>,
}

impl HeaderTarget {
    /// Matches requests that carry the header `name`, whatever its value.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](seawall_core::ConfigError) naming `header name` when `name` is
    /// not a valid header name.
    pub fn present(name: &str) -> Result<Self, seawall_core::ConfigError> {
        let name = HeaderName::try_from(name).map_err(|_| {
            seawall_core::ConfigError::new(format!(
                "header name must be a valid HTTP header name, got {name:?}"
            ))
        })?;
        Ok(Self { name, value: None })
    }

    /// Matches only when the header has exactly `value`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](seawall_core::ConfigError) naming `header value` when `value` is
    /// not a valid header value.
    pub fn with_value(mut self, value: &str) -> Result<Self, seawall_core::ConfigError> {
        let value = HeaderValue::try_from(value).map_err(|_| {
            seawall_core::ConfigError::new(format!(
                "header value must be visible ASCII, got {value:?}"
            ))
        })?;
        self.value = Some(value);
        Ok(self)
    }
}

impl<B> Target<Request<B>> for HeaderTarget {
    fn matches(&self, request: &Request<B>) -> bool {
        let mut values = request.headers().get_all(&self.name).iter();
        match &self.value {
            None => values.next().is_some(),
            Some(wanted) => values.any(|v| v == wanted),
        }
    }
}
