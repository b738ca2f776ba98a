use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use seawall_core::ErrorsAreFailures;
use tower_layer::Layer;

use super::keys::Keys;
use super::KeyedCircuitBreaker;
use crate::handle::BreakerHandle;

/// One circuit breaker per key, so that one failing host (or route, or tenant) does not
/// open the breaker for the healthy ones. Built by [`KeyedCircuitBreakerBuilder`](super::KeyedCircuitBreakerBuilder);
/// see the [module docs](super) for the bounds on memory and metric labels.
///
/// # Clone
///
/// Every clone (and every service it makes) shares one table of breakers. That is what
/// makes it work in axum's `Router::layer`, which wraps each route in a clone of the
/// layer: keyed by route, each route still gets its own breaker.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use seawall_breaker::{CircuitBreakerLayer, KeyedCircuitBreakerBuilder, State};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let layer = KeyedCircuitBreakerBuilder::new(|req: &(&'static str, bool)| req.0)
///     .breaker(CircuitBreakerLayer::builder().consecutive_failures(2))
///     .build()
///     .unwrap();
/// let svc = layer.layer(service_fn(|(_, fail): (&'static str, bool)| async move {
///     if fail { Err("down") } else { Ok(()) }
/// }));
/// for _ in 0..2 {
///     let _ = svc.clone().oneshot(("a.example", true)).await;
/// }
/// assert_eq!(layer.handle(&"a.example").unwrap().state(), State::Open);
/// assert!(svc.clone().oneshot(("b.example", false)).await.is_ok(), "b has its own breaker");
/// # }
/// ```
pub struct KeyedCircuitBreakerLayer<K, F, C = ErrorsAreFailures> {
    keys: Arc<Keys<K>>,
    key: F,
    classify: C,
}

impl<K, F, C> KeyedCircuitBreakerLayer<K, F, C> {
    pub(super) fn new(keys: Arc<Keys<K>>, key: F, classify: C) -> Self {
        Self {
            keys,
            key,
            classify,
        }
    }
}

impl<K: Hash + Eq + Clone, F, C> KeyedCircuitBreakerLayer<K, F, C> {
    /// The handle of `key`'s breaker, if it has one of its own. Looking does not count as a
    /// use of the key.
    ///
    /// While the handle lives, the breaker is held and never forgotten.
    pub fn handle(&self, key: &K) -> Option<BreakerHandle> {
        self.keys.handle(key)
    }

    /// The handle of the breaker that keys share when the table is full.
    pub fn overflow_handle(&self) -> BreakerHandle {
        self.keys.overflow_handle()
    }

    /// How many requests found the table full and went to the overflow breaker, since the
    /// layer was built (see [`KeyedCircuitBreakerBuilder::max_keys`](super::KeyedCircuitBreakerBuilder::max_keys) for
    /// what that means). Each is also an `overflow` event of the overflow breaker.
    pub fn overflow_requests(&self) -> u64 {
        self.keys.overflowed()
    }

    /// How many keys have a breaker of their own.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key has a breaker yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S, K, F: Clone, C: Clone> Layer<S> for KeyedCircuitBreakerLayer<K, F, C> {
    type Service = KeyedCircuitBreaker<S, K, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedCircuitBreaker::new(
            inner,
            self.keys.clone(),
            self.key.clone(),
            self.classify.clone(),
        )
    }
}

impl<K, F: Clone, C: Clone> Clone for KeyedCircuitBreakerLayer<K, F, C> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            key: self.key.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<K: Hash + Eq + Clone, F, C> fmt::Debug for KeyedCircuitBreakerLayer<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerLayer")
            .field("keys", &self.keys.len())
            .field("max_keys", &self.keys.max_keys())
            .finish_non_exhaustive()
    }
}
