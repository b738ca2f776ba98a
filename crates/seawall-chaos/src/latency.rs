//! Delay a request before it reaches the inner service.

use std::task::{Context, Poll};

use seawall_core::latency::Latency;
use seawall_core::ConfigError;
use tower_layer::Layer;
use tower_service::Service;

use crate::future::LatencyFuture;
use crate::injection::{ChaosHandle, Everything, Injection, Target};

/// Delays a share of requests before they reach the inner service (Polly's latency
/// strategy, Envoy's fault delay): the delay is drawn from a [`Latency`], fixed
/// ([`Latency::constant`]) or from a distribution, with the injection's seeded generator.
///
/// The inner service sees the request late, as it would behind a slow network, so its own
/// timing and any timeout around this layer both see the delay. While the request waits,
/// it holds the readiness the inner service granted (a concurrency permit, say), as a
/// request stuck in a slow network would. The inner service must be `Clone`: the ready
/// service goes into the response future and a clone stays behind, which must be made
/// ready again before the next call (tower's usual rule).
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), seawall_core::ConfigError> {
/// use std::time::Duration;
/// use seawall_chaos::{InjectLatencyLayer, Injection};
/// use seawall_core::{latency::Latency, BoxError};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let injection = Injection::builder().rate(1.0).seed(1).build()?;
/// let layer = InjectLatencyLayer::new(injection, Latency::constant(Duration::from_millis(250)))?;
/// let service = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// let start = tokio::time::Instant::now();
/// service.oneshot(1).await.unwrap();
/// assert_eq!(start.elapsed(), Duration::from_millis(250));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InjectLatencyLayer<T = Everything> {
    injection: Injection<T>,
    latency: Latency,
}

impl<T> InjectLatencyLayer<T> {
    /// Delays the requests `injection` picks by a draw from `latency`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the latency's bad parameter (see [`Latency::validate`]).
    pub fn new(injection: Injection<T>, latency: Latency) -> Result<Self, ConfigError> {
        latency
            .validate()
            .map_err(|e| ConfigError::new(format!("latency: {e}")))?;
        Ok(Self { injection, latency })
    }

    /// The switch shared by this layer and every service it builds.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, T: Clone> Layer<S> for InjectLatencyLayer<T> {
    type Service = InjectLatency<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        InjectLatency {
            inner,
            injection: self.injection.clone(),
            latency: self.latency.clone(),
        }
    }
}

/// The service of [`InjectLatencyLayer`].
#[derive(Clone, Debug)]
pub struct InjectLatency<S, T = Everything> {
    inner: S,
    injection: Injection<T>,
    latency: Latency,
}

seawall_core::inner_accessors!(InjectLatency<S, T>, inner: S);

impl<S, T> InjectLatency<S, T> {
    /// The switch shared with the layer.
    pub fn handle(&self) -> ChaosHandle {
        self.injection.handle()
    }
}

impl<S, T, Req> Service<Req> for InjectLatency<S, T>
where
    S: Service<Req> + Clone,
    T: Target<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = LatencyFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        match self.injection.draw(&request) {
            None => LatencyFuture::calling(self.inner.call(request)),
            Some(rng) => self.delay(request, rng),
        }
    }
}

impl<S: Clone, T> InjectLatency<S, T> {
    /// The injected path, out of line so that the switched-off `call` stays a load and a
    /// branch before the inner call.
    #[cold]
    #[inline(never)]
    fn delay<Req>(&mut self, request: Req, mut rng: seawall_core::rng::Rng) -> LatencyFuture<S, Req>
    where
        S: Service<Req>,
    {
        self.injection.emit("latency");
        let delay = self.latency.sample(&mut rng);
        // The ready service goes with the request; the clone left here is not ready.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        LatencyFuture::sleeping(tokio::time::sleep(delay), ready, request)
    }
}
