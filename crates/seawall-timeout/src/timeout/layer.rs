use std::time::Duration;

use seawall_core::ConfigError;
use tower_layer::Layer;

use super::service::Timeout;
use crate::passthrough::nonzero;

/// Wraps a service in a [`Timeout`] on the whole call, readiness included.
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    timeout: Duration,
}

impl TimeoutLayer {
    /// A layer whose calls fail with `DeadlineExceeded` after `timeout`.
    ///
    /// # Errors
    ///
    /// When `timeout` is zero, which would refuse every call.
    pub fn new(timeout: Duration) -> Result<Self, ConfigError> {
        Ok(Self {
            timeout: nonzero(timeout)?,
        })
    }

    /// The timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.timeout)
    }
}
