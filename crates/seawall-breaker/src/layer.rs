use std::fmt;
use std::sync::Arc;

use seawall_core::stripe::Handles;
use seawall_core::ErrorsAreFailures;
use tower_layer::Layer;

use crate::config::CircuitBreakerBuilder;
use crate::handle::BreakerHandle;
use crate::service::CircuitBreaker;
use crate::shared::Shared;

/// Puts one circuit breaker in front of services.
///
/// Every service this layer wraps reports to the same breaker: one layer is one breaker.
/// Build one layer per dependency (or use [`KeyedCircuitBreakerLayer`](crate::KeyedCircuitBreakerLayer)
/// for one breaker per host).
pub struct CircuitBreakerLayer<C = ErrorsAreFailures> {
    /// The breaker, with the per-thread handles its calls' guards take.
    shared: Arc<Handles<Shared>>,
    classify: C,
}

impl CircuitBreakerLayer {
    /// Starts building a breaker with the defaults (see the [crate docs](crate)).
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::default()
    }
}

impl<C> CircuitBreakerLayer<C> {
    pub(crate) fn from_parts(shared: Arc<Shared>, classify: C) -> Self {
        Self {
            shared: Arc::new(Handles::new(shared)),
            classify,
        }
    }

    /// The handle of this layer's breaker: its state, counters and manual controls.
    pub fn handle(&self) -> BreakerHandle {
        BreakerHandle::new(self.shared.shared().clone())
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::from_parts(inner, self.shared.clone(), self.classify.clone())
    }
}

impl<C: Clone> Clone for CircuitBreakerLayer<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<C> fmt::Debug for CircuitBreakerLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("name", &self.shared.events.name())
            .field("state", &self.shared.state())
            .finish()
    }
}
