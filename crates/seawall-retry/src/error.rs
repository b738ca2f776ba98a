//! The errors of the retry layer.

pub use seawall_core::ConfigError;

/// The "do not retry" mark, which lives in `seawall-core` so that every layer shares it;
/// re-exported here, where it used to be defined. See [`seawall_core::retry_signal`].
pub use seawall_core::DoNotRetry;
