use std::time::Duration;

use seawall_core::ConfigError;
use tower_layer::Layer;

use super::service::ReceiveDeadline;

/// Wraps a server in [`ReceiveDeadline`].
#[derive(Clone, Copy, Debug)]
pub struct ReceiveDeadlineLayer {
    pub(super) config: Config,
}

/// The validated settings, shared by the layer and its services.
#[derive(Clone, Copy, Debug)]
pub(super) struct Config {
    pub(super) min_remaining: Duration,
    pub(super) max_timeout: Duration,
    pub(super) default_timeout: Option<Duration>,
}

impl ReceiveDeadlineLayer {
    /// The layer with the defaults: no minimum, timeouts capped at five minutes, no deadline
    /// for requests that bring none.
    pub fn new() -> Self {
        Self {
            config: Config {
                min_remaining: Duration::ZERO,
                max_timeout: Duration::from_secs(300),
                default_timeout: None,
            },
        }
    }

    /// A builder for the layer's settings.
    pub fn builder() -> ReceiveDeadlineBuilder {
        ReceiveDeadlineBuilder {
            config: Self::new().config,
        }
    }
}

impl Default for ReceiveDeadlineLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for ReceiveDeadlineLayer {
    type Service = ReceiveDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReceiveDeadline {
            inner,
            config: self.config,
            calls: crate::future::calls("receive"),
        }
    }
}

/// Settings of a [`ReceiveDeadlineLayer`], checked by [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct ReceiveDeadlineBuilder {
    config: Config,
}

impl ReceiveDeadlineBuilder {
    /// Refuse at once a request with this much time left or less. Default 0: only a request
    /// whose deadline has passed.
    pub fn min_remaining(mut self, min: Duration) -> Self {
        self.config.min_remaining = min;
        self
    }

    /// Cap a caller's timeout at this. Default five minutes.
    pub fn max_timeout(mut self, max: Duration) -> Self {
        self.config.max_timeout = max;
        self
    }

    /// Give a request that brings no usable timeout this one. Default none: such a request
    /// has no deadline.
    pub fn default_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.default_timeout = timeout;
        self
    }

    /// The layer.
    ///
    /// # Errors
    ///
    /// When `max_timeout` is not above `min_remaining` (no request could be served), or
    /// `default_timeout` is not above `min_remaining` or above `max_timeout`.
    pub fn build(self) -> Result<ReceiveDeadlineLayer, ConfigError> {
        let Config {
            min_remaining: min,
            max_timeout: max,
            default_timeout,
        } = self.config;
        if max <= min {
            return Err(ConfigError::new(format!(
                "max_timeout must be above min_remaining ({min:?}), got {max:?}"
            )));
        }
        if let Some(default) = default_timeout {
            if default <= min || default > max {
                return Err(ConfigError::new(format!(
                    "default_timeout must be above min_remaining ({min:?}) and at most max_timeout ({max:?}), got {default:?}"
                )));
            }
        }
        Ok(ReceiveDeadlineLayer {
            config: self.config,
        })
    }
}
