use std::fmt;
use std::ops::RangeInclusive;

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

    /// `Ok` when `value` is in `range`, otherwise an error naming `field` and the range, as
    /// every builder words it: `max_attempts must be in 1..=100, got 0`. A NaN is in no
    /// range.
    ///
    /// ```
    /// use seawall_core::ConfigError;
    ///
    /// assert!(ConfigError::check_within("max_attempts", 3, 1..=100).is_ok());
    /// let err = ConfigError::check_within("jitter", 1.5, 0.0..=1.0).unwrap_err();
    /// assert_eq!(err.message(), "jitter must be in 0..=1, got 1.5");
    /// assert!(ConfigError::check_within("jitter", f64::NAN, 0.0..=1.0).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// When `value` is outside `range`.
    pub fn check_within<T>(field: &str, value: T, range: RangeInclusive<T>) -> Result<(), Self>
    where
        T: PartialOrd + fmt::Display,
    {
        if range.contains(&value) {
            Ok(())
        } else {
            Err(Self::new(format!(
                "{field} must be in {}..={}, got {value}",
                range.start(),
                range.end()
            )))
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
