//! Standard pipelines: a resilient reqwest client, a hedging client and an axum server in a
//! few lines, with defaults that are argued for and a configuration checked once.
//!
//! # Why
//!
//! Each Seawall layer is right on its own, and wrong in the wrong place: a retry outside the
//! total timeout retries for ever, a breaker outside the retry counts one failure per
//! request instead of one per attempt, an attempt timeout above the breaker hides slow
//! calls from it, a deadline sent before the retries tells the upstream the wrong time
//! left. These pipelines put every layer where it works, the way Microsoft's
//! `AddStandardResilienceHandler` does for .NET, and check the whole configuration when
//! they are built, not at the first request.
//!
//! | pipeline | layers, outermost first |
//! |---|---|
//! | [`ClientConfig::build`] | deadline → concurrency limit → total timeout → replayable body → retry with budget → adaptive throttle (optional) → breaker per authority → attempt timeout → deadline header → reqwest |
//! | [`HedgingConfig::build`] | deadline → total timeout → replayable body → hedge with budget → breaker per authority → attempt timeout → deadline header → reqwest |
//! | [`ServerConfig::layer`] | rejections as responses → deadline → load shedding with priorities, the slot held to the response body's end → timeout → breaker per route (when configured) → handler |
//!
//! # A server and a client, three lines each
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), seawall::core::BoxError> {
//! use axum::{routing::get, Router};
//! use seawall::stack::{ClientConfig, ServerConfig};
//!
//! // The server: the router, and one line for the whole stack.
//! let app = Router::new().route("/", get(|| async { "hello" }));
//! let app = app.layer(ServerConfig::default().layer()?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let url = format!("http://{}/", listener.local_addr()?);
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! // The client: reqwest builds the request, the stack sends it.
//! let client = ClientConfig::default().build(reqwest::Client::new())?;
//! let request = client.reqwest().get(&url).build()?;
//! assert_eq!(client.execute(request).await?.text().await?, "hello");
//! # Ok(())
//! # }
//! ```
//!
//! (`axum::serve(listener, app)` serves it; the hidden lines spawn that and make `url`.)
//!
//! # From a file
//!
//! Every configuration reads TOML, with durations written `"250ms"`, `"30s"`, `"1m30s"`;
//! an unknown field or an out-of-range value is an error that names it:
//!
//! ```
//! use seawall::stack::ClientConfig;
//!
//! let config = ClientConfig::from_toml(r#"
//!     total_timeout = "5s"
//!     attempt_timeout = "1s"
//!     [retry]
//!     max_attempts = 2
//! "#).unwrap();
//! assert_eq!(config.attempt_timeout, std::time::Duration::from_secs(1));
//!
//! let error = ClientConfig::from_toml(r#"attempt_timeout = "20s""#).unwrap_err();
//! assert!(error.message().contains("client.attempt_timeout"), "{error}");
//! ```
//!
//! # Each layer from a file
//!
//! Every layer's settings read on their own too, and turn into the layer with
//! `into_layer()` (or `TryFrom`), checked by the layer's own builder: [`RetryConfig`],
//! [`BreakerConfig`] (plain or `into_keyed`), [`EndpointBreakerConfig`], [`ShedConfig`]
//! (with [`LimitConfig`] chosen by name and a [`QueueConfig`]), [`ThrottleConfig`],
//! [`HedgeConfig`], [`TimeoutConfig`], [`DeadlineConfig`], and with their features
//! `ChaosConfig` and `RateLimitConfig`. [`from_toml`] reads any of them.
//!
//! ```
//! use seawall::stack::{from_toml, ShedConfig};
//!
//! let shed: ShedConfig = from_toml(r#"
//!     limit = { algorithm = "aimd", initial_limit = 50, max_limit = 500 }
//!     queue = { capacity = 20, max_wait = "25ms" }
//! "#)?;
//! assert_eq!(shed.into_layer()?.limit(), 50);
//! # Ok::<(), seawall::core::ConfigError>(())
//! ```
//!
//! The guide `docs/stacks.md` gives every default and the reason for it, a configuration
//! reference with every key's default and range, and full files (each read and built by a
//! test).

mod breaker;
#[cfg(feature = "chaos")]
mod chaos;
mod client;
mod config;
mod hedging;
#[cfg(feature = "rate-limit")]
mod rate_limit;
mod retry;
mod server;
mod shed;
mod timeout;

pub use breaker::{BreakerConfig, EndpointBreakerConfig};
#[cfg(feature = "chaos")]
pub use chaos::ChaosConfig;
pub use client::{
    BoxClient, ClientBody, ClientConfig, HttpClientService, PipelineClient, StandardClient,
};
pub use config::from_toml;
pub use hedging::{HedgeConfig, HedgingClient, HedgingConfig};
#[cfg(feature = "rate-limit")]
pub use rate_limit::RateLimitConfig;
pub use retry::RetryConfig;
pub use server::{RouteKey, ServerConfig, ServerLayer, ServerService};
pub use shed::{
    CodelConfig, LimitConfig, QueueConfig, ShedConfig, ThrottleConfig, PRIORITY_HEADER,
};
pub use timeout::{DeadlineConfig, TimeoutConfig};
