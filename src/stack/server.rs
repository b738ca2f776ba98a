//! The standard server pipeline: one layer for axum's `Router::layer`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower::Layer;

use super::config::{in_section, positive, ratio, within, BreakerConfig};
use super::duration;
use crate::breaker::keyed::axum::{matched_route, Route};
use crate::breaker::keyed::KeyFn;
use crate::breaker::{KeyedCircuitBreaker, KeyedCircuitBreakerLayer};
use crate::core::{ConfigError, ErrorsAreFailures};
use crate::http::rejection_response::{OtherErrorsAs500, RejectionResponseService};
use crate::http::{HttpClassifier, RejectionResponseLayer};
use crate::shed::shed::UntilResponse;
use crate::shed::{FromHeader, Priority, Shed, ShedLayer};
use crate::timeout::{ReceiveDeadline, ReceiveDeadlineLayer, Timeout, TimeoutLayer};

/// The header a request's priority is read from: `critical`, `normal` or `sheddable`.
pub const PRIORITY_HEADER: &str = "seawall-priority";

/// Deadline settings (`[deadline]`): how the server reads its callers' deadlines.
///
/// | field | default | |
/// |---|---|---|
/// | `max_timeout` | `"5m"` | a caller's timeout is cut to this |
/// | `min_remaining` | `"0s"` | refuse at once a request with this much left or less |
/// | `default_timeout` | none | the deadline of a request that brings none |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadlineConfig {
    /// The longest timeout a caller may ask for.
    #[serde(with = "duration")]
    pub max_timeout: Duration,
    /// Requests with this much time left or less are refused at once.
    #[serde(with = "duration")]
    pub min_remaining: Duration,
    /// The timeout of a request that brings none.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub default_timeout: Option<Duration>,
}

impl Default for DeadlineConfig {
    fn default() -> Self {
        Self {
            max_timeout: Duration::from_secs(300),
            min_remaining: Duration::ZERO,
            default_timeout: None,
        }
    }
}

/// Load shedding settings (`[shed]`).
///
/// | field | default | |
/// |---|---|---|
/// | `fixed_limit` | none: adaptive | requests in flight at once; absent, the limit is learnt (Vegas, one sample a second) |
/// | `critical_reserve` | 0.1 | share of the limit only `critical` requests may use |
/// | `sheddable_reserve` | 0.2 | further share `sheddable` requests may not use |
/// | `trusted_priority` | false | let the `seawall-priority` header raise a request above `normal` |
/// | `retry_after` | `"1s"` | the `Retry-After` of a 503 from shedding |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShedConfig {
    /// A fixed limit; adaptive when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_limit: Option<usize>,
    /// The share of the limit kept for critical requests.
    pub critical_reserve: f64,
    /// The further share kept away from sheddable requests.
    pub sheddable_reserve: f64,
    /// Whether the priority header may raise a request's priority.
    pub trusted_priority: bool,
    /// The retry-after hint of a refusal.
    #[serde(with = "duration")]
    pub retry_after: Duration,
}

impl Default for ShedConfig {
    fn default() -> Self {
        Self {
            fixed_limit: None,
            critical_reserve: 0.1,
            sheddable_reserve: 0.2,
            trusted_priority: false,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// The configuration of the standard server pipeline (see the [module docs](super)).
///
/// | field | default | |
/// |---|---|---|
/// | `timeout` | `"10s"` | a handler's longest run; a 504 after it |
/// | `[deadline]` | see [`DeadlineConfig`] | |
/// | `[shed]` | see [`ShedConfig`] | |
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
    /// least twice the timeout, the reserves must leave room for normal requests.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first field that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("server.timeout", self.timeout)?;
        positive("server.deadline.max_timeout", self.deadline.max_timeout)?;
        if self.deadline.min_remaining >= self.deadline.max_timeout {
            return Err(ConfigError::new(format!(
                "server.deadline.min_remaining must be less than server.deadline.max_timeout ({}), got {}",
                duration::format(self.deadline.max_timeout),
                duration::format(self.deadline.min_remaining)
            )));
        }
        if let Some(default) = self.deadline.default_timeout {
            positive("server.deadline.default_timeout", default)?;
        }
        if let Some(limit) = self.shed.fixed_limit {
            within("server.shed.fixed_limit", limit, 1..=1_000_000)?;
        }
        ratio("server.shed.critical_reserve", self.shed.critical_reserve)?;
        ratio("server.shed.sheddable_reserve", self.shed.sheddable_reserve)?;
        if self.shed.critical_reserve + self.shed.sheddable_reserve >= 1.0 {
            return Err(ConfigError::new(format!(
                "server.shed.sheddable_reserve plus server.shed.critical_reserve must be less than 1, got {}",
                self.shed.critical_reserve + self.shed.sheddable_reserve
            )));
        }
        if let Some(breaker) = &self.breaker {
            breaker.validate("server.breaker", ("server.timeout", self.timeout))?;
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
        let deadline = ReceiveDeadlineLayer::builder()
            .max_timeout(self.deadline.max_timeout)
            .min_remaining(self.deadline.min_remaining)
            .default_timeout(self.deadline.default_timeout)
            .build()
            .map_err(in_section("server.deadline"))?;
        let mut priority = FromHeader::new(
            http::HeaderName::from_static(PRIORITY_HEADER),
            Priority::Normal,
        );
        if self.shed.trusted_priority {
            priority = priority.trusted();
        }
        let mut shed = ShedLayer::builder()
            .reserve(Priority::Normal, self.shed.critical_reserve)
            .reserve(Priority::Sheddable, self.shed.sheddable_reserve)
            .retry_after(Some(self.shed.retry_after))
            .name("server");
        if let Some(limit) = self.shed.fixed_limit {
            shed = shed.limit(crate::shed::limit::Fixed::new(limit));
        }
        let shed = shed
            .priority(priority)
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

/// The service [`ServerLayer`] makes of a router's route.
pub type ServerService<S> = RejectionResponseService<
    ReceiveDeadline<
        Shed<
            Timeout<KeyedCircuitBreaker<S, Route, RouteKey, HttpClassifier>>,
            FromHeader,
            ErrorsAreFailures,
            UntilResponse,
        >,
    >,
    OtherErrorsAs500,
>;

/// The standard server pipeline as one layer, built by [`ServerConfig::layer`]: rejections
/// as responses → deadline → load shedding with priorities → timeout → per-route breakers.
///
/// Clones share the limit and the breakers, as axum's clones per route and per request must.
#[derive(Clone, Debug)]
pub struct ServerLayer {
    deadline: ReceiveDeadlineLayer,
    shed: ShedLayer<FromHeader>,
    timeout: TimeoutLayer,
    breakers: KeyedCircuitBreakerLayer<Route, RouteKey, HttpClassifier>,
}

impl ServerLayer {
    /// The shedding layer, to read its limit and what is in flight.
    pub fn shed(&self) -> &ShedLayer<FromHeader> {
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
        let inner = self.deadline.layer(inner);
        RejectionResponseLayer::infallible().layer(inner)
    }
}
