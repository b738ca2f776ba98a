//! The checks the configurations share, each naming the field it refuses, and reading TOML.

use std::time::Duration;

use crate::core::ConfigError;

/// Fails with a message naming `field` unless `value` is more than zero.
pub(crate) fn positive(field: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(ConfigError::new(format!(
            "{field} must be more than zero, got 0s"
        )))
    } else {
        Ok(())
    }
}

/// Fails with a message naming `field` unless `value` is in `0..=1`.
pub(crate) fn ratio(field: &str, value: f64) -> Result<(), ConfigError> {
    ConfigError::check_within(field, value, 0.0..=1.0)
}

/// Prefixes a layer's own configuration error with the section it came from.
pub(crate) fn in_section(section: &str) -> impl Fn(ConfigError) -> ConfigError + '_ {
    move |e| ConfigError::new(format!("{section}: {e}"))
}

/// Reads any of these configurations from TOML, turning serde's error into a
/// [`ConfigError`] that names the unknown, missing or mistyped field and its line.
///
/// This only reads: out-of-range values are refused when the configuration is built
/// (`into_layer`, `build`, `layer`), or by the pipelines' own `from_toml`, which also checks.
///
/// ```
/// use seawall::stack::{from_toml, RetryConfig};
///
/// let retry: RetryConfig = from_toml("max_attempts = 2\nbackoff = \"100ms\"")?;
/// let layer = retry.into_layer()?;
/// # let _ = layer;
///
/// let error = from_toml::<RetryConfig>("max_atempts = 2").unwrap_err();
/// assert!(error.message().contains("max_atempts"), "{error}");
/// # Ok::<(), seawall::core::ConfigError>(())
/// ```
///
/// # Errors
///
/// A [`ConfigError`] with toml's message: the field, the line, what was expected.
pub fn from_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::new(e.to_string().trim_end().to_owned()))
}
