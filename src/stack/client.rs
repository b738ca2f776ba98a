//! The standard client pipeline: a `reqwest::Client` with every client-side layer, in the
//! order that makes them work together.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

use super::config::{in_section, positive};
use super::{BreakerConfig, RetryConfig, ThrottleConfig};
use crate::core::deadline::Deadline;
use crate::core::duration;
use crate::core::{BoxError, ConfigError};
use crate::http::client::ReqwestService;
use crate::http::{ReplayLayer, ReplayableBody};
use crate::retry::RetryBudget;
use crate::shed::limit::Fixed;
use crate::shed::ShedLayer;
use crate::timeout::{AttemptTimeoutLayer, SendDeadlineLayer, TimeoutLayer};

/// A client pipeline as one cloneable service of `http::Request<B>`.
pub type BoxClient<B, ResB> = BoxCloneSyncService<http::Request<B>, http::Response<ResB>, BoxError>;

/// An HTTP client service a standard client pipeline can wrap: it takes requests whose
/// bodies can be replayed, answers `http::Response<ResB>`, and can be cloned and shared
/// across tasks. Every such service has it (a blanket impl): hyper-util's client, reqwest's
/// through [`ReqwestService`], a test double. It names the bounds once, for
/// [`ClientConfig::service`] and [`HedgingConfig::service`](super::HedgingConfig::service).
pub trait HttpClientService<B, ResB>:
    Service<
        http::Request<ReplayableBody<B>>,
        Response = http::Response<ResB>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S, B, ResB> HttpClientService<B, ResB> for S where
    S: Service<
            http::Request<ReplayableBody<B>>,
            Response = http::Response<ResB>,
            Error: Into<BoxError>,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// A request body a standard client pipeline can carry: bytes, shareable across tasks.
pub trait ClientBody:
    http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Sync + 'static
{
}

impl<B> ClientBody for B where
    B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Sync + 'static
{
}

/// The configuration of the standard client pipeline (see the [module docs](super)).
///
/// | field | default | |
/// |---|---|---|
/// | `max_in_flight` | 1,000 | requests in flight at once; more are refused with `Overloaded` (1..=1,000,000) |
/// | `total_timeout` | `"10s"` | the caller's whole wait, retries and backoffs included; sent downstream as the deadline |
/// | `attempt_timeout` | `"3s"` | one attempt (at most `total_timeout`) |
/// | `replay_limit` | 65,536 | request body bytes kept for retries; a longer body is sent once |
/// | `[retry]` | see [`RetryConfig`] | |
/// | `[breaker]` | see [`BreakerConfig`] | one per authority; `window` at least twice `attempt_timeout` |
/// | `[throttle]` | none: off | client-side adaptive throttling, see [`ThrottleConfig`] |
///
/// The throttle is off by default: it is one throttle for every upstream the client
/// calls, so one overloaded host would get requests to the healthy ones refused too, and
/// the per-authority breakers and the retry budget already keep a client from piling onto
/// a failing host. Turn it on (`[throttle]`, even empty) for a client of one service that
/// answers overload with 503 or 429: it then sends about `k` times what the service
/// accepts instead of its full rate, refusing the rest locally with `Overloaded`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// The caller's whole wait.
    #[serde(with = "duration")]
    pub total_timeout: Duration,
    /// One attempt's timeout.
    #[serde(with = "duration")]
    pub attempt_timeout: Duration,
    /// Request body bytes kept so that a retry can re-send them.
    pub replay_limit: usize,
    /// The retry settings.
    pub retry: RetryConfig,
    /// The per-authority breakers' settings.
    pub breaker: BreakerConfig,
    /// Client-side adaptive throttling; off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleConfig>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1000,
            total_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(3),
            replay_limit: 64 * 1024,
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            throttle: None,
        }
    }
}

/// Checks that the attempt timeout fits in the total (shared with the hedging pipeline).
pub(crate) fn check_timeouts(
    section: &str,
    total: Duration,
    attempt: Duration,
) -> Result<(), ConfigError> {
    positive(&format!("{section}.total_timeout"), total)?;
    positive(&format!("{section}.attempt_timeout"), attempt)?;
    if attempt > total {
        return Err(ConfigError::new(format!(
            "{section}.attempt_timeout must not exceed {section}.total_timeout ({}), got {}",
            duration::format(total),
            duration::format(attempt)
        )));
    }
    Ok(())
}

impl ClientConfig {
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

