use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::keyed::KeyedTable;
use seawall_core::ErrorsAreFailures;

use super::keys::Keys;
use super::{KeyedCircuitBreakerLayer, Optional};
use crate::config::CircuitBreakerBuilder;
use crate::error::ConfigError;

/// The most metric labels a keyed layer accepts.
const MAX_LABELS: usize = 100_000;

/// Builds a [`KeyedCircuitBreakerLayer`]: the breaker settings of [`CircuitBreakerBuilder`] plus the
/// key function and the bounds on keys and on metric labels.
#[derive(Clone, Debug)]
pub struct KeyedCircuitBreakerBuilder<F, C = ErrorsAreFailures> {
    breaker: CircuitBreakerBuilder<C>,
    key: F,
    max_keys: usize,
    idle_timeout: Duration,
    max_labels: usize,
}

impl<F> KeyedCircuitBreakerBuilder<F> {
    /// Keys every request with `key` (a host, a route, a tenant), with the default breaker
    /// settings, at most 1,024 keys, idle breakers forgotten after 10 minutes and the
    /// first 100 keys named in metrics.
    pub fn new(key: F) -> Self {
        Self {
            breaker: CircuitBreakerBuilder::default(),
            key,
            max_keys: 1024,
            idle_timeout: Duration::from_secs(600),
            max_labels: 100,
        }
    }
}

impl<F> KeyedCircuitBreakerBuilder<Optional<F>> {
    /// Like [`new`](KeyedCircuitBreakerBuilder::new), for a key function that returns an `Option`: a
    /// request whose key is `None` goes straight to the inner service, past every breaker
    /// and uncounted. For routes that must never be failed fast (health checks) and
    /// requests that have no key (axum's fallback has no matched route).
    pub fn optional(key: F) -> Self {
        KeyedCircuitBreakerBuilder::new(Optional(key))
    }
}

impl<F, C> KeyedCircuitBreakerBuilder<F, C> {
    /// Sets the settings every key's breaker is built with.
    pub fn breaker<C2>(
        self,
        breaker: CircuitBreakerBuilder<C2>,
    ) -> KeyedCircuitBreakerBuilder<F, C2> {
        KeyedCircuitBreakerBuilder {
            breaker,
            key: self.key,
            max_keys: self.max_keys,
            idle_timeout: self.idle_timeout,
            max_labels: self.max_labels,
        }
    }

    /// The most keys that get a breaker of their own (default 1,024; 1 to 1,000,000).
    ///
    /// # Blast radius of a full table
    ///
    /// When the table is full and no breaker in it may be forgotten, **every new key shares
    /// one overflow breaker**: failures of any of them count together, and when it trips,
    /// all of them are rejected, healthy or not, until room frees up. Size `max_keys` above
    /// the keys you expect (hosts, routes, tenants) so that only made-up keys end up there,
    /// and watch [`overflow_requests`](KeyedCircuitBreakerLayer::overflow_requests) (and the
    /// `overflow` event, named `<name>/overflow`): requests there mean the bound is too low
    /// or someone is sending made-up keys.
    pub fn max_keys(mut self, max: usize) -> Self {
        self.max_keys = max;
        self
    }

    /// A breaker whose key no request has used for this long, with no call in flight and
    /// no [`BreakerHandle`](crate::BreakerHandle) held, may be forgotten when a new key needs
    /// room (default 10 minutes). An open breaker is kept at least until its open time ends,
    /// however short this is, and one set by hand (forced open or closed, disabled,
    /// metrics-only) is kept until it is reset. While requests keep coming for a key,
    /// rejected ones included, its breaker stays.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many keys are named in metrics and events (default 100; 0 to 100,000). Each
    /// key's breaker is named `<name>/<key>` (its key's `Debug`) for the first `max` keys
    /// ever seen; later keys' breakers are all named `<name>/other`, so that keys chosen by
    /// whoever sends requests (paths, host headers) cannot create unlimited metric series.
    pub fn max_labels(mut self, max: usize) -> Self {
        self.max_labels = max;
        self
    }

    /// Checks the settings and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a bad breaker setting (see [`CircuitBreakerBuilder::build`]), `max_keys`
    /// outside 1..=1,000,000 or `max_labels` above 100,000.
    pub fn build<K>(self) -> Result<KeyedCircuitBreakerLayer<K, F, C>, ConfigError>
    where
        K: Hash + Eq + Clone,
    {
        self.breaker.config.validate()?;
        if self.max_labels > MAX_LABELS {
            return Err(ConfigError::new(format!(
                "max_labels must be in 0..={MAX_LABELS}, got {}",
                self.max_labels
            )));
        }
        let table = KeyedTable::new(self.max_keys, self.idle_timeout)?;
        Ok(KeyedCircuitBreakerLayer::new(
            Arc::new(Keys::new(self.breaker.config, table, self.max_labels)),
            self.key,
            self.breaker.classify,
        ))
    }
}
