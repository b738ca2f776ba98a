//! Seawall: resilience layers for tower HTTP services.
//!
//! Failures are certain in a distributed system — latency spikes, transient faults,
//! restarting hosts, overloaded dependencies — and at scale partial failure is the normal
//! mode. Seawall is a set of [`tower::Layer`](https://docs.rs/tower/latest/tower/trait.Layer.html)s
//! that keep an axum server or a hyper/reqwest client working through them: retry budgets,
//! circuit breaking, load shedding with adaptive concurrency, hedged requests, deadlines and
//! fault injection.
//!
//! This crate is the facade: it re-exports the member crates, each behind its own feature
//! (`full` turns on all of them).
//!
//! | module | feature | what it is |
//! |---|---|---|
//! | [`core`] | always | classification, typed rejections, rolling windows, events |
//! | `sim` | `sim` | the deterministic simulator: upstreams, load, summaries |
//! | `http` | `http` | replayable bodies, `Retry-After`, HTTP classification, rejections as responses, client adapters |
//! | `retry` | `retry` | retries with a lock-free budget, backoff with jitter, `Retry-After`, do-not-retry across tiers |
//! | `breaker` | `breaker` | a circuit breaker: every trip condition, exact half-open probes, per-key breakers |
//!
//! The `axum`, `hyper` and `reqwest` features turn on `http`'s integrations: `IntoResponse`
//! for rejection responses, and hyper-util's and reqwest's clients as tower services; with
//! `breaker`, `axum` also keys server-side breakers per matched route
//! (`breaker::keyed::axum`). A plain breaker in `Router::layer` is one breaker for every
//! route: see `docs/breakers.md` for where inbound and outbound breakers go.
//! `tests/http_stack.rs` in the repository shows a whole stack: an axum server with a
//! circuit breaker in `Router::layer` (open → 503 with `Retry-After`), called by a reqwest
//! client with replayable bodies and budgeted retries.
//!
//! The crate graph and the reasons for it are in `docs/architecture.md`.

#[doc(inline)]
pub use seawall_core as core;

#[cfg(feature = "sim")]
#[doc(inline)]
pub use seawall_sim as sim;

#[cfg(feature = "http")]
#[doc(inline)]
pub use seawall_http as http;

#[cfg(feature = "retry")]
#[doc(inline)]
pub use seawall_retry as retry;

#[cfg(feature = "breaker")]
#[doc(inline)]
pub use seawall_breaker as breaker;
