use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use seawall_core::rejection::Overloaded;
use seawall_core::rng::Rng;
use seawall_core::{
    BoxError, Calls, Classify, ConfigError, ErrorsAreFailures, Events, Outcome, RollingCounter,
};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

#[derive(Debug)]
struct State {
    requests: RollingCounter,
    accepts: RollingCounter,
    k: f64,
    max_probability: f64,
    rng: Mutex<Rng>,
    /// `seawall_calls_total{layer="throttle"}`.
    calls: Calls,
}

impl State {
    /// The probability of refusing a request now (its own count included).
    fn probability(&self, now: Instant) -> f64 {
        let requests = self.requests.sum_at(now) as f64;
        let accepts = self.accepts.sum_at(now) as f64;
        ((requests - self.k * accepts) / (requests + 1.0)).clamp(0.0, self.max_probability)
    }
}

/// Client-side adaptive throttling; see the [module docs](super).
///
/// Every service this layer makes shares one pair of counters.
#[derive(Clone, Debug)]
pub struct ThrottleLayer<C = ErrorsAreFailures> {
    state: Arc<State>,
    classify: C,
}

/// Builds a [`ThrottleLayer`].
#[derive(Clone, Debug)]
pub struct ThrottleBuilder<C = ErrorsAreFailures> {
    k: f64,
    window: Duration,
    max_probability: f64,
    seed: u64,
    classify: C,
}

impl ThrottleLayer {
    /// Starts a builder with the defaults: K = 2, a 2-minute window, at most 90% refused.
    pub fn builder() -> ThrottleBuilder {
        ThrottleBuilder {
            k: 2.0,
            window: Duration::from_secs(120),
            max_probability: 0.9,
            seed: 0,
            classify: ErrorsAreFailures,
        }
    }
}

impl<C> ThrottleLayer<C> {
    /// The probability with which a request would be refused locally now.
    pub fn probability(&self) -> f64 {
        self.state.probability(Instant::now())
    }
}

impl<C> ThrottleBuilder<C> {
    /// The multiplier K: the client sends up to K times what the backend accepts (default 2,
    /// at least 1).
    pub fn k(mut self, k: f64) -> Self {
        self.k = k;
        self
    }

    /// The rolling window over which requests and accepts are counted (default 2 minutes,
    /// at least 1 s; split into 120 buckets).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The highest probability of refusing locally, in 0..=1 (default 0.9).
    pub fn max_probability(mut self, p: f64) -> Self {
        self.max_probability = p;
        self
    }

    /// Seeds the draws that decide each refusal (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// What counts as the backend's refusal (a [`Failure`](Outcome::Failure)).
    pub fn classify<K>(self, classify: K) -> ThrottleBuilder<K> {
        ThrottleBuilder {
            k: self.k,
            window: self.window,
            max_probability: self.max_probability,
            seed: self.seed,
            classify,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `k` outside 1..=100, `max_probability` outside
    /// 0..=1, a window under 1 s.
    pub fn build(self) -> Result<ThrottleLayer<C>, ConfigError> {
        crate::limit::check_range("k", self.k, 1.0, 100.0)?;
        crate::limit::check_range("max_probability", self.max_probability, 0.0, 1.0)?;
        if self.window < Duration::from_secs(1) {
            return Err(ConfigError::new(format!(
                "window must be at least 1s, got {:?}",
                self.window
            )));
        }
        let requests = RollingCounter::new(self.window, 120)?;
        let accepts = RollingCounter::starting_at(requests.origin(), self.window, 120)?;
        Ok(ThrottleLayer {
            state: Arc::new(State {
                requests,
                accepts,
                k: self.k,
                max_probability: self.max_probability,
                rng: Mutex::new(Rng::from_seed(self.seed)),
                calls: Calls::new(&Events::new("throttle")),
            }),
            classify: self.classify,
        })
    }
}

impl<S, C: Clone> Layer<S> for ThrottleLayer<C> {
    type Service = Throttle<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            state: self.state.clone(),
            classify: self.classify.clone(),
        }
    }
}

/// The service of [`ThrottleLayer`].
#[derive(Clone, Debug)]
pub struct Throttle<S, C = ErrorsAreFailures> {
    inner: S,
    state: Arc<State>,
    classify: C,
}

seawall_core::inner_accessors!(Throttle<S, C>, inner: S);

impl<S, Req, C> Service<Req> for Throttle<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let now = Instant::now();
        self.state.requests.add_at(now, 1);
        let p = self.state.probability(now);
        // The generator is only locked while the backend is refusing.
        let refuse = p > 0.0
            && self
                .state
                .rng
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .chance(p);
        if refuse {
            self.state.calls.rejected();
            return ResponseFuture {
                state: FutureState::Refused,
                shared: None,
                classify: self.classify.clone(),
            };
        }
        ResponseFuture {
            state: FutureState::Sent {
                future: self.inner.call(request),
            },
            shared: Some(self.state.clone()),
            classify: self.classify.clone(),
        }
    }
}

pin_project! {
    /// The future [`Throttle`] returns.
    pub struct ResponseFuture<F, C> {
        #[pin]
        state: FutureState<F>,
        shared: Option<Arc<State>>,
        classify: C,
    }
}

pin_project! {
    #[project = FutureStateProj]
    enum FutureState<F> {
        Sent { #[pin] future: F },
        Refused,
    }
}

impl<F, C, Res, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Res, E>>,
    E: Into<BoxError>,
    C: Classify<Res, E>,
{
    type Output = Result<Res, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state.project() {
            FutureStateProj::Sent { future } => {
                let result = ready!(future.poll(cx));
                let outcome = this.classify.classify(&result);
                if let Some(state) = this.shared.as_ref() {
                    if outcome == Outcome::Success {
                        state.accepts.add(1);
                    }
                    state.calls.outcome(outcome);
                }
                Poll::Ready(result.map_err(Into::into))
            }
            FutureStateProj::Refused => Poll::Ready(Err(Overloaded::new(None).into())),
        }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
