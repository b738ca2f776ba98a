//! The standard server pipeline: one layer for axum's `Router::layer`.

use std::sync::Arc;
use std::time::Duration;

use axum_core::body::Body;
use serde::{Deserialize, Serialize};
use tower::util::MapResponse;
use tower::Layer;

use super::config::{in_section, positive};
use super::{BreakerConfig, DeadlineConfig, ShedConfig};
use crate::breaker::keyed::axum::{matched_route, Route};
use crate::breaker::keyed::KeyFn;
use crate::breaker::{KeyedCircuitBreaker, KeyedCircuitBreakerLayer};
use crate::core::duration;
use crate::core::{ConfigError, ErrorsAreFailures};
use crate::http::body::GuardedBody;
use crate::http::rejection_response::{OtherErrorsAs500, RejectionResponseService};
use crate::http::{HttpClassifier, RejectionResponseLayer};
use crate::shed::shed::UntilBodyEnd;
use crate::shed::{FromHeader, Shed, ShedLayer, ShedPermit};
use crate::timeout::{ReceiveDeadline, ReceiveDeadlineLayer, Timeout, TimeoutLayer};

/// The configuration of the standard server pipeline (see the [module docs](super)).
///
/// | field | default | |
/// |---|---|---|
/// | `timeout` | `"10s"` | a handler's longest run; a 504 after it |
/// | `[deadline]` | see [`DeadlineConfig`] | |
/// | `[shed]` | see [`ShedConfig`] | the slot is held until the response body ends |
/// | `[breaker]` | none | one breaker per matched route when present; `window` at least twice `timeout` |
/// | `breaker_skip` | `[]` | routes that never get a breaker (`"/health"`) |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// A handler's longest run.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// The deadline settings.
    pub deadline: DeadlineConfig,
    /// The shedding settings.
    pub shed: ShedConfig,
    /// Per-route breakers; none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerConfig>,
    /// Route templates that bypass the breakers.
    pub breaker_skip: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            deadline: DeadlineConfig::default(),
            shed: ShedConfig::default(),
            breaker: None,
            breaker_skip: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Reads a configuration from TOML and checks it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: unknown, mistyped, or out of range.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = super::config::from_toml(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field and the rules between them: the breakers' window must be at
    /// least twice the timeout, the reserves must leave room for normal requests, the
    /// deadline's and the limit's settings pass their layers' checks.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first field that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("server.timeout", self.timeout)?;
        self.deadline
            .layer()
            .map_err(in_section("server.deadline"))?;
        self.shed.builder_in("server.shed")?;
        if let Some(breaker) = &self.breaker {
            breaker.validate("server.breaker", Some(("server.timeout", self.timeout)))?;
        }
        Ok(())
    }

    /// The pipeline as one layer for `Router::layer`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field, from [`validate`](Self::validate).
    pub fn layer(&self) -> Result<ServerLayer, ConfigError> {
        self.validate()?;
        let deadline = self
            .deadline
            .layer()
            .map_err(in_section("server.deadline"))?;
        let shed = self
            .shed
            .builder_in("server.shed")?
            .name("server")
            .hold_to_body_end()
            .build()
            .map_err(in_section("server.shed"))?;
        let timeout = TimeoutLayer::new(self.timeout).map_err(in_section("server.timeout"))?;
        let enabled = self.breaker.is_some();
        // Off, the breakers never open, so a fixed seed costs nothing and keeps a simulated
        // run repeatable (an unseeded breaker table seeds its overflow breaker from entropy).
        let breaker = self.breaker.clone().unwrap_or(BreakerConfig {
            seed: Some(0),
            ..BreakerConfig::default()
        });
        let breakers = crate::breaker::KeyedCircuitBreakerBuilder::new(RouteKey {
            enabled,
            skip: self
                .breaker_skip
                .iter()
                .map(|s| Arc::from(s.as_str()))
                .collect(),
        })
        .breaker(breaker.builder().name("server"))
        .max_keys(breaker.max_keys)
        .build()
        .map_err(in_section("server.breaker"))?;
        Ok(ServerLayer {
            deadline,
            shed,
            timeout,
            breakers,
        })
    }
}

/// The key of a server's per-route breaker: the route axum matched, unless the breakers are
/// off or the route is one of `breaker_skip`.
#[derive(Clone, Debug)]
pub struct RouteKey {
    enabled: bool,
    skip: Arc<[Arc<str>]>,
}

impl<B> KeyFn<http::Request<B>> for RouteKey {
    type Key = Route;

    fn key(&self, request: &http::Request<B>) -> Option<Route> {
        if !self.enabled {
            return None;
        }
        matched_route(request).filter(|route| !self.skip.iter().any(|s| **s == *route.as_str()))
    }
}

/// A response whose body holds the shedding slot until it ends.
type Held = http::Response<GuardedBody<Body, ShedPermit>>;

/// Turns a held response back into axum's body type (the slot stays inside it).
fn unify(response: Held) -> http::Response<Body> {
    response.map(Body::new)
}

/// The service [`ServerLayer`] makes of a router's route (whose responses have axum's
/// `Body`). The shedding slot lives in the response body until the body ends.
pub type ServerService<S> = RejectionResponseService<
    ReceiveDeadline<
        MapResponse<
            Shed<
                Timeout<KeyedCircuitBreaker<S, Route, RouteKey, HttpClassifier>>,
                FromHeader,
                ErrorsAreFailures,
                UntilBodyEnd,
            >,
            fn(Held) -> http::Response<Body>,
        >,
    >,
    OtherErrorsAs500,
>;

/// The standard server pipeline as one layer, built by [`ServerConfig::layer`]: rejections
/// as responses → deadline → load shedding with priorities (the slot held to the end of the
/// response body) → timeout → per-route breakers.
///
/// Clones share the limit and the breakers, as axum's clones per route and per request must.
#[derive(Clone, Debug)]
pub struct ServerLayer {
    deadline: ReceiveDeadlineLayer,
    shed: ShedLayer<FromHeader, ErrorsAreFailures, UntilBodyEnd>,
    timeout: TimeoutLayer,
    breakers: KeyedCircuitBreakerLayer<Route, RouteKey, HttpClassifier>,
}

impl ServerLayer {
    /// The shedding layer, to read its limit and what is in flight.
    pub fn shed(&self) -> &ShedLayer<FromHeader, ErrorsAreFailures, UntilBodyEnd> {
        &self.shed
    }

    /// The per-route breakers, to read a route's breaker.
    pub fn breakers(&self) -> &KeyedCircuitBreakerLayer<Route, RouteKey, HttpClassifier> {
        &self.breakers
    }
}

impl<S> Layer<S> for ServerLayer {
    type Service = ServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = self.breakers.layer(inner);
        let inner = self.timeout.layer(inner);
        let inner = self.shed.layer(inner);
        let inner = MapResponse::new(inner, unify as fn(Held) -> http::Response<Body>);
        let inner = self.deadline.layer(inner);
        RejectionResponseLayer::infallible().layer(inner)
    }
}
