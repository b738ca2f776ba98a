use std::fmt;
use std::sync::Arc;

use seawall_core::ErrorsAreFailures;
use tower_layer::Layer;

use super::cap::EjectionCap;
use super::EndpointBreaker;
use crate::config::{CircuitBreakerBuilder, Config};
use crate::error::ConfigError;
use crate::shared::Shared;

/// Builds an [`EndpointBreakerLayer`]: the breaker settings of [`CircuitBreakerBuilder`] plus the
/// ejection cap.
#[derive(Clone, Debug)]
pub struct EndpointBreakerBuilder<C = ErrorsAreFailures> {
    breaker: CircuitBreakerBuilder<C>,
    max_ejected: f64,
}

impl Default for EndpointBreakerBuilder {
    fn default() -> Self {
        Self {
            breaker: CircuitBreakerBuilder::default(),
            max_ejected: 0.5,
        }
    }
}

impl<C> EndpointBreakerBuilder<C> {
    /// Sets the settings every endpoint's breaker is built with (default: the breaker's
    /// defaults, see the [crate docs](crate#knobs-and-defaults)).
    ///
    /// A [`seed`](CircuitBreakerBuilder::seed) seeds every endpoint's jitter, each endpoint drawing its
    /// own sequence from it.
    pub fn breaker<C2>(self, breaker: CircuitBreakerBuilder<C2>) -> EndpointBreakerBuilder<C2> {
        EndpointBreakerBuilder {
            breaker,
            max_ejected: self.max_ejected,
        }
    }

    /// The largest share (0..=1) of the endpoints that may be ejected at once (default
    /// 0.5): at most `floor(share × endpoints)`. Envoy's `max_ejection_percent`.
    ///
    /// When that many are ejected, a further endpoint whose breaker opens stays ready and
    /// its calls go through, uncounted, until a slot frees up: the balancer always has
    /// somewhere to send. With 3 endpoints, 0.5 ejects at most one; with one endpoint, it
    /// never ejects it (0 would turn ejection off, 1 lets every endpoint go).
    pub fn max_ejected(mut self, share: f64) -> Self {
        self.max_ejected = share;
        self
    }

    /// Checks the settings and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a bad breaker setting (see [`CircuitBreakerBuilder::build`]) or
    /// `max_ejected` outside 0..=1.
    pub fn build(self) -> Result<EndpointBreakerLayer<C>, ConfigError> {
        self.breaker.config.validate()?;
        if !(self.max_ejected.is_finite() && (0.0..=1.0).contains(&self.max_ejected)) {
            return Err(ConfigError::new(format!(
                "max_ejected must be in 0..=1, got {}",
                self.max_ejected
            )));
        }
        Ok(EndpointBreakerLayer {
            config: Arc::new(self.breaker.config),
            classify: self.breaker.classify,
            cap: EjectionCap::new(self.max_ejected),
        })
    }
}

/// Puts a circuit breaker of its own in front of each endpoint of a balancer, with one
/// [`EjectionCap`] across them; see the [module docs](super).
///
/// Each service the layer makes is a new endpoint with a new breaker. Clones of the layer
/// share the cap, so wrap all the endpoints of one balancer with one layer (or its clones).
pub struct EndpointBreakerLayer<C = ErrorsAreFailures> {
    config: Arc<Config>,
    classify: C,
    cap: EjectionCap,
}

impl EndpointBreakerLayer {
    /// Starts building, with the breaker's defaults and at most half the endpoints ejected.
    pub fn builder() -> EndpointBreakerBuilder {
        EndpointBreakerBuilder::default()
    }
}

impl<C> EndpointBreakerLayer<C> {
    /// The cap the endpoints share: how many there are and how many are ejected.
    pub fn ejection_cap(&self) -> EjectionCap {
        self.cap.clone()
    }
}

impl<S, C: Clone> Layer<S> for EndpointBreakerLayer<C> {
    type Service = EndpointBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        let (member, index) = self.cap.join();
        let mut config = (*self.config).clone();
        // Each endpoint draws its own jitter, and is named by its number in events.
        config.seed = config
            .seed
            .map(|seed| seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        config.key = Arc::from(format!("endpoint-{index}"));
        let shared = Arc::new(Shared::shared_by_threads(config));
        EndpointBreaker::from_parts(inner, shared, member, self.classify.clone())
    }
}

impl<C: Clone> Clone for EndpointBreakerLayer<C> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            classify: self.classify.clone(),
            cap: self.cap.clone(),
        }
    }
}

impl<C> fmt::Debug for EndpointBreakerLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointBreakerLayer")
            .field("name", &self.config.name)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}
