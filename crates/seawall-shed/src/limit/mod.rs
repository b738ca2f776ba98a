//! Concurrency limits: how many requests may be in flight at once, fixed or learned.
//!
//! A [`Limit`] is told about the finished requests that the shedding layer admitted (a
//! [`Sample`]: how long it took, how many were in flight, whether it was dropped), one by one
//! or a window at a time, and answers with the limit to enforce. The layer reads the limit
//! with one atomic load per admission; the algorithm runs only when a request ends, behind a
//! lock the admission path never takes.
//!
//! | limit | reacts to | defaults | from |
//! |---|---|---|---|
//! | [`Fixed`] | nothing | — | tower's `ConcurrencyLimit` |
//! | [`Aimd`] | drops, and a window's latency over 1.5× the lowest seen | 20 (min 20, max 200), backoff 0.9, 100 ms windows | Netflix `AIMDLimit` |
//! | [`Vegas`] | estimated queue from latency over the no-load latency; drops | 20 (max 1000), α = 3·log₁₀L, β = 6·log₁₀L, probe every 30·L windows, 1 s windows | Netflix `VegasLimit` |
//! | [`Gradient2`] | short-term latency over a long-term average | 20 (min 20, max 200), smoothing 0.2, tolerance 1.5, queue 4 (√L while no queue shows), long window 10 minutes, 100 ms windows | Netflix `Gradient2Limit` |
//! | [`GradientController`] | the median latency of each 100 ms over a minimum RTT measured at a pinned low limit | min concurrency 3, 50 samples per minRTT, every 60 s + up to 10%, buffer 25%, max 1000, updates every 100 ms | Envoy's adaptive concurrency filter |
//!
//! # Windows
//!
//! The shedding layer feeds [`Aimd`], [`Vegas`] and [`Gradient2`] one sample per window (their
//! [`Limit::sample_window`]): the mean latency of the requests that ended in it, the most in
//! flight, and a drop if any dropped, as Netflix's `WindowedLimit` does around a limit.
//! Netflix feeds its limits every request unless wrapped; here the window is the default,
//! because fed every request's latency these algorithms misread its noise: Vegas compares
//! each sample with the lowest ever seen and takes the noise for a queue (the limit sat at
//! 43% of capacity in the 2× overload figure), Gradient2's 600-sample long average follows
//! the queue it should measure and the limit drifts up (p99 2.4× the unloaded one), and
//! AIMD's latency rule would fire on single slow requests. A builder's `window(Duration::ZERO)`
//! gives Netflix's per-request feeding back. [`Windowed`] does the same for a limit of your
//! own. The figures are in the repository's `docs/benchmarks.md`.
//!
//! A window's mean is measured as well by a share of its requests as by all of them: once a
//! window holds more than 1,024 requests, the layer times only one admitted request in a
//! stride (a power of two, at most 64, set when each window ends), and the others read no
//! clock and take no lock, so admission costs what a fixed limit does. Drops are counted
//! whether timed or not. Below that rate (about 1,000 requests a second with 1 s windows)
//! every request is timed. Limits fed every request (window zero, [`GradientController`],
//! a [`Windowed`] wrapper) are timed on every request.
//!
//! Each algorithm says where else it differs from the original.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

mod aimd;
mod envoy;
mod gradient2;
mod vegas;
mod windowed;

pub(crate) use windowed::{Closed, Window};

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

    /// How the shedding layer feeds [`update`](Self::update): with the aggregate of each
    /// window of this length that holds at least 10 requests (the mean latency, the most in
    /// flight, a drop if any dropped; see [`Windowed`]), or, when zero (the default), with
    /// every request's own sample.
    fn sample_window(&self) -> Duration {
        Duration::ZERO
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

/// The `initial_limit`, `min_limit`, `max_limit` and `window` methods of a builder with
/// fields `initial`, `min`, `max` and `window`; the defaults are given for the docs.
macro_rules! builder_methods {
    ($initial:literal, $min:literal, $max:literal, $window:literal) => {
        /// The limit at start (default
        #[doc = concat!(stringify!($initial), ").")]
        pub fn initial_limit(mut self, n: usize) -> Self {
            self.initial = n;
            self
        }

        /// The lowest limit (default
        #[doc = concat!(stringify!($min), ").")]
        pub fn min_limit(mut self, n: usize) -> Self {
            self.min = n;
            self
        }

        /// The highest limit (default
        #[doc = concat!(stringify!($max), ").")]
        pub fn max_limit(mut self, n: usize) -> Self {
            self.max = n;
            self
        }

        /// How long a window of samples lasts: the limit learns from the mean of each
        /// window (default
        #[doc = concat!($window, ").")]
        /// `Duration::ZERO` feeds it every request's sample, as Netflix's limit unwrapped.
        pub fn window(mut self, window: std::time::Duration) -> Self {
            self.window = window;
            self
        }
    };
}
pub(crate) use builder_methods;

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
