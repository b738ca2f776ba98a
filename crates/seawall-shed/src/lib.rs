//! Load shedding for tower services.
//!
//! - [`ShedLayer`]: a concurrency limit that refuses at once when full (optionally after a
//!   short bounded wait), with the limit fixed or learned by an adaptive [`Limit`]
//!   ([`Aimd`](limit::Aimd), [`Vegas`](limit::Vegas), [`Gradient2`](limit::Gradient2),
//!   Envoy's [`GradientController`](limit::GradientController)), and [priorities](Priority)
//!   with a reserved share of the limit per class. See the [`shed`] module.
//! - [`ThrottleLayer`]: client-side adaptive throttling from Google's SRE book, so a backend
//!   that is already refusing work is not also made to spend work on refusals. See the
//!   [`throttle`] module.
//!
//! Every rejection is a [`seawall_core::rejection::Overloaded`]; through `seawall-http`'s
//! `RejectionResponseLayer` it is a 503 with `Retry-After`.
//!
//! # Events
//!
//! Each refusal is a `DEBUG` tracing event on the target **`seawall::shed`** with
//! `event = "shed"` and a `reason`: `over_limit` (no queue), `queue_full`, `queue_timeout`
//! or `displaced` (pushed out of the queue by a more important request); with
//! `seawall-core`'s `metrics` feature it also counts in `seawall_events_total`. The
//! repository's `docs/telemetry.md` lists every event and metric.

mod controller;
pub mod limit;
mod priority;
pub mod shed;
pub mod throttle;

pub use controller::ShedPermit;
pub use limit::Limit;
#[cfg(feature = "http")]
pub use priority::FromHeader;
pub use priority::{AllNormal, Prioritize, Priority};
pub use shed::{Shed, ShedBuilder, ShedLayer};
pub use throttle::{Throttle, ThrottleLayer};
