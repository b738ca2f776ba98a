use std::task::{Context, Poll};

use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{ReplayableBody, DEFAULT_REPLAY_CAP};

/// Makes the body of every request replayable before it reaches the inner service: the
/// layer of [`Replay`].
///
/// Put it above the layers that may send a request more than once (retries, hedging), so
/// they can [`try_clone_request`](super::try_clone_request).
///
/// ```
/// use seawall_http::replay::ReplayLayer;
/// use tower::ServiceBuilder;
///
/// let layer = ReplayLayer::new(16 * 1024);
/// # let svc = tower::service_fn(|_req: http::Request<seawall_http::replay::ReplayableBody<http_body_util::Empty<bytes::Bytes>>>| async {
/// #     Ok::<_, std::convert::Infallible>(http::Response::new(()))
/// # });
/// let service = ServiceBuilder::new().layer(layer).service(svc);
/// # let _ = service;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ReplayLayer {
    cap: usize,
}

impl ReplayLayer {
    /// Keeps up to `cap` bytes of each request body.
    ///
    /// A request whose body is larger than `cap` is sent whole, but cannot be sent again:
    /// a retry layer inside this one does not retry it. `seawall-retry`'s `HttpPolicy` reports this at `WARN` the first time it costs a
    /// request its retries, once per retry layer; size the cap to the largest body that
    /// should be retried.
    pub fn new(cap: usize) -> Self {
        Self { cap }
    }

    /// The cap in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }
}

impl Default for ReplayLayer {
    /// Keeps up to [`DEFAULT_REPLAY_CAP`] (64 KiB) of each request body.
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAP)
    }
}

impl<S> Layer<S> for ReplayLayer {
    type Service = Replay<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Replay {
            inner,
            cap: self.cap,
        }
    }
}

/// Makes the body of every request a [`ReplayableBody`] before the inner service sees it;
/// made by [`ReplayLayer`].
#[derive(Clone, Debug)]
pub struct Replay<S> {
    inner: S,
    cap: usize,
}

impl<S> Replay<S> {
    /// Wraps `inner`, keeping up to `cap` bytes of each request body.
    pub fn new(inner: S, cap: usize) -> Self {
        Self { inner, cap }
    }
}

seawall_core::inner_accessors!(Replay<S>, inner: S);

impl<S, B> Service<Request<B>> for Replay<S>
where
    S: Service<Request<ReplayableBody<B>>>,
    B: http_body::Body,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let cap = self.cap;
        self.inner
            .call(request.map(|body| ReplayableBody::new(body, cap)))
    }
}

/// The former name of [`ReplayLayer`].
#[deprecated(note = "renamed `ReplayLayer`, the layer of the service `Replay`")]
pub type ReplayableBodyLayer = ReplayLayer;

/// The former name of [`Replay`].
#[deprecated(note = "renamed `Replay`, the service of `ReplayLayer`")]
pub type ReplayableBodyService<S> = Replay<S>;