    /// Checks every field and the rules between them: the attempt timeout must not exceed
    /// the total, the breaker's window must be at least twice the attempt timeout.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first field that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check_within("client.max_in_flight", self.max_in_flight, 1..=1_000_000)?;
        check_timeouts("client", self.total_timeout, self.attempt_timeout)?;
        ConfigError::check_within(
            "client.replay_limit",
            self.replay_limit,
            0..=64 * 1024 * 1024,
        )?;
        self.retry.validate("client.retry")?;
        if let Some(throttle) = &self.throttle {
            throttle.layer_in("client.throttle")?;
        }
        self.breaker.validate(
            "client.breaker",
            Some(("client.attempt_timeout", self.attempt_timeout)),
        )
    }

    /// The standard pipeline around `client`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field, from [`validate`](Self::validate).
    pub fn build(&self, client: reqwest::Client) -> Result<StandardClient, ConfigError> {
        PipelineClient::build(client, |inner| self.pipeline(inner))
    }

    /// The standard pipeline around any HTTP client service `inner` (hyper-util's, a test
    /// double): what [`build`](Self::build) does for reqwest.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field, from [`validate`](Self::validate).
    pub fn service<S, B, ResB>(&self, inner: S) -> Result<BoxClient<B, ResB>, ConfigError>
    where
        S: HttpClientService<B, ResB>,
        B: ClientBody,
        ResB: Send + Sync + 'static,
    {
        self.pipeline(inner).map(|(service, _)| service)
    }

    fn pipeline<S, B, ResB>(
        &self,
        inner: S,
    ) -> Result<(BoxClient<B, ResB>, Arc<RetryBudget>), ConfigError>
    where
        S: HttpClientService<B, ResB>,
        B: ClientBody,
        ResB: Send + Sync + 'static,
    {
        self.validate()?;
        let budget = Arc::new(self.retry.budget().map_err(in_section("client.retry"))?);
        let retry = self
            .retry
            .with_budget(budget.clone(), "client")
            .map_err(in_section("client.retry"))?;
        let breakers = self.breaker.per_authority::<B>("client")?;
        let throttle = self
            .throttle
            .as_ref()
            .map(|throttle| throttle.layer_in("client.throttle"))
            .transpose()?;
        let limit = ShedLayer::builder()
            .limit(Fixed::new(self.max_in_flight))
            .name("client")
            .build()
            .map_err(in_section("client.max_in_flight"))?;
        let total = self.total_timeout;
        let service = ServiceBuilder::new()
            .map_request(move |request| with_deadline(request, total))
            // Scopes the deadline for the layers below without a timer: the attempt timeout
            // ends every attempt by it and the retries do not back off past it, so a timer
            // here (and in the inner `SendDeadlineLayer`) would never fire first.
            .layer(SendDeadlineLayer::unenforced())
            .layer(limit)
            .layer(TimeoutLayer::new(total).map_err(in_section("client.total_timeout"))?)
            .layer(ReplayLayer::new(self.replay_limit))
            .layer(retry)
            .option_layer(throttle)
            .layer(breakers)
            .layer(
                AttemptTimeoutLayer::new(self.attempt_timeout)
                    .map_err(in_section("client.attempt_timeout"))?,
            )
            .layer(SendDeadlineLayer::unenforced())
            .service(inner.map_err(Into::into));
        Ok((BoxCloneSyncService::new(service), budget))
    }
}

/// Gives `request` a deadline `total` from now, unless it carries (or its task runs under)
/// an earlier one: the total timeout travels downstream and bounds the retries.
pub(crate) fn with_deadline<B>(mut request: http::Request<B>, total: Duration) -> http::Request<B> {
    let ours = Deadline::after(total);
    let inherited = request
        .extensions()
        .get::<Deadline>()
        .copied()
        .or_else(Deadline::current);
    let deadline = inherited.map_or(ours, |d| d.min(ours));
    request.extensions_mut().insert(deadline);
    request
}

/// A `reqwest::Client` behind one of the standard pipelines: a [`StandardClient`] or a
/// [`HedgingClient`](super::HedgingClient). `T` is the part of the pipeline it lets you look
/// at: the client pipeline's retry budget, the hedging pipeline's hedge layer.
///
/// Build requests with reqwest as usual and send them with [`execute`](Self::execute); or
/// use it as a tower service of `http::Request<reqwest::Body>`. Clones share the
/// connection pool and every layer's state (limits, budgets, breakers, latency windows).
#[derive(Clone)]
pub struct PipelineClient<T> {
    client: reqwest::Client,
    service: BoxClient<reqwest::Body, reqwest::Body>,
    inspect: T,
}

/// A `reqwest::Client` behind the standard pipeline, built by [`ClientConfig::build`]; its
/// [`budget`](PipelineClient::budget) is the retry budget every clone draws on.
pub type StandardClient = PipelineClient<Arc<RetryBudget>>;

impl<T> PipelineClient<T> {
    /// `client` behind the pipeline `pipeline` builds around it.
    pub(crate) fn build(
        client: reqwest::Client,
        pipeline: impl FnOnce(
            ReqwestService,
        )
            -> Result<(BoxClient<reqwest::Body, reqwest::Body>, T), ConfigError>,
    ) -> Result<Self, ConfigError> {
        let (service, inspect) = pipeline(ReqwestService::new(client.clone()))?;
        Ok(Self {
            client,
            service,
            inspect,
        })
    }

    /// Sends `request` through the pipeline.
    ///
    /// # Errors
    ///
    /// reqwest's error for a request that could not be sent (after the retries or hedges it
    /// was worth), or a Seawall rejection: `DeadlineExceeded` (the total timeout),
    /// `CircuitOpen`, `Overloaded` (the concurrency limit), `AttemptTimedOut`. An answer with
    /// an error status is a response, as with reqwest.
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, BoxError> {
        let request = crate::http::client::from_reqwest(request)?;
        let response = self.service.clone().oneshot(request).await?;
        Ok(reqwest::Response::from(response))
    }

    /// Sends an `http::Request` through the pipeline.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    pub async fn send<B: Into<reqwest::Body>>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<reqwest::Body>, BoxError> {
        self.service.clone().oneshot(request.map(Into::into)).await
    }

    /// The `reqwest::Client` underneath, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// The part of the pipeline this client lets you look at.
    pub(crate) fn inspect(&self) -> &T {
        &self.inspect
    }
}

impl StandardClient {
    /// The retry budget every clone draws on.
    pub fn budget(&self) -> &Arc<RetryBudget> {
        &self.inspect
    }
}

impl<T: fmt::Debug> fmt::Debug for PipelineClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineClient")
            .field("inspect", &self.inspect)
            .finish_non_exhaustive()
    }
}

impl<T> Service<http::Request<reqwest::Body>> for PipelineClient<T> {
    type Response = http::Response<reqwest::Body>;
    type Error = BoxError;
    type Future =
        <BoxClient<reqwest::Body, reqwest::Body> as Service<http::Request<reqwest::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<reqwest::Body>) -> Self::Future {
        self.service.call(request)
    }
}
