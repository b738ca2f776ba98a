use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::{Calls, Events};
use tower_layer::Layer;

use crate::builder::RateLimitBuilder;
use crate::key::KeyExtractor;
use crate::limiter::{GlobalLimit, KeyedLimit};
use crate::service::RateLimit;

/// Applies a rate limit to a service. See the [crate docs](crate).
///
/// # Clone
///
/// The limiter lives behind an `Arc` in the layer: every service the layer makes and every
/// clone of those count against the same quota. In axum's `Router::layer` that is one limit
/// for the whole router (every route's service is made by this one layer, and axum clones
/// it for every request).
pub struct RateLimitLayer<L = GlobalLimit> {
    limit: Arc<L>,
    /// `seawall_calls_total{layer="ratelimit"}`: taken once, shared by the services.
    calls: Calls,
}

impl RateLimitLayer {
    /// A builder for `requests` requests every `per`, with a burst of `requests`.
    pub fn builder(requests: u32, per: Duration) -> RateLimitBuilder {
        RateLimitBuilder::new(requests, per)
    }
}

impl<L> RateLimitLayer<L> {
    pub(crate) fn from_limit(limit: Arc<L>) -> Self {
        Self {
            limit,
            calls: Calls::new(&Events::new("ratelimit")),
        }
    }

    /// The limiter every service of this layer shares.
    pub fn limit(&self) -> &Arc<L> {
        &self.limit
    }
}

impl<E: KeyExtractor> RateLimitLayer<KeyedLimit<E>> {
    /// How many keys have a limiter of their own now.
    pub fn keys(&self) -> usize {
        self.limit.keys()
    }

    /// How many requests found the key table full and shared the overflow limiter.
    pub fn overflow_requests(&self) -> u64 {
        self.limit.overflow_requests()
    }
}

impl<L> Clone for RateLimitLayer<L> {
    fn clone(&self) -> Self {
        Self {
            limit: self.limit.clone(),
            calls: self.calls.clone(),
        }
    }
}

impl<L: fmt::Debug> fmt::Debug for RateLimitLayer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limit", &self.limit)
            .finish()
    }
}

impl<S, L> Layer<S> for RateLimitLayer<L> {
    type Service = RateLimit<S, L>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.limit.clone(), self.calls.clone())
    }
}
