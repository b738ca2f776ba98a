//! Keys for server-side breakers in axum: one breaker per matched route.
//!
//! axum's `Router::layer` runs the layer after routing, with the route's template in the
//! request's extensions as [`MatchedPath`] (`/orders/{id}`, not `/orders/7`, so ids do not
//! make keys). [`matched_route`] reads it without allocating; the fallback (no route
//! matched) has none, so with [`KeyedCircuitBreakerBuilder::optional`](super::KeyedCircuitBreakerBuilder::optional) a
//! 404 never reaches a breaker.
//!
//! ```
//! use axum::{routing::get, Router};
//! use seawall_breaker::keyed::axum::matched_route;
//! use seawall_breaker::{http, KeyedCircuitBreakerBuilder};
//! use seawall_http::RejectionResponseLayer;
//! use tower::ServiceBuilder;
//!
//! let breakers = KeyedCircuitBreakerBuilder::optional(matched_route::<axum::body::Body>)
//!     .breaker(http::builder())
//!     .build()
//!     .unwrap();
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "orders" }))
//!     .route("/users", get(|| async { "users" }))
//!     // One breaker per route above; an open one answers 503 with Retry-After.
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(RejectionResponseLayer::infallible())
//!             .layer(breakers),
//!     )
//!     // Added after `layer`: no breaker at all, whatever the other routes do.
//!     .route("/health", get(|| async { "ok" }));
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use ::axum::extract::MatchedPath;
use http::Request;

/// A route template as a breaker key: compares and hashes as its path, clones as an `Arc`.
#[derive(Clone)]
pub struct Route(Inner);

#[derive(Clone)]
enum Inner {
    Matched(MatchedPath),
    Named(Arc<str>),
}

impl Route {
    /// The key of the route `template` (such as `/orders/{id}`), to look its breaker up
    /// with [`KeyedCircuitBreakerLayer::handle`](super::KeyedCircuitBreakerLayer::handle).
    pub fn new(template: impl Into<Arc<str>>) -> Self {
        Self(Inner::Named(template.into()))
    }

    /// The route's template, such as `/orders/{id}`.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Inner::Matched(path) => path.as_str(),
            Inner::Named(name) => name,
        }
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// The template's `Debug`: `"/orders/{id}"`, as a breaker's name.
impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<MatchedPath> for Route {
    fn from(path: MatchedPath) -> Self {
        Self(Inner::Matched(path))
    }
}

/// The route axum matched for `request`; `None` when no route did (the fallback) or the
/// layer runs outside the router (wrap the `Router` itself and routing has not happened
/// yet: put the layer in `Router::layer` instead).
pub fn matched_route<B>(request: &Request<B>) -> Option<Route> {
    request
        .extensions()
        .get::<MatchedPath>()
        .cloned()
        .map(Route::from)
}
