//! The names most stacks need, in one `use seawall::prelude::*;`.

pub use crate::core::{BoxError, ConfigError};

with_any_layer! {
    pub use crate::builder::SeawallServiceBuilderExt;
}

#[cfg(feature = "breaker")]
pub use crate::breaker::{
    CircuitBreakerBuilder, CircuitBreakerLayer, KeyedCircuitBreakerBuilder,
    KeyedCircuitBreakerLayer,
};
#[cfg(feature = "hedge")]
pub use crate::hedge::HedgeLayer;
#[cfg(feature = "http")]
pub use crate::http::{RejectionResponseLayer, ReplayLayer};
#[cfg(feature = "rate-limit")]
pub use crate::rate_limit::RateLimitLayer;
#[cfg(feature = "retry")]
pub use crate::retry::{Backoff, RetryBudget, RetryLayer};
#[cfg(feature = "shed")]
pub use crate::shed::{Priority, ShedLayer, ThrottleLayer};
#[cfg(feature = "stack")]
pub use crate::stack::{ClientConfig, HedgingConfig, ServerConfig};
#[cfg(feature = "timeout")]
pub use crate::timeout::{
    AttemptTimeoutLayer, ReceiveDeadlineLayer, SendDeadlineLayer, TimeoutLayer,
};
