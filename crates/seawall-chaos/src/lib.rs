//! Fault injection for tower services: errors, HTTP outcomes, latency, aborts and
//! behaviour hooks, at a seeded rate, targeted by predicate or header, switched at runtime.
//!
//! # Why inject faults
//!
//! A retry budget, a breaker or a timeout is only as good as the last time it was seen
//! working, and the failures it exists for are rare by design. Injecting them on purpose —
//! in a test, in the lab, or in a running system under an operator's control — shows
//! whether the resilience around a call does what it claims before a real outage does.
//! Polly's chaos strategies (formerly Simmy) and Envoy's fault filter are the models:
//!
//! | layer | injects | like |
//! |---|---|---|
//! | [`InjectFaultLayer`] | an error of your choosing, without calling the inner service | Polly's fault |
//! | `InjectOutcomeLayer` (feature `http`) | an HTTP response with a chosen status, optionally `Retry-After` | Polly's outcome, Envoy's abort |
//! | [`InjectLatencyLayer`] | a delay before the call, fixed or from a [`Latency`](seawall_core::latency::Latency) distribution | Polly's latency, Envoy's delay |
//! | [`InjectAbortLayer`] | no answer: the call hangs, or fails so that hyper drops the connection ([`AbortMode`]) | Envoy's reset |
//! | [`InjectBehaviourLayer`] | a closure of yours, run before the call, which then proceeds | Polly's behaviour |
//!
//! Every layer takes an [`Injection`]: the share of requests to hit, a seeded generator,
//! a [`Target`] saying which requests may be hit (a closure, or with `http` a
//! `HeaderTarget`: only requests carrying a header, as Envoy does), and a runtime switch,
//! the [`ChaosHandle`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), seawall_core::ConfigError> {
//! use seawall_chaos::{InjectFaultLayer, InjectedFault, Injection};
//! use seawall_core::BoxError;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! // One request in ten fails, the same ones on every run.
//! let injection = Injection::builder().rate(0.1).seed(42).build()?;
//! let layer = InjectFaultLayer::new(injection, InjectedFault::new);
//! let handle = layer.handle();
//! let service = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
//!
//! let mut failed = 0;
//! for i in 0..1000 {
//!     if service.clone().oneshot(i).await.is_err() {
//!         failed += 1;
//!     }
//! }
//! assert!((60..140).contains(&failed), "{failed}");
//!
//! // The operator turns it off: every clone of the service stops injecting.
//! handle.disable();
//! assert!(service.clone().oneshot(1).await.is_ok());
//! # Ok(())
//! # }
//! ```
//!
//! # Knobs
//!
//! | knob | default | why |
//! |---|---|---|
//! | [`rate`](InjectionBuilder::rate) | 0.001 ([`DEFAULT_RATE`]) | Polly's default: rare enough to leave a system usable; raise it on purpose. Checked: 0..=1 |
//! | [`enabled`](InjectionBuilder::enabled) | `true` | as Polly; build with `false` to arm a layer that an operator turns on later through the [`ChaosHandle`] |
//! | [`seed`](InjectionBuilder::seed) | from entropy | give a seed in tests and simulations: the same seed injects into the same requests (in call order). Without one, `seawall-sim`'s determinism guard notices |
//! | [`target`](InjectionBuilder::target) | every request | a closure `Fn(&Req) -> bool`, or `HeaderTarget` |
//! | [`name`](InjectionBuilder::name) | none | tells apart the events of two injections |
//!
//! The rate applies to the requests the target matches; the others pass through and draw
//! nothing. The [`ChaosHandle`] changes the rate and the switch at runtime, for every clone
//! of the layer and its services at once.
//!
//! # Observation
//!
//! Every injection is a `DEBUG` tracing event with `layer = "chaos"` and `event` one of
//! `fault`, `outcome`, `latency`, `abort`, `behaviour` (see `seawall_core::Events`); with the
//! `metrics` feature it also counts in `seawall_events_total`. A request that is not injected
//! emits nothing.
//!
//! # Cost when off
//!
//! The switch is one relaxed atomic load and a branch before the inner call: switched off,
//! a layer neither draws from the generator nor counts anything, clones nothing and
//! allocates nothing. The fault, abort and behaviour layers then cost what a hand-written
//! load and branch costs; the latency layer a little more (its future's drop stays a call
//! the compiler does not inline), and the outcome layer moves the HTTP response through its
//! own future (`benches/chaos.rs` and `benches/instructions.rs`, figures beside the bare
//! service in `docs/benchmarks.md`). Enabled, a matching request costs the target, one more
//! load and one `fetch_add` on the shared generator: no lock; an injected delay allocates
//! its timer once.
//!
//! # Header targeting is off unless you build it
//!
//! No layer reads any header unless its injection has a `HeaderTarget`. A header target
//! lets a client choose failures, so strip the header at the edge, and arm such layers
//! disabled until an operator enables them.
//!
//! # Clone
//!
//! Layers, services, [`Injection`] and [`ChaosHandle`] share one switch, one rate and one
//! generator across clones (behind an `Arc`): axum clones a service per request, and the
//! rate still holds over all of them.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod abort;
mod behaviour;
mod error;
mod fault;
pub mod future;
mod injection;
mod latency;
#[cfg(feature = "http")]
mod outcome;

pub use abort::{AbortMode, InjectAbort, InjectAbortLayer};
pub use behaviour::{InjectBehaviour, InjectBehaviourLayer};
pub use error::{Aborted, InjectedFault};
pub use fault::{InjectFault, InjectFaultLayer};
pub use injection::{ChaosHandle, Everything, Injection, InjectionBuilder, Target, DEFAULT_RATE};
pub use latency::{InjectLatency, InjectLatencyLayer};
#[cfg(feature = "http")]
pub use outcome::{HeaderTarget, InjectOutcome, InjectOutcomeLayer};
