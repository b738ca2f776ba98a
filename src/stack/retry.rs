//! Retry settings: a [`RetryLayer`] with the HTTP policy, backoff and a budget.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{in_section, positive, ratio};
use crate::core::ConfigError;
use crate::retry::{Backoff, HttpPolicy, RetryBudget, RetryLayer};

/// Retries with a budget (`[retry]` in the client pipeline, or a file of its own for a
/// [`RetryLayer`] with [`HttpPolicy`]: [`into_layer`](Self::into_layer)).
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
    #[serde(with = "crate::core::duration")]
    pub backoff: Duration,
    /// The longest wait between attempts.
    #[serde(with = "crate::core::duration")]
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
    /// A [`RetryLayer`] with these settings, the HTTP policy and a budget of its own
    /// (clones of the layer share it). For a budget shared with a hedge layer, build one
    /// with [`budget`](Self::budget) and set it on `seawall::retry::http::builder()`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field (`retry.max_attempts`, …) that is out of range.
    pub fn into_layer(self) -> Result<RetryLayer<HttpPolicy>, ConfigError> {
        self.validate("retry")?;
        let budget = Arc::new(self.budget().map_err(in_section("retry"))?);
        self.with_budget(budget, "retry")
            .map_err(in_section("retry"))
    }

    /// The retry budget these settings describe (`budget_ratio`, `budget_min_per_second`).
    ///
    /// # Errors
    ///
    /// The budget builder's [`ConfigError`], naming the field.
    pub fn budget(&self) -> Result<RetryBudget, ConfigError> {
        RetryBudget::builder()
            .percent_can_retry(self.budget_ratio)
            .min_per_second(self.budget_min_per_second)
            .build()
    }

    /// The layer, drawing on `budget`, its events named `name`.
    pub(crate) fn with_budget(
        &self,
        budget: Arc<RetryBudget>,
        name: &'static str,
    ) -> Result<RetryLayer<HttpPolicy>, ConfigError> {
        let mut builder = RetryLayer::builder()
            .policy(HttpPolicy::new().allow_keyed_post(self.allow_keyed_post))
            .max_attempts(self.max_attempts)
            .backoff(Backoff::exponential(self.backoff).cap(self.max_backoff))
            .budget(budget)
            .name(name);
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        builder.build()
    }

    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        ConfigError::check_within(
            &format!("{section}.max_attempts"),
            self.max_attempts,
            1..=10,
        )?;
        positive(&format!("{section}.backoff"), self.backoff)?;
        if self.max_backoff < self.backoff {
            return Err(ConfigError::new(format!(
                "{section}.max_backoff must be at least {section}.backoff ({}), got {}",
                crate::core::duration::format(self.backoff),
                crate::core::duration::format(self.max_backoff)
            )));
        }
        ratio(&format!("{section}.budget_ratio"), self.budget_ratio)?;
        ConfigError::check_within(
            &format!("{section}.budget_min_per_second"),
            self.budget_min_per_second,
            0..=100_000,
        )
    }
}

impl TryFrom<RetryConfig> for RetryLayer<HttpPolicy> {
    type Error = ConfigError;

    fn try_from(config: RetryConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}
