//! Circuit breaker settings: a plain breaker, one per key, or one per balancer endpoint.

use std::hash::Hash;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{in_section, positive, ratio};
use crate::breaker::endpoint::EndpointBreakerLayer;
use crate::breaker::keyed::KeyFn;
use crate::breaker::{
    CircuitBreakerBuilder, CircuitBreakerLayer, KeyedCircuitBreakerBuilder,
    KeyedCircuitBreakerLayer,
};
use crate::core::ConfigError;
use crate::http::HttpClassifier;

/// A circuit breaker's settings (`[breaker]`): per authority in the client pipelines, per
/// route in the server's; or a file of its own for a plain breaker
/// ([`into_layer`](Self::into_layer)), a keyed one ([`into_keyed`](Self::into_keyed)) or
/// one per balancer endpoint ([`EndpointBreakerConfig`]). Every one classifies HTTP
/// results with [`HttpClassifier`].
///
/// | field | default | |
/// |---|---|---|
/// | `failure_rate` | 0.5 | trips when this share of the window's calls failed… |
/// | `window` | `"30s"` | …over this much time (at least twice the attempt timeout)… |
/// | `min_calls` | 20 | …once the window holds this many calls |
/// | `consecutive_failures` | 20 | also trips after this many failures in a row |
/// | `open_duration` | `"1s"` | fails fast this long, then probes |
/// | `probes` | 3 | probe calls in half-open, all must succeed |
/// | `max_keys` | 1024 | breakers kept at most (authorities, routes, keys; 1..=1,000,000); a plain or endpoint breaker has no keys and ignores it |
/// | `seed` | random | the open-time jitter's seed, for reproducible runs |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// The failure share that trips the breaker.
    pub failure_rate: f64,
    /// The span of time the failure share is measured over.
    #[serde(with = "crate::core::duration")]
    pub window: Duration,
    /// Calls the window must hold before the failure share counts.
    pub min_calls: u32,
    /// Failures in a row that trip the breaker.
    pub consecutive_failures: u32,
    /// How long the breaker stays open before it probes.
    #[serde(with = "crate::core::duration")]
    pub open_duration: Duration,
    /// Probe calls in half-open.
    pub probes: u32,
    /// The most keys that get a breaker of their own.
    pub max_keys: usize,
    /// The open-time jitter's seed, for reproducible runs (the simulator's); random when
    /// absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate: 0.5,
            window: Duration::from_secs(30),
            min_calls: 20,
            consecutive_failures: 20,
            open_duration: Duration::from_secs(1),
            probes: 3,
            max_keys: 1024,
            seed: None,
        }
    }
}

impl BreakerConfig {
    /// One circuit breaker with these settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field (`breaker.window`, …) that is out of range.
    pub fn into_layer(self) -> Result<CircuitBreakerLayer<HttpClassifier>, ConfigError> {
        self.validate("breaker", None)?;
        self.builder().build().map_err(in_section("breaker"))
    }

    /// One breaker per key that `key` finds in a request (at most `max_keys`), each with
    /// these settings.
    ///
    /// # Errors
    ///
    /// As [`into_layer`](Self::into_layer).
    pub fn into_keyed<Req, F>(
        self,
        key: F,
    ) -> Result<KeyedCircuitBreakerLayer<F::Key, F, HttpClassifier>, ConfigError>
    where
        F: KeyFn<Req>,
        F::Key: Hash + Eq + Clone,
    {
        self.validate("breaker", None)?;
        KeyedCircuitBreakerBuilder::new(key)
            .breaker(self.builder())
            .max_keys(self.max_keys)
            .build()
            .map_err(in_section("breaker"))
    }

    /// The breaker builder these settings describe, classifying HTTP results, for settings
    /// a file does not carry (a classifier of your own, slow-call trips).
    pub fn builder(&self) -> CircuitBreakerBuilder<HttpClassifier> {
        let builder = crate::breaker::http::builder()
            .failure_rate(self.failure_rate)
            .time_window(self.window, 10)
            .min_calls(self.min_calls)
            .consecutive_failures(self.consecutive_failures)
            .open_duration(self.open_duration)
            .probes(self.probes);
        match self.seed {
            Some(seed) => builder.seed(seed),
            None => builder,
        }
    }

