use std::time::Duration;

use seawall_core::ConfigError;
use tower_layer::Layer;

use super::service::AttemptTimeout;
use crate::passthrough::nonzero;

/// Wraps a service in an [`AttemptTimeout`].
#[derive(Clone, Copy, Debug)]
pub struct AttemptTimeoutLayer {
    timeout: Duration,
}

impl AttemptTimeoutLayer {
    /// A layer whose attempts fail with `AttemptTimedOut` after `timeout`, or with
    /// `DeadlineExceeded` at the task's deadline if that comes first.
    ///
    /// # Errors
    ///
    /// When `timeout` is zero, which would fail every attempt.
    pub fn new(timeout: Duration) -> Result<Self, ConfigError> {
        Ok(Self {
            timeout: nonzero(timeout)?,
        })
    }

    /// The timeout of one attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S> Layer<S> for AttemptTimeoutLayer {
    type Service = AttemptTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AttemptTimeout {
            inner,
            timeout: self.timeout,
            calls: crate::future::calls("attempt"),
        }
    }
}
