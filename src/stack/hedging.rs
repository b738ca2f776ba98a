//! The standard hedging client pipeline: for reads whose tail latency matters more than
//! the few extra requests a hedge costs.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

use super::client::{
    check_timeouts, with_deadline, BoxClient, ClientBody, HttpClientService, PipelineClient,
};
use super::config::{in_section, ratio};
use super::BreakerConfig;
use crate::core::duration;
use crate::core::ConfigError;
use crate::hedge::{HedgeLayer, HedgeStats, HttpPolicy};
use crate::http::ReplayLayer;
use crate::timeout::{AttemptTimeoutLayer, SendDeadlineLayer, TimeoutLayer};

/// Hedging settings (`[hedge]` in the hedging pipeline, or a file of its own for a
/// [`HedgeLayer`]: [`into_layer`](Self::into_layer)).
///
/// | field | default | |
/// |---|---|---|
/// | `delay` | none: adaptive | a fixed delay before the hedge, instead of the percentile |
/// | `percentile` | 0.95 | the delay is this percentile of recent latencies (0.5..1) |
/// | `max_extra_attempts` | 1 | hedges per request (1..=5) |
/// | `max_extra_load` | 0.05 | hedges may add this share of each second's requests… |
/// | `min_per_second` | 10 | …plus this many a second |
/// | `min_win_rate` | 0.05 | hedging pauses while fewer hedges than this win (0 turns it off) |
/// | `allow_keyed_post` | false | also hedge a POST with an `Idempotency-Key` |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HedgeConfig {
    /// A fixed hedge delay; adaptive when absent.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// The latency percentile the adaptive delay follows.
    pub percentile: f64,
    /// Extra attempts per request.
    pub max_extra_attempts: u32,
    /// The share of each second's requests that hedges may add.
    pub max_extra_load: f64,
    /// Hedges allowed each second whatever the traffic.
    pub min_per_second: u32,
    /// The share of hedges that must win for hedging to go on.
    pub min_win_rate: f64,
    /// Whether a POST with an `Idempotency-Key` is hedged.
    pub allow_keyed_post: bool,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        Self {
            delay: None,
            percentile: 0.95,
            max_extra_attempts: 1,
            max_extra_load: 0.05,
            min_per_second: 10,
            min_win_rate: 0.05,
            allow_keyed_post: false,
        }
    }
}

impl HedgeConfig {
    /// A [`HedgeLayer`] with these settings and the HTTP policy, with a hedge budget of
    /// its own (`max_extra_load`, `min_per_second`).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field (`hedge.percentile`, …) that is out of range.
    pub fn into_layer(self) -> Result<HedgeLayer<HttpPolicy>, ConfigError> {
        self.validate("hedge", None)?;
        self.layer().map_err(in_section("hedge"))
    }

    fn validate(&self, section: &str, total: Option<Duration>) -> Result<(), ConfigError> {
        if let Some(delay) = self.delay {
            super::config::positive(&format!("{section}.delay"), delay)?;
            if let Some(total) = total.filter(|total| delay >= *total) {
                return Err(ConfigError::new(format!(
                    "{section}.delay must be less than hedging.total_timeout ({}), got {}",
                    duration::format(total),
                    duration::format(delay)
                )));
            }
        }
        let percentile = format!("{section}.percentile");
        ratio(&percentile, self.percentile)?;
        if !(0.5..1.0).contains(&self.percentile) {
            return Err(ConfigError::new(format!(
                "{percentile} must be in 0.5..1, got {}",
                self.percentile
            )));
        }
        ConfigError::check_within(
            &format!("{section}.max_extra_attempts"),
            self.max_extra_attempts,
            1..=5,
        )?;
        ratio(&format!("{section}.max_extra_load"), self.max_extra_load)?;
        ConfigError::check_within(
            &format!("{section}.min_per_second"),
            self.min_per_second,
            0..=100_000,
        )?;
        ratio(&format!("{section}.min_win_rate"), self.min_win_rate)
    }

    fn layer(&self) -> Result<HedgeLayer<HttpPolicy>, ConfigError> {
        let mut builder = HedgeLayer::builder()
            .policy(HttpPolicy::new().allow_keyed_post(self.allow_keyed_post))
            .percentile(self.percentile)
            .max_extra_attempts(self.max_extra_attempts)
            .max_extra_load(self.max_extra_load)
            .min_per_second(self.min_per_second)
            .min_win_rate(self.min_win_rate)
            .name("hedging");
        if let Some(delay) = self.delay {
            builder = builder.delay(delay);
        }
        builder.build()
    }
}