    /// Checks the fields; `attempt` is the timeout of one call through the breaker, if
    /// known, which the window must be at least twice of, so that one slow call cannot
    /// outlast it.
    pub(crate) fn validate(
        &self,
        section: &str,
        attempt: Option<(&str, Duration)>,
    ) -> Result<(), ConfigError> {
        let failure_rate = format!("{section}.failure_rate");
        ratio(&failure_rate, self.failure_rate)?;
        if self.failure_rate == 0.0 {
            return Err(ConfigError::new(format!(
                "{failure_rate} must be more than 0 (0 would trip on any call), got 0"
            )));
        }
        positive(&format!("{section}.window"), self.window)?;
        if let Some((name, attempt)) = attempt {
            if self.window < attempt * 2 {
                return Err(ConfigError::new(format!(
                    "{section}.window must be at least twice {name} ({}), got {}",
                    crate::core::duration::format(attempt * 2),
                    crate::core::duration::format(self.window)
                )));
            }
        }
        ConfigError::check_within(
            &format!("{section}.min_calls"),
            self.min_calls,
            1..=1_000_000,
        )?;
        ConfigError::check_within(
            &format!("{section}.consecutive_failures"),
            self.consecutive_failures,
            1..=1_000_000,
        )?;
        positive(&format!("{section}.open_duration"), self.open_duration)?;
        ConfigError::check_within(&format!("{section}.probes"), self.probes, 1..=100)?;
        ConfigError::check_within(&format!("{section}.max_keys"), self.max_keys, 1..=1_000_000)
    }

    /// One breaker per upstream authority with these settings, named after the pipeline
    /// (`client`, `hedging`): the client pipelines' breaker stage.
    #[allow(clippy::type_complexity)]
    pub(crate) fn per_authority<B>(
        &self,
        pipeline: &'static str,
    ) -> Result<
        crate::breaker::KeyedCircuitBreakerLayer<
            http::uri::Authority,
            crate::breaker::keyed::Optional<AuthorityKey<B>>,
            crate::http::HttpClassifier,
        >,
        ConfigError,
    > {
        // Keyed by `http`'s `Authority`, cloned from the URI: no `String` per request.
        KeyedCircuitBreakerBuilder::optional(
            crate::breaker::http::authority_key::<crate::http::ReplayableBody<B>>
                as AuthorityKey<B>,
        )
        .breaker(self.builder().name(pipeline))
        .max_keys(self.max_keys)
        .build()
        .map_err(in_section(&format!("{pipeline}.breaker")))
    }
}

/// The per-authority key function of the client pipelines.
type AuthorityKey<B> =
    fn(&http::Request<crate::http::ReplayableBody<B>>) -> Option<http::uri::Authority>;

impl TryFrom<BreakerConfig> for CircuitBreakerLayer<HttpClassifier> {
    type Error = ConfigError;

    fn try_from(config: BreakerConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}

/// A breaker per endpoint of a balancer (`tower::balance::p2c`), which reports an endpoint
/// not ready while its breaker is open, so the balancer routes around it.
///
/// | field | default | |
/// |---|---|---|
/// | `max_ejected` | 0.5 | the largest share of the endpoints ejected at once (0..=1) |
/// | `[breaker]` | see [`BreakerConfig`] | each endpoint's breaker (`max_keys` unused) |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointBreakerConfig {
    /// The largest share of the endpoints that may be ejected at once.
    pub max_ejected: f64,
    /// Each endpoint's breaker.
    pub breaker: BreakerConfig,
}

impl Default for EndpointBreakerConfig {
    fn default() -> Self {
        Self {
            max_ejected: 0.5,
            breaker: BreakerConfig::default(),
        }
    }
}

impl EndpointBreakerConfig {
    /// The layer to wrap each endpoint with, before the balancer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field (`endpoint.max_ejected`, `endpoint.breaker.window`, …).
    pub fn into_layer(self) -> Result<EndpointBreakerLayer<HttpClassifier>, ConfigError> {
        self.breaker.validate("endpoint.breaker", None)?;
        EndpointBreakerLayer::builder()
            .breaker(self.breaker.builder())
            .max_ejected(self.max_ejected)
            .build()
            .map_err(in_section("endpoint"))
    }
}

impl TryFrom<EndpointBreakerConfig> for EndpointBreakerLayer<HttpClassifier> {
    type Error = ConfigError;

    fn try_from(config: EndpointBreakerConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}
