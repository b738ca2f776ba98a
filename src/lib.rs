//! Seawall: resilience layers for tower HTTP services.
//!
//! Failures are certain in a distributed system — latency spikes, transient faults,
//! restarting hosts, overloaded dependencies — and at scale partial failure is the normal
//! mode. Seawall is a set of [`tower::Layer`](https://docs.rs/tower/latest/tower/trait.Layer.html)s
//! that keep an axum server or a hyper/reqwest client working through them: budgeted
//! retries, circuit breakers, load shedding with adaptive limits, hedged requests, timeouts
//! with deadline propagation, rate limiting, fault injection and the HTTP plumbing they
//! need, with standard stacks that assemble them and a deterministic simulator and a lab
//! that measure them (see the status below).
//!
//! This crate is the facade: it re-exports the member crates, each behind its own feature.
//!
//! | module | feature | what it is |
//! |---|---|---|
//! | [`core`] | always | classification, typed rejections, rolling windows, permit guards, events |
//! | `http` | `http` | replayable bodies, `Retry-After`, HTTP classification, rejections as responses, bodies that hold a permit to their end, client adapters |
//! | `retry` | `retry` | retries with a lock-free budget, backoff with jitter, `Retry-After`, do-not-retry across tiers |
//! | `breaker` | `breaker` | a circuit breaker: failure-count, failure-rate and slow-call trips, exact half-open probes, per-key breakers |
//! | `timeout` | `timeout` | a timeout that counts the wait for readiness, per-attempt timeouts, deadlines propagated across services (`grpc-timeout`, `seawall-deadline-ms`) |
//! | `chaos` | `chaos` | fault injection: errors, HTTP outcomes (with `http`), latency, aborts, behaviour hooks; seeded, targeted, switched at runtime |
//! | `hedge` | `hedge` | hedged requests: a delay from an unbiased latency percentile, the first acceptable answer wins, a budget shared with retries |
//! | `shed` | `shed` | load shedding: reject-not-queue limits, adaptive limits (AIMD, Vegas, Gradient2, Envoy's gradient), priorities, client-side throttling |
//! | `rate_limit` | `rate-limit` | rate limiting on governor's GCRA: one limiter shared by every clone, optionally one per key (peer IP, header, function) in a bounded table; 429 with the exact `Retry-After` |
//! | `sim` | `sim` | the deterministic simulator: upstreams, load, summaries (for tests; not in `full`) |
//! | `stack` | `stack` | standard pipelines: a reqwest client, a hedging client and an axum server in a few lines, configured in code or TOML, checked once (guide: `docs/stacks.md`) |
//! | `builder`, `prelude` | `builder`: any of `retry`, `breaker`, `shed`, `hedge`, `timeout`, `rate-limit`; `prelude`: always | `ServiceBuilder` extensions (`.with_retry(..)`, `.with_circuit_breaker(..)`, `.with_load_shed(..)`, `.with_hedge(..)`, `.with_timeout(..)`, `.with_deadline(..)`, `.with_rate_limit(..)`) and the names most stacks need |
//!
//! The `axum`, `hyper` and `reqwest` features turn on `http`'s integrations: `IntoResponse`
//! for rejection responses, and hyper-util's and reqwest's clients as tower services
//! (`reqwest-middleware` also runs a Seawall stack inside a `reqwest_middleware` client, so
//! requests are still sent with `.send()`: `http::client::middleware`);
//! with `breaker`, `axum` also keys server-side breakers per matched route
//! (`breaker::keyed::axum`). A plain breaker in `Router::layer` is one breaker for every
//! route: see `docs/breakers.md` for where inbound and outbound breakers go.
//! `metrics` adds counters and histograms through the `metrics` facade beside the tracing
//! events. `full` turns on every layer, every integration and `metrics`, but **not** `sim`:
//! the simulator brings hdrhistogram and tokio's `test-util`, which have no
//! place in a production build. Tests that use it enable `sim` beside `full`.
//!
//! # Status
//!
//! | layer | status |
//! |---|---|
//! | retry (budget, backoff with jitter, `Retry-After`, do-not-retry across tiers) | done |
//! | circuit breaker (plain and keyed, HTTP policy) | done |
//! | HTTP plumbing (replayable bodies, classification, rejections as responses, clients) | done |
//! | simulator and lab (`seawall-sim`, `seawall-lab`) | done |
//! | load shedding and adaptive concurrency (limits, priorities, client throttling) | done |
//! | hedged requests (adaptive delay, budget shared with retries, HTTP policy) | done |
//! | timeouts and deadline propagation (`grpc-timeout` on gRPC, `seawall-deadline-ms` on HTTP) | done |
//! | fault injection (errors, HTTP outcomes, latency, aborts, behaviour hooks; header targeting) | done |
//! | rate limiting (governor's GCRA, shared by every clone, keyed on a bounded table) | done |
//! | standard stacks (client, hedging client, server; TOML configuration; `ServiceBuilder` extensions) | done |
//!
//! `tests/http_stack.rs` in the repository shows a whole stack: an axum server with a
//! circuit breaker in `Router::layer` (open → 503 with `Retry-After`), called by a reqwest
//! client with replayable bodies and budgeted retries. `examples/reqwest_client.rs` is the
//! client side as a program you can run: `cargo run --example reqwest_client --features full`.
//!
//! One guide per layer (why it exists, how it decides, its defaults and how to observe it)
//! and a table of Polly's, resilience4j's, tower's and tower-resilience's options with their
//! names here are in [`guides`], their examples run as doctests.
//!
//! The crate graph and the reasons for it are in `docs/architecture.md`. Compile errors a
//! new user meets, and their fixes, are in the `common_errors` page (with the features it
//! needs: `retry`, `breaker`, `reqwest` and `axum`, all in `full`).

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

#[cfg(feature = "chaos")]
#[doc(inline)]
pub use seawall_chaos as chaos;
#[cfg(feature = "hedge")]
#[doc(inline)]
pub use seawall_hedge as hedge;
#[cfg(feature = "rate-limit")]
#[doc(inline)]
pub use seawall_ratelimit as rate_limit;
#[cfg(feature = "shed")]
#[doc(inline)]
pub use seawall_shed as shed;
#[cfg(feature = "timeout")]
#[doc(inline)]
pub use seawall_timeout as timeout;

/// Keeps the items it wraps only when at least one layer's feature is on: the builder
/// extension and its place in the prelude.
macro_rules! with_any_layer {
    ($($item:item)*) => {$(
        #[cfg(any(
            feature = "retry",
            feature = "breaker",
            feature = "shed",
            feature = "hedge",
            feature = "timeout",
            feature = "rate-limit"
        ))]
        $item
    )*};
}

with_any_layer! {
    pub mod builder;
}
pub mod guides;
pub mod prelude;
#[cfg(feature = "stack")]
pub mod stack;

#[cfg(all(
    feature = "retry",
    feature = "breaker",
    feature = "reqwest",
    feature = "axum"
))]
#[doc = include_str!("../docs/common-errors.md")]
pub mod common_errors {}
