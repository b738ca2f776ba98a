//! Additive increase, multiplicative decrease, after Netflix's `AIMDLimit`.

use std::time::Duration;

use seawall_core::ConfigError;

use super::{builder_methods, check_bounds, check_range, Limit, Sample};

/// Additive increase, multiplicative decrease: the limit grows by one for each window taken
/// while at least half the limit was in use, and is multiplied by `backoff` for each window
/// with a drop, slower than `timeout`, or slower than `latency_tolerance ×` the lowest window
/// latency seen.
///
/// Defaults: initial 20, min 20, max 200, backoff 0.9, timeout 5 s (Netflix's `AIMDLimit`);
/// latency tolerance 1.5, windows of 100 ms.
///
/// Differences from Netflix:
/// - **It also backs off on latency.** Netflix's AIMD learns only from drops: in front of a
///   server that queues and never times out, it climbs to its maximum, and in the 2× overload
///   figure its accepted p99 was 5.7× the unloaded one. Here a window whose mean latency is
///   over `latency_tolerance` (1.5) × the lowest window mean seen also counts as a drop, so
///   the limit saws between the concurrency that keeps the server busy and the one that
///   queues half a service time more. `latency_tolerance(None)` gives Netflix's rule.
/// - The lowest latency is measured again when it is stale: when five windows in a row at
///   the minimum limit are still over the tolerance (the service itself got slower), the
///   last window's latency becomes the lowest (as Envoy re-measures its minimum RTT when
///   its limit sits at the minimum).
/// - **It learns from windows** (default 100 ms; see [the module](super)): one sample a
///   window, so it grows by up to 10 a second. Windows of 1 s (Netflix's `WindowedLimit`)
///   grow it by 1 a second, too slowly to follow capacity that doubles;
///   `window(Duration::ZERO)` feeds it every request, as Netflix's unwrapped.
/// - The limit is an integer truncated after each backoff, as Netflix's.
///
/// Netflix's maximum of 200 is kept: a service that needs more in flight needs `max_limit`.
#[derive(Clone, Debug)]
pub struct Aimd {
    config: AimdBuilder,
    limit: usize,
    lowest: Option<Duration>,
    /// Windows in a row at the minimum limit and over the tolerance.
    stale: u32,
}

/// Builds an [`Aimd`] limit.
#[derive(Clone, Debug)]
pub struct AimdBuilder {
    initial: usize,
    min: usize,
    max: usize,
    backoff: f64,
    timeout: Duration,
    tolerance: Option<f64>,
    window: Duration,
}

/// Windows at the minimum limit, over the tolerance, after which the lowest latency is
/// taken again.
const STALE: u32 = 5;

impl Default for Aimd {
    fn default() -> Self {
        Self::from_builder(&Self::builder())
    }
}

impl Aimd {
    /// Starts from the defaults.
    pub fn builder() -> AimdBuilder {
        AimdBuilder {
            initial: 20,
            min: 20,
            max: 200,
            backoff: 0.9,
            timeout: Duration::from_secs(5),
            tolerance: Some(1.5),
            window: Duration::from_millis(100),
        }
    }

    fn from_builder(b: &AimdBuilder) -> Self {
        Self {
            config: b.clone(),
            limit: b.initial,
            lowest: None,
            stale: 0,
        }
    }

    /// The lowest (window) latency seen, that the latency rule compares with.
    pub fn lowest_latency(&self) -> Option<Duration> {
        self.lowest
    }
}

impl AimdBuilder {
    builder_methods!(20, 20, 200, "100 ms");

    /// The factor applied on a drop, in 0.5..1 (default 0.9).
    pub fn backoff(mut self, ratio: f64) -> Self {
        self.backoff = ratio;
        self
    }

    /// A sample slower than this counts as a drop (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A sample slower than this many times the lowest latency seen counts as a drop, in
    /// 1..=10 (default `Some(1.5)`); `None` backs off on drops and `timeout` only, as
    /// Netflix's `AIMDLimit`.
    pub fn latency_tolerance(mut self, tolerance: Option<f64>) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: bounds out of order, `backoff` outside
    /// 0.5..=0.999, a zero timeout, `latency_tolerance` outside 1..=10.
    pub fn build(self) -> Result<Aimd, ConfigError> {
        check_bounds(self.initial, self.min, self.max)?;
        check_range("backoff", self.backoff, 0.5, 0.999)?;
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout must be more than zero"));
        }
        if let Some(tolerance) = self.tolerance {
            check_range("latency_tolerance", tolerance, 1.0, 10.0)?;
        }
        Ok(Aimd::from_builder(&self))
    }
}

impl Limit for Aimd {
    fn limit(&self) -> usize {
        self.limit
    }

    fn sample_window(&self) -> Duration {
        self.config.window
    }

    fn update(&mut self, sample: Sample) {
        let slow = match (self.config.tolerance, self.lowest) {
            (Some(tolerance), Some(lowest)) => sample.rtt > lowest.mul_f64(tolerance),
            _ => false,
        };
        if !sample.dropped {
            self.lowest = Some(self.lowest.map_or(sample.rtt, |l| l.min(sample.rtt)));
        }
        if slow && self.limit == self.config.min {
            self.stale += 1;
            if self.stale >= STALE {
                self.lowest = Some(sample.rtt);
                self.stale = 0;
            }
        } else {
            self.stale = 0;
        }
        if sample.dropped || sample.rtt > self.config.timeout || slow {
            self.limit = (self.limit as f64 * self.config.backoff) as usize;
        } else if sample.in_flight * 2 >= self.limit {
            self.limit += 1;
        }
        self.limit = self.limit.clamp(self.config.min, self.config.max);
    }
}