/// The configuration of the standard hedging pipeline (see the [module docs](super)).
///
/// | field | default | |
/// |---|---|---|
/// | `total_timeout` | `"10s"` | the caller's whole wait; sent downstream as the deadline |
/// | `attempt_timeout` | `"3s"` | one attempt (at most `total_timeout`) |
/// | `replay_limit` | 65,536 | request body bytes kept for hedges |
/// | `[hedge]` | see [`HedgeConfig`] | |
/// | `[breaker]` | see [`BreakerConfig`] | one per authority; `window` at least twice `attempt_timeout` |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HedgingConfig {
    /// The caller's whole wait.
    #[serde(with = "duration")]
    pub total_timeout: Duration,
    /// One attempt's timeout.
    #[serde(with = "duration")]
    pub attempt_timeout: Duration,
    /// Request body bytes kept so that a hedge can send them again.
    pub replay_limit: usize,
    /// The hedging settings.
    pub hedge: HedgeConfig,
    /// The per-authority breakers' settings.
    pub breaker: BreakerConfig,
}

impl Default for HedgingConfig {
    fn default() -> Self {
        Self {
            total_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(3),
            replay_limit: 64 * 1024,
            hedge: HedgeConfig::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

impl HedgingConfig {
    /// Reads a configuration from TOML and checks it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: unknown, mistyped, or out of range.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = super::config::from_toml(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field and the rules between them (see [`ClientConfig::validate`](super::ClientConfig::validate)).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first field that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_timeouts("hedging", self.total_timeout, self.attempt_timeout)?;
        ConfigError::check_within(
            "hedging.replay_limit",
            self.replay_limit,
            0..=64 * 1024 * 1024,
        )?;
        self.hedge
            .validate("hedging.hedge", Some(self.total_timeout))?;
        self.breaker.validate(
            "hedging.breaker",
            Some(("hedging.attempt_timeout", self.attempt_timeout)),
        )
    }

    /// The hedging pipeline around `client`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field, from [`validate`](Self::validate).
    pub fn build(&self, client: reqwest::Client) -> Result<HedgingClient, ConfigError> {
        PipelineClient::build(client, |inner| self.pipeline(inner))
    }

    /// The hedging pipeline around any HTTP client service `inner`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field, from [`validate`](Self::validate).
    pub fn service<S, B, ResB>(&self, inner: S) -> Result<BoxClient<B, ResB>, ConfigError>
    where
        S: HttpClientService<B, ResB>,
        B: ClientBody,
        ResB: Send + Sync + 'static,
    {
        self.pipeline(inner).map(|(service, _)| service)
    }

    #[allow(clippy::type_complexity)]
    fn pipeline<S, B, ResB>(
        &self,
        inner: S,
    ) -> Result<(BoxClient<B, ResB>, HedgeLayer<HttpPolicy>), ConfigError>
    where
        S: HttpClientService<B, ResB>,
        B: ClientBody,
        ResB: Send + Sync + 'static,
    {
        self.validate()?;
        let hedge = self.hedge.layer().map_err(in_section("hedging.hedge"))?;
        let breakers = self.breaker.per_authority::<B>("hedging")?;
        let total = self.total_timeout;
        let service = ServiceBuilder::new()
            .map_request(move |request| with_deadline(request, total))
            // Scopes the deadline without a timer, as the client pipeline does: the total
            // timeout, the attempt timeout and the hedge (no attempt past the deadline) keep
            // it, so a timer here or in the inner layer would never fire first.
            .layer(SendDeadlineLayer::unenforced())
            .layer(TimeoutLayer::new(total).map_err(in_section("hedging.total_timeout"))?)
            .layer(ReplayLayer::new(self.replay_limit))
            .layer(hedge.clone())
            .layer(breakers)
            .layer(
                AttemptTimeoutLayer::new(self.attempt_timeout)
                    .map_err(in_section("hedging.attempt_timeout"))?,
            )
            .layer(SendDeadlineLayer::unenforced())
            .service(inner.map_err(Into::into));
        Ok((BoxCloneSyncService::new(service), hedge))
    }
}

/// A `reqwest::Client` behind the hedging pipeline, built by [`HedgingConfig::build`]; its
/// [`stats`](PipelineClient::stats) say what the hedges did.
pub type HedgingClient = PipelineClient<HedgeLayer<HttpPolicy>>;

impl HedgingClient {
    /// What the hedges did so far: sent, won, lost, refused by the budget.
    pub fn stats(&self) -> HedgeStats {
        self.inspect().stats()
    }
}

impl TryFrom<HedgeConfig> for HedgeLayer<HttpPolicy> {
    type Error = ConfigError;

    fn try_from(config: HedgeConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}
