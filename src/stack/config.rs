//! The parts the pipelines share: retry, breaker and shedding settings, and the checks that
//! name the field they refuse.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::ConfigError;

/// Fails with a message naming `field` unless `value` is more than zero.
pub(crate) fn positive(field: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(ConfigError::new(format!(
            "{field} must be more than zero, got 0s"
        )))
    } else {
        Ok(())
    }
}

/// Fails with a message naming `field` unless `value` is in `0..=1`.
pub(crate) fn ratio(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(format!(
            "{field} must be in 0..=1, got {value}"
        )))
    }
}

/// Fails with a message naming `field` unless `value` is in `range`.
pub(crate) fn within<T>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(format!(
            "{field} must be in {}..={}, got {value}",
            range.start(),
            range.end()
        )))
    }
}

/// Prefixes a layer's own configuration error with the section it came from.
pub(crate) fn in_section(section: &str) -> impl Fn(ConfigError) -> ConfigError + '_ {
    move |e| ConfigError::new(format!("{section}: {e}"))
}

/// Reads a configuration from TOML, turning serde's error into a [`ConfigError`] (which
/// names the unknown or mistyped field, and the line).
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::new(e.to_string().trim_end().to_owned()))
}

/// Retries with a budget (`[retry]`), for the client pipeline.
///
/// | field | default | |
/// |---|---|---|
/// | `max_attempts` | 3 | the first attempt and two retries (1..=10) |
/// | `backoff` | `"50ms"` | the first retry's wait, doubled for each next one, full jitter |
/// | `max_backoff` | `"3s"` | the longest wait |
/// | `budget_ratio` | 0.2 | retries may add this share of each second's requests… |
/// | `budget_min_per_second` | 10 | …plus this many a second |
/// | `allow_keyed_post` | true | retry a POST that carries an `Idempotency-Key` |
/// | `seed` | random | the jitter's seed, for reproducible runs |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first retry's wait; each next one doubles it.
    #[serde(with = "super::duration")]
    pub backoff: Duration,
    /// The longest wait between attempts.
    #[serde(with = "super::duration")]
    pub max_backoff: Duration,
    /// The share of each second's requests that retries may add.
    pub budget_ratio: f64,
    /// Retries allowed each second whatever the traffic.
    pub budget_min_per_second: u32,
    /// Whether a POST with an `Idempotency-Key` header is retried.
    pub allow_keyed_post: bool,
    /// The jitter's seed, for reproducible runs; random when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(3),
            budget_ratio: 0.2,
            budget_min_per_second: 10,
            allow_keyed_post: true,
            seed: None,
        }
    }
}

impl RetryConfig {
    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        within(
            &format!("{section}.max_attempts"),
            self.max_attempts,
            1..=10,
        )?;
        positive(&format!("{section}.backoff"), self.backoff)?;
        if self.max_backoff < self.backoff {
            return Err(ConfigError::new(format!(
                "{section}.max_backoff must be at least {section}.backoff ({}), got {}",
                super::duration::format(self.backoff),
                super::duration::format(self.max_backoff)
            )));
        }
        ratio(&format!("{section}.budget_ratio"), self.budget_ratio)?;
        within(
            &format!("{section}.budget_min_per_second"),
            self.budget_min_per_second,
            0..=100_000,
        )
    }
}

/// A circuit breaker per key (`[breaker]`): per authority on clients, per route on servers.
///
/// | field | default | |
/// |---|---|---|
/// | `failure_rate` | 0.5 | trips when this share of the window's calls failed… |
/// | `window` | `"30s"` | …over this much time (at least twice the attempt timeout)… |
/// | `min_calls` | 20 | …once the window holds this many calls |
/// | `consecutive_failures` | 20 | also trips after this many failures in a row |
/// | `open_duration` | `"1s"` | fails fast this long, then probes |
/// | `probes` | 3 | probe calls in half-open, all must succeed |
/// | `max_keys` | 1024 | breakers kept at most (authorities or routes) |
/// | `seed` | random | the open-time jitter's seed, for reproducible runs |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// The failure share that trips the breaker.
    pub failure_rate: f64,
    /// The span of time the failure share is measured over.
    #[serde(with = "super::duration")]
    pub window: Duration,
    /// Calls the window must hold before the failure share counts.
    pub min_calls: u32,
    /// Failures in a row that trip the breaker.
    pub consecutive_failures: u32,
    /// How long the breaker stays open before it probes.
    #[serde(with = "super::duration")]
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
    /// Checks the fields; `attempt` is the timeout of one call through the breaker, which
    /// the window must be at least twice of, so that one slow call cannot outlast it.
    pub(crate) fn validate(
        &self,
        section: &str,
        attempt: (&str, Duration),
    ) -> Result<(), ConfigError> {
        let failure_rate = format!("{section}.failure_rate");
        ratio(&failure_rate, self.failure_rate)?;
        if self.failure_rate == 0.0 {
            return Err(ConfigError::new(format!(
                "{failure_rate} must be more than 0 (0 would trip on any call), got 0"
            )));
        }
        positive(&format!("{section}.window"), self.window)?;
        if self.window < attempt.1 * 2 {
            return Err(ConfigError::new(format!(
                "{section}.window must be at least twice {} ({}), got {}",
                attempt.0,
                super::duration::format(attempt.1 * 2),
                super::duration::format(self.window)
            )));
        }
        within(
            &format!("{section}.min_calls"),
            self.min_calls,
            1..=1_000_000,
        )?;
        within(
            &format!("{section}.consecutive_failures"),
            self.consecutive_failures,
            1..=1_000_000,
        )?;
        positive(&format!("{section}.open_duration"), self.open_duration)?;
        within(&format!("{section}.probes"), self.probes, 1..=100)?;
        within(&format!("{section}.max_keys"), self.max_keys, 1..=1_000_000)
    }

    /// The breaker these settings describe, classifying HTTP results.
    pub(crate) fn builder(
        &self,
    ) -> crate::breaker::CircuitBreakerBuilder<crate::http::HttpClassifier> {
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

    /// One breaker per upstream authority with these settings, named after the pipeline
    /// (`client`, `hedging`): the client pipelines' breaker stage.
    #[allow(clippy::type_complexity)]
    pub(crate) fn per_authority<B>(
        &self,
        pipeline: &'static str,
    ) -> Result<
        crate::breaker::KeyedCircuitBreakerLayer<
            String,
            fn(&http::Request<crate::http::ReplayableBody<B>>) -> String,
            crate::http::HttpClassifier,
        >,
        ConfigError,
    > {
        crate::breaker::KeyedCircuitBreakerBuilder::new(
            crate::breaker::http::authority::<crate::http::ReplayableBody<B>>
                as fn(&http::Request<crate::http::ReplayableBody<B>>) -> String,
        )
        .breaker(self.builder().name(pipeline))
        .max_keys(self.max_keys)
        .build()
        .map_err(in_section(&format!("{pipeline}.breaker")))
    }
}
