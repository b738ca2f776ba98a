//! `ServiceBuilder` extensions, so that a stack of Seawall layers reads like tower's.
//!
//! ```
//! # #[cfg(all(feature = "retry", feature = "breaker", feature = "timeout"))]
//! # fn main() -> Result<(), seawall::core::ConfigError> {
//! use std::time::Duration;
//! use seawall::prelude::*;
//! use tower::{service_fn, ServiceBuilder};
//!
//! let service = ServiceBuilder::new()
//!     .with_timeout(TimeoutLayer::new(Duration::from_secs(2))?)
//!     .with_retry(RetryLayer::builder().build()?)
//!     .with_circuit_breaker(CircuitBreakerLayer::builder().build()?)
//!     .with_timeout(AttemptTimeoutLayer::new(Duration::from_millis(500))?)
//!     .service(service_fn(|n: u32| async move { Ok::<_, seawall::core::BoxError>(n) }));
//! # let _ = service;
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "retry", feature = "breaker", feature = "timeout")))]
//! # fn main() {}
//! ```
//!
//! # Why `with_retry`, not `retry`
//!
//! tower's own `ServiceBuilder` has inherent `retry`, `timeout`, `load_shed` and
//! `rate_limit` methods when its features of those names are on, and an inherent method
//! always wins over a trait's: with tower's `full` feature anywhere in a build,
//! `.retry(seawall_layer)` would call tower's method and fail to compile with a confusing
//! error. The `with_` prefix keeps every Seawall method reachable whatever features the
//! build turns on.
//!
//! Each method takes the layer, built and checked by its own builder, and is `.layer(..)`
//! with a name that says what it adds and a bound that accepts only that kind of layer.

use tower::layer::util::Stack;
use tower::ServiceBuilder;

/// A circuit breaker layer: plain or keyed. (For [`SeawallServiceBuilderExt::with_circuit_breaker`].)
#[cfg(feature = "breaker")]
pub trait BreakerLayer {}
#[cfg(feature = "breaker")]
impl<C> BreakerLayer for crate::breaker::CircuitBreakerLayer<C> {}
#[cfg(feature = "breaker")]
impl<K, F, C> BreakerLayer for crate::breaker::KeyedCircuitBreakerLayer<K, F, C> {}

/// A load shedding layer: a server-side limit or a client-side throttle. (For
/// [`SeawallServiceBuilderExt::with_load_shed`].)
#[cfg(feature = "shed")]
pub trait LoadShedLayer {}
#[cfg(feature = "shed")]
impl<P, C, H> LoadShedLayer for crate::shed::ShedLayer<P, C, H> {}
#[cfg(feature = "shed")]
impl<C> LoadShedLayer for crate::shed::ThrottleLayer<C> {}

/// A timeout layer: the whole call's or one attempt's. (For
/// [`SeawallServiceBuilderExt::with_timeout`].)
#[cfg(feature = "timeout")]
pub trait TimeoutKindLayer {}
#[cfg(feature = "timeout")]
impl TimeoutKindLayer for crate::timeout::TimeoutLayer {}
#[cfg(feature = "timeout")]
impl TimeoutKindLayer for crate::timeout::AttemptTimeoutLayer {}

/// A deadline layer: sending (client) or receiving (server). (For
/// [`SeawallServiceBuilderExt::with_deadline`].)
#[cfg(feature = "timeout")]
pub trait DeadlineLayer {}
#[cfg(feature = "timeout")]
impl DeadlineLayer for crate::timeout::SendDeadlineLayer {}
#[cfg(feature = "timeout")]
impl DeadlineLayer for crate::timeout::ReceiveDeadlineLayer {}

