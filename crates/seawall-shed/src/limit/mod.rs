//! Concurrency limits: how many requests may be in flight at once, fixed or learned.
//!
//! A [`Limit`] is told about every finished request that the shedding layer admitted (a
//! [`Sample`]: how long it took, how many were in flight, whether it was dropped) and answers
//! with the limit to enforce. The layer reads the limit with one atomic load per admission;
//! the algorithm runs only when a request ends, behind a lock the admission path never takes.
//!
//! | limit | reacts to | defaults | from |
//! |---|---|---|---|
//! | [`Fixed`] | nothing | — | tower's `ConcurrencyLimit` |
//! | [`Aimd`] | drops (and samples slower than a timeout) | 20 (min 20, max 200), backoff 0.9, timeout 5 s | Netflix `AIMDLimit` |
//! | [`Vegas`] | estimated queue from latency over the no-load latency; drops | 20 (max 1000), α = 3·log₁₀L, β = 6·log₁₀L, probe every 30·L samples | Netflix `VegasLimit` |
//! | [`Gradient2`] | short-term latency over a long-term average | 20 (min 20, max 200), smoothing 0.2, tolerance 1.5, queue 4, long window 600 | Netflix `Gradient2Limit` |
//! | [`GradientController`] | the median latency of each 100 ms over a minimum RTT measured at a pinned low limit | min concurrency 3, 50 samples per minRTT, every 60 s + up to 10%, buffer 25%, max 1000, updates every 100 ms | Envoy's adaptive concurrency filter |
//!
//! [`Windowed`] feeds any of them one averaged sample per second, as Netflix's
//! `WindowedLimit`. Vegas and Gradient2 need it: fed every request's latency they mistake
//! its noise for a queue (Vegas holds the limit far below capacity) or drift upward
//! (Gradient2); the figures are in `docs/benchmarks.md`.
//!
//! Each algorithm says where it differs from the original.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

mod aimd;
mod envoy;
mod gradient2;
mod vegas;
mod windowed;

pub use aimd::{Aimd, AimdBuilder};
pub use envoy::{GradientController, GradientControllerBuilder};
pub use gradient2::{Gradient2, Gradient2Builder};
pub use vegas::{Vegas, VegasBuilder};
pub use windowed::Windowed;

/// One finished request, as a [`Limit`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// When it ended.
    pub now: Instant,
    /// How long it was in flight: from admission to its end (for HTTP with
    /// `hold_to_body_end`, to the end of the response body).
    pub rtt: Duration,
    /// Requests in flight when it was admitted, itself included.
    pub in_flight: usize,
    /// Whether it was dropped: it timed out or was rejected below (classified as a failure).
    pub dropped: bool,
}

/// A concurrency limit that may learn from the requests it admitted.
///
/// # Implementing
///
/// `update` runs once per finished request, under a lock that admission never takes, so it
/// may keep state; it should be cheap and must not block. `limit` is read after each update
/// and published to the admission path. A limit below 1 is treated as 1.
pub trait Limit: fmt::Debug + Send + 'static {
    /// The limit to enforce now.
    fn limit(&self) -> usize;

    /// Learns from one finished request.
    fn update(&mut self, sample: Sample);

    /// Whether it learns at all (default `true`). A limit that answers `false` is never sent
    /// samples, so admission and release read no clock and take no lock.
    fn learns(&self) -> bool {
        true
    }
}

/// A limit that never changes: tower's `ConcurrencyLimit`, but rejecting instead of queueing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed(usize);

impl Fixed {
    /// A fixed limit of `n` requests in flight (at least 1).
    pub fn new(n: usize) -> Self {
        Self(n.max(1))
    }
}

impl Limit for Fixed {
    fn limit(&self) -> usize {
        self.0
    }

    fn update(&mut self, _sample: Sample) {}

    fn learns(&self) -> bool {
        false
    }
}

/// Checks a ratio-like knob: finite and within `low..=high`.
pub(crate) fn check_range(
    field: &str,
    value: f64,
    low: f64,
    high: f64,
) -> Result<(), seawall_core::ConfigError> {
    if value.is_finite() && value >= low && value <= high {
        Ok(())
    } else {
        Err(seawall_core::ConfigError::new(format!(
            "{field} must be in {low}..={high}, got {value}"
        )))
    }
}

/// Checks `min <= initial <= max` and `min >= 1` for a limit's bounds.
pub(crate) fn check_bounds(
    initial: usize,
    min: usize,
    max: usize,
) -> Result<(), seawall_core::ConfigError> {
    if min == 0 || min > max {
        return Err(seawall_core::ConfigError::new(format!(
            "min_limit must be in 1..=max_limit ({max}), got {min}"
        )));
    }
    if initial < min || initial > max {
        return Err(seawall_core::ConfigError::new(format!(
            "initial_limit must be in min_limit..=max_limit ({min}..={max}), got {initial}"
        )));
    }
    Ok(())
}
