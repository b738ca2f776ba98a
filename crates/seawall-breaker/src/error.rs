//! Errors: the breaker's configuration error. A rejected call's error is
//! [`CircuitOpen`], shared with every Seawall layer (it lives in `seawall_core::rejection`).

use std::fmt;

pub use seawall_core::rejection::CircuitOpen;

/// A breaker was configured with a value it cannot work with; the message names the field
/// and the allowed range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
