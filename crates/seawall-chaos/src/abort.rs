//! Drop a request without an answer.

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::error::Aborted;
use crate::future::{AbortAnswer, ResponseFuture};
use crate::injection::{ChaosHandle, Everything, Injection, Target};

/// What an injected abort does with the request it drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortMode {
    /// The response future never resolves: the caller waits until its own timeout or
    /// deadline gives up, as with a server that accepted the request and then went silent.
    /// This is the abort to test a client's timeouts with. Dropping the future frees it.
    Hang,
    /// The response future fails at once with [`Aborted`]. Served by hyper (directly or
    /// through `hyper-util`), a service error closes the connection without a response,
    /// so the client sees the connection closed before an answer, as when a server process
    /// dies mid-request. axum's `Router` requires infallible services, so there use
    /// [`Hang`](Self::Hang), or put the layer around the whole router where you hand it to
    /// hyper yourself.
    DropConnection,
}

/// Drops a share of requests without calling the inner service and without answering
/// them; see [`AbortMode`] for what the caller sees.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), seawall_core::ConfigError> {
/// use std::time::Duration;
/// use seawall_chaos::{AbortMode, InjectAbortLayer, Injection};
/// use seawall_core::BoxError;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let injection = Injection::builder().rate(1.0).seed(1).build()?;
/// let layer = InjectAbortLayer::new(injection, AbortMode::Hang);
/// let service = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// let answer = tokio::time::timeout(Duration::from_millis(10), service.oneshot(1)).await;
/// assert!(answer.is_err(), "the caller's timeout is all that ends the call");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InjectAbortLayer<T = Everything> {
    injection: Injection<T>,
    mode: AbortMode,
}

impl<T> InjectAbortLayer<T> {
    /// Aborts the requests `injection` picks, in `mode`.
    pub fn new(injection: Injection<T>, mode: AbortMode) -> Self {
        Self { injection, mode }
    }

    /// The switch shared by this layer and every service it builds.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, T: Clone> Layer<S> for InjectAbortLayer<T> {
    type Service = InjectAbort<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        InjectAbort {
            inner,
            injection: self.injection.clone(),
            mode: self.mode,
        }
    }
}

/// The service of [`InjectAbortLayer`].
#[derive(Clone, Debug)]
pub struct InjectAbort<S, T = Everything> {
    inner: S,
    injection: Injection<T>,
    mode: AbortMode,
}

seawall_core::inner_accessors!(InjectAbort<S, T>, inner: S);

impl<S, T> InjectAbort<S, T> {
    /// The switch shared with the layer.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, T, Req> Service<Req> for InjectAbort<S, T>
where
    S: Service<Req>,
    S::Error: From<Aborted>,
    T: Target<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, AbortAnswer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if !self.injection.inject(&request) {
            return ResponseFuture::inner(self.inner.call(request));
        }
        drop(request);
        self.injection.emit("abort");
        match self.mode {
            AbortMode::Hang => ResponseFuture::hang(),
            AbortMode::DropConnection => ResponseFuture::injected(AbortAnswer::new()),
        }
    }
}
