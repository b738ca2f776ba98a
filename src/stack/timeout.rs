//! Timeout settings: the whole call's, one attempt's, and a server's reading of its callers'
//! deadlines.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::in_section;
use crate::core::duration;
use crate::core::ConfigError;
use crate::timeout::{AttemptTimeoutLayer, ReceiveDeadlineLayer, TimeoutLayer};

/// A timeout (`timeout = "2s"`): the whole call's with [`into_layer`](Self::into_layer), one
/// attempt's (below a retry or hedge) with
/// [`into_attempt_layer`](Self::into_attempt_layer).
///
/// | field | default | |
/// |---|---|---|
/// | `timeout` | required | more than zero |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutConfig {
    /// How long a call may take.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

impl TimeoutConfig {
    /// A [`TimeoutLayer`]: the call, the wait for readiness included, fails with
    /// `DeadlineExceeded` after `timeout`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `timeout` when it is zero.
    pub fn into_layer(self) -> Result<TimeoutLayer, ConfigError> {
        TimeoutLayer::new(self.timeout)
    }

    /// An [`AttemptTimeoutLayer`]: one attempt fails with `AttemptTimedOut` after `timeout`,
    /// an error a retry or hedge above may try again.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `timeout` when it is zero.
    pub fn into_attempt_layer(self) -> Result<AttemptTimeoutLayer, ConfigError> {
        AttemptTimeoutLayer::new(self.timeout).map_err(in_section("attempt_timeout"))
    }
}

impl TryFrom<TimeoutConfig> for TimeoutLayer {
    type Error = ConfigError;

    fn try_from(config: TimeoutConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}

impl TryFrom<TimeoutConfig> for AttemptTimeoutLayer {
    type Error = ConfigError;

    fn try_from(config: TimeoutConfig) -> Result<Self, ConfigError> {
        config.into_attempt_layer()
    }
}

/// Deadline settings (`[deadline]` in the server pipeline, or a file of its own for a
/// [`ReceiveDeadlineLayer`]: [`into_layer`](Self::into_layer)): how a server reads its
/// callers' deadlines (`seawall-deadline-ms`, `grpc-timeout`).
///
/// | field | default | |
/// |---|---|---|
/// | `max_timeout` | `"5m"` | a caller's timeout is cut to this (above `min_remaining`) |
/// | `min_remaining` | `"0s"` | refuse at once a request with this much left or less |
/// | `default_timeout` | none | the deadline of a request that brings none (above `min_remaining`, at most `max_timeout`) |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadlineConfig {
    /// The longest timeout a caller may ask for.
    #[serde(with = "duration")]
    pub max_timeout: Duration,
    /// Requests with this much time left or less are refused at once.
    #[serde(with = "duration")]
    pub min_remaining: Duration,
    /// The timeout of a request that brings none.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub default_timeout: Option<Duration>,
}

impl Default for DeadlineConfig {
    fn default() -> Self {
        Self {
            max_timeout: Duration::from_secs(300),
            min_remaining: Duration::ZERO,
            default_timeout: None,
        }
    }
}

impl DeadlineConfig {
    /// A [`ReceiveDeadlineLayer`] with these settings.
    ///
    /// # Errors
    ///
    /// The deadline builder's [`ConfigError`] under `deadline.`: `max_timeout` not above
    /// `min_remaining`, `default_timeout` outside them.
    pub fn into_layer(self) -> Result<ReceiveDeadlineLayer, ConfigError> {
        self.layer().map_err(in_section("deadline"))
    }

    pub(crate) fn layer(&self) -> Result<ReceiveDeadlineLayer, ConfigError> {
        ReceiveDeadlineLayer::builder()
            .max_timeout(self.max_timeout)
            .min_remaining(self.min_remaining)
            .default_timeout(self.default_timeout)
            .build()
    }
}

impl TryFrom<DeadlineConfig> for ReceiveDeadlineLayer {
    type Error = ConfigError;

    fn try_from(config: DeadlineConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}
