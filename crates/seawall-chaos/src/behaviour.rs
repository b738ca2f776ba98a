//! Run a user closure before a request reaches the inner service.

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::injection::{ChaosHandle, Everything, Injection, Target};

/// Runs a closure of yours before a share of requests reach the inner service, then calls
/// the inner service as usual (Polly's behaviour strategy): kill a connection pool, flip a
/// feature flag, fill a disk, count what was hit. The closure sees the request and runs on
/// the calling task, so it should be quick; spawn anything slow.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), seawall_core::ConfigError> {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use seawall_chaos::{InjectBehaviourLayer, Injection};
/// use seawall_core::BoxError;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let hits = Arc::new(AtomicU32::new(0));
/// let counter = hits.clone();
/// let injection = Injection::builder().rate(1.0).seed(1).build()?;
/// let layer = InjectBehaviourLayer::new(injection, move |_: &u32| {
///     counter.fetch_add(1, Ordering::Relaxed);
/// });
/// let service = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// assert_eq!(service.oneshot(5).await.unwrap(), 5);
/// assert_eq!(hits.load(Ordering::Relaxed), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InjectBehaviourLayer<B, T = Everything> {
    injection: Injection<T>,
    behaviour: B,
}

impl<B, T> InjectBehaviourLayer<B, T> {
    /// Runs `behaviour(&request)` before the requests `injection` picks.
    pub fn new(injection: Injection<T>, behaviour: B) -> Self {
        Self {
            injection,
            behaviour,
        }
    }

    /// The switch shared by this layer and every service it builds.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, B: Clone, T: Clone> Layer<S> for InjectBehaviourLayer<B, T> {
    type Service = InjectBehaviour<S, B, T>;

    fn layer(&self, inner: S) -> Self::Service {
        InjectBehaviour {
            inner,
            injection: self.injection.clone(),
            behaviour: self.behaviour.clone(),
        }
    }
}

/// The service of [`InjectBehaviourLayer`].
#[derive(Clone, Debug)]
pub struct InjectBehaviour<S, B, T = Everything> {
    inner: S,
    injection: Injection<T>,
    behaviour: B,
}

seawall_core::inner_accessors!(InjectBehaviour<S, B, T>, inner: S);

impl<S, B, T> InjectBehaviour<S, B, T> {
    /// The switch shared with the layer.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, B, T, Req> Service<Req> for InjectBehaviour<S, B, T>
where
    S: Service<Req>,
    B: Fn(&Req),
    T: Target<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if self.injection.inject(&request) {
            self.injection.emit("behaviour");
            (self.behaviour)(&request);
        }
        self.inner.call(request)
    }
}
