//! Rate limit settings: a quota, one limiter for all or one per key.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::in_section;
use crate::core::duration;
use crate::core::ConfigError;
use crate::rate_limit::{GlobalLimit, KeyExtractor, KeyedLimit, RateLimitLayer};

/// A rate limit on governor's GCRA (`[rate_limit]`): `requests` every `per`, one limiter
/// shared by every clone ([`into_layer`](Self::into_layer)) or one per key
/// ([`into_keyed`](Self::into_keyed)). The checks are the rate limit builder's.
///
/// | field | default | |
/// |---|---|---|
/// | `requests` | required | requests allowed every `per` (at least 1) |
/// | `per` | required | the period (more than zero, at most a year) |
/// | `burst` | `requests` | how many may go at once after a quiet spell (at least 1) |
/// | `max_keys` | 10,000 | keyed: limiters kept at most (1..=1,000,000) |
/// | `idle_timeout` | a burst's refill time | keyed: how long a key goes unused before it may be forgotten (at least the refill time) |
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests allowed every `per`.
    pub requests: u32,
    /// The period.
    #[serde(with = "duration")]
    pub per: Duration,
    /// The burst; `requests` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Keyed limits: the most keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_keys: Option<usize>,
    /// Keyed limits: how long an unused key is kept.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<Duration>,
}

impl RateLimitConfig {
    /// One limiter shared by every service the layer makes and every clone of those.
    ///
    /// # Errors
    ///
    /// The builder's [`ConfigError`] under `rate_limit.`, naming the field.
    pub fn into_layer(self) -> Result<RateLimitLayer<GlobalLimit>, ConfigError> {
        let mut builder = RateLimitLayer::builder(self.requests, self.per);
        if let Some(burst) = self.burst {
            builder = builder.burst(burst);
        }
        builder.build().map_err(in_section("rate_limit"))
    }

    /// One limiter per key that `extractor` finds (`PeerIp`, `FromHeader`, `KeyFn`), at
    /// most `max_keys` of them.
    ///
    /// # Errors
    ///
    /// As [`into_layer`](Self::into_layer).
    pub fn into_keyed<E: KeyExtractor>(
        self,
        extractor: E,
    ) -> Result<RateLimitLayer<KeyedLimit<E>>, ConfigError> {
        let mut builder = RateLimitLayer::builder(self.requests, self.per).key_by(extractor);
        if let Some(burst) = self.burst {
            builder = builder.burst(burst);
        }
        if let Some(max_keys) = self.max_keys {
            builder = builder.max_keys(max_keys);
        }
        if let Some(idle) = self.idle_timeout {
            builder = builder.idle_timeout(idle);
        }
        builder.build().map_err(in_section("rate_limit"))
    }
}

impl TryFrom<RateLimitConfig> for RateLimitLayer<GlobalLimit> {
    type Error = ConfigError;

    fn try_from(config: RateLimitConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}