/// Seawall's layers as `ServiceBuilder` methods; each is behind its layer's feature.
///
/// A new kind of layer is one method here and one marker trait (see [`BreakerLayer`]).
pub trait SeawallServiceBuilderExt<L>: Sized {
    /// Adds retries with a budget ([`RetryLayer`](crate::retry::RetryLayer)).
    #[cfg(feature = "retry")]
    fn with_retry<P>(
        self,
        layer: crate::retry::RetryLayer<P>,
    ) -> ServiceBuilder<Stack<crate::retry::RetryLayer<P>, L>>;

    /// Adds a circuit breaker, plain or keyed.
    #[cfg(feature = "breaker")]
    fn with_circuit_breaker<B: BreakerLayer>(self, layer: B) -> ServiceBuilder<Stack<B, L>>;

    /// Adds load shedding ([`ShedLayer`](crate::shed::ShedLayer)) or client-side throttling
    /// ([`ThrottleLayer`](crate::shed::ThrottleLayer)).
    #[cfg(feature = "shed")]
    fn with_load_shed<T: LoadShedLayer>(self, layer: T) -> ServiceBuilder<Stack<T, L>>;

    /// Adds hedged requests ([`HedgeLayer`](crate::hedge::HedgeLayer)).
    #[cfg(feature = "hedge")]
    fn with_hedge<P>(
        self,
        layer: crate::hedge::HedgeLayer<P>,
    ) -> ServiceBuilder<Stack<crate::hedge::HedgeLayer<P>, L>>;

    /// Adds a timeout: the whole call's ([`TimeoutLayer`](crate::timeout::TimeoutLayer)) or
    /// one attempt's ([`AttemptTimeoutLayer`](crate::timeout::AttemptTimeoutLayer)).
    #[cfg(feature = "timeout")]
    fn with_timeout<T: TimeoutKindLayer>(self, layer: T) -> ServiceBuilder<Stack<T, L>>;

    /// Adds deadline propagation: [`SendDeadlineLayer`](crate::timeout::SendDeadlineLayer)
    /// on a client, [`ReceiveDeadlineLayer`](crate::timeout::ReceiveDeadlineLayer) on a server.
    #[cfg(feature = "timeout")]
    fn with_deadline<T: DeadlineLayer>(self, layer: T) -> ServiceBuilder<Stack<T, L>>;

    /// Adds a rate limit ([`RateLimitLayer`](crate::rate_limit::RateLimitLayer)), one limiter
    /// shared by every clone, optionally keyed.
    #[cfg(feature = "rate-limit")]
    fn with_rate_limit<K>(
        self,
        layer: crate::rate_limit::RateLimitLayer<K>,
    ) -> ServiceBuilder<Stack<crate::rate_limit::RateLimitLayer<K>, L>>;
}

impl<L> SeawallServiceBuilderExt<L> for ServiceBuilder<L> {
    #[cfg(feature = "retry")]
    fn with_retry<P>(
        self,
        layer: crate::retry::RetryLayer<P>,
    ) -> ServiceBuilder<Stack<crate::retry::RetryLayer<P>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "breaker")]
    fn with_circuit_breaker<B: BreakerLayer>(self, layer: B) -> ServiceBuilder<Stack<B, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "shed")]
    fn with_load_shed<T: LoadShedLayer>(self, layer: T) -> ServiceBuilder<Stack<T, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "hedge")]
    fn with_hedge<P>(
        self,
        layer: crate::hedge::HedgeLayer<P>,
    ) -> ServiceBuilder<Stack<crate::hedge::HedgeLayer<P>, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "timeout")]
    fn with_timeout<T: TimeoutKindLayer>(self, layer: T) -> ServiceBuilder<Stack<T, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "timeout")]
    fn with_deadline<T: DeadlineLayer>(self, layer: T) -> ServiceBuilder<Stack<T, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "rate-limit")]
    fn with_rate_limit<K>(
        self,
        layer: crate::rate_limit::RateLimitLayer<K>,
    ) -> ServiceBuilder<Stack<crate::rate_limit::RateLimitLayer<K>, L>> {
        self.layer(layer)
    }
}
