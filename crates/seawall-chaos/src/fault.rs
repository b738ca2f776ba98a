//! Inject an error of the user's choosing.

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::future::{FaultAnswer, ResponseFuture};
use crate::injection::{ChaosHandle, Everything, Injection, Target};

/// Answers a share of requests with an error of your choosing instead of calling the inner
/// service (Polly's fault strategy). The error comes from `make_error`, called once per
/// injected request, and must convert into the inner service's error type.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), seawall_core::ConfigError> {
/// use seawall_chaos::{InjectFaultLayer, InjectedFault, Injection};
/// use seawall_core::BoxError;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let layer = InjectFaultLayer::new(Injection::builder().rate(1.0).seed(1).build()?, InjectedFault::new);
/// let service = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// let error = service.oneshot(1).await.unwrap_err();
/// assert!(error.is::<InjectedFault>());
///
/// layer.handle().disable();
/// let service = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// assert_eq!(service.oneshot(1).await.unwrap(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InjectFaultLayer<M, T = Everything> {
    injection: Injection<T>,
    make_error: M,
}

impl<M, T> InjectFaultLayer<M, T> {
    /// Injects `make_error()` into the requests `injection` picks.
    pub fn new(injection: Injection<T>, make_error: M) -> Self {
        Self {
            injection,
            make_error,
        }
    }

    /// The switch shared by this layer and every service it builds.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, M: Clone, T: Clone> Layer<S> for InjectFaultLayer<M, T> {
    type Service = InjectFault<S, M, T>;

    fn layer(&self, inner: S) -> Self::Service {
        InjectFault {
            inner,
            injection: self.injection.clone(),
            make_error: self.make_error.clone(),
        }
    }
}

/// The service of [`InjectFaultLayer`].
#[derive(Clone, Debug)]
pub struct InjectFault<S, M, T = Everything> {
    inner: S,
    injection: Injection<T>,
    make_error: M,
}

seawall_core::inner_accessors!(InjectFault<S, M, T>, inner: S);

impl<S, M, T> InjectFault<S, M, T> {
    /// The switch shared with the layer.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, M, T, E, Req> Service<Req> for InjectFault<S, M, T>
where
    S: Service<Req>,
    T: Target<Req>,
    M: Fn() -> E + Clone,
    E: Into<S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, FaultAnswer<M>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if self.injection.inject(&request) {
            self.injection.emit("fault");
            ResponseFuture::injected(FaultAnswer::new(self.make_error.clone()))
        } else {
            ResponseFuture::inner(self.inner.call(request))
        }
    }
}
