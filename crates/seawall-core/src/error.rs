use std::fmt;

/// A layer (or the simulator) was configured with a value it cannot work with.
///
/// Every Seawall builder checks its settings once, when it is built, and returns this error
/// instead of panicking later at request time. The message names the field and the range it
/// allows, for example `percent_can_retry must be in 0..=1, got 1.5`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    /// An error with `message`, which should name the field and the allowed range.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
