//! Latency-gradient limit, as Netflix's `Gradient2Limit`.

use std::time::Duration;

use seawall_core::ConfigError;

use super::{builder_methods, check_bounds, check_range, Limit, Sample};

/// Compares each latency sample with a long-term exponential average of latency: while the
/// sample is within `tolerance ×` the average, the limit grows by `queue_size` per sample
/// (smoothed); when it is slower, the limit shrinks in proportion (at most by half per step,
/// before smoothing).
///
/// `gradient = clamp(tolerance × long / short, 0.5, 1)`, `new = L × gradient + queue_size`,
/// `L ← L × (1 − smoothing) + new × smoothing`, clamped to the bounds. When the long average
/// is more than twice the sample (the latency fell), the average decays by 5% per sample so
/// the limit can recover. Samples taken while less than half the limit is in use change
/// nothing. Drops are ignored, as in Netflix's.
///
/// Defaults, as Netflix's `Gradient2Limit`: initial 20, min 20, max 200, smoothing 0.2,
/// tolerance 1.5, queue size 4, long window 600 samples (averaged plainly for the first 10);
/// windows of 1 s.
///
/// Differences from Netflix:
/// - **It learns from windows** (default 1 s, Netflix's `WindowedLimit`; see
///   [the module](super)), so the long window of 600 samples is 10 minutes. Fed every
///   request's latency, 600 samples are well under a second at a few hundred requests a
///   second: the long average follows the queue it should measure, and the limit drifts up
///   (accepted p99 2.4× the unloaded one in the 2× overload figure).
///   `window(Duration::ZERO)` feeds it every request, as Netflix's unwrapped.
/// - The queue size is a constant, not a function of the limit.
///
/// **It climbs slowly**: by at most `queue_size × smoothing` (0.8) a window, so 0.8 a second
/// at the defaults. From its initial 20 it follows a service that doubles from 20 to 40
/// workers in 5–10 s, but one that needs a limit over 100 takes minutes (40% of a
/// 100-worker service's capacity after 40 s; the repository's `docs/benchmarks.md`). Shorter windows climb
/// faster but let the limit drift up (250 ms windows with a 2,400-window long average: p99
/// 58–60 ms at 2× overload, at the bar). For such a service set `initial_limit` near the
/// concurrency it needs, or use [`Vegas`](super::Vegas), [`Aimd`](super::Aimd) or the
/// [`GradientController`](super::GradientController).
#[derive(Clone, Debug)]
pub struct Gradient2 {
    limit: f64,
    window: Duration,
    min: usize,
    max: usize,
    smoothing: f64,
    tolerance: f64,
    queue_size: f64,
    long_window: u32,
    long: f64,
    samples: u32,
}

/// Builds a [`Gradient2`] limit.
#[derive(Clone, Debug)]
pub struct Gradient2Builder {
    initial: usize,
    window: Duration,
    min: usize,
    max: usize,
    smoothing: f64,
    tolerance: f64,
    queue_size: usize,
    long_window: u32,
}

const WARMUP: u32 = 10;

impl Default for Gradient2 {
    fn default() -> Self {
        Self::from_builder(&Self::builder())
    }
}

impl Gradient2 {
    /// Starts from the defaults.
    pub fn builder() -> Gradient2Builder {
        Gradient2Builder {
            initial: 20,
            window: Duration::from_secs(1),
            min: 20,
            max: 200,
            smoothing: 0.2,
            tolerance: 1.5,
            queue_size: 4,
            long_window: 600,
        }
    }

    fn from_builder(b: &Gradient2Builder) -> Self {
        Self {
            limit: b.initial as f64,
            window: b.window,
            min: b.min,
            max: b.max,
            smoothing: b.smoothing,
            tolerance: b.tolerance,
            queue_size: b.queue_size as f64,
            long_window: b.long_window,
            long: 0.0,
            samples: 0,
        }
    }
}

impl Gradient2Builder {
    builder_methods!(20, 20, 200, "1 s");

    /// How much of each step to take, in (0, 1] (default 0.2).
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// How much slower than the long-term average a sample may be before the limit shrinks,
    /// at least 1 (default 1.5).
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// How much the limit may grow per sample while latency is within tolerance (default 4).
    pub fn queue_size(mut self, n: usize) -> Self {
        self.queue_size = n;
        self
    }

    /// The long-term average's window, in samples (default 600).
    pub fn long_window(mut self, samples: u32) -> Self {
        self.long_window = samples;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: bounds out of order, `smoothing` outside
    /// 0.01..=1, `tolerance` outside 1..=10, `long_window` under 10.
    pub fn build(self) -> Result<Gradient2, ConfigError> {
        check_bounds(self.initial, self.min, self.max)?;
        check_range("smoothing", self.smoothing, 0.01, 1.0)?;
        check_range("tolerance", self.tolerance, 1.0, 10.0)?;
        if self.long_window < WARMUP {
            return Err(ConfigError::new(format!(
                "long_window must be at least {WARMUP} samples, got {}",
                self.long_window
            )));
        }
        Ok(Gradient2::from_builder(&self))
    }
}

impl Limit for Gradient2 {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn sample_window(&self) -> Duration {
        self.window
    }

    fn update(&mut self, sample: Sample) {
        let short = sample.rtt.as_secs_f64().max(1e-9);
        self.samples = self.samples.saturating_add(1);
        if self.samples <= WARMUP {
            self.long += (short - self.long) / f64::from(self.samples);
        } else {
            let factor = 2.0 / (f64::from(self.long_window) + 1.0);
            self.long = self.long * (1.0 - factor) + short * factor;
        }
        if self.long / short > 2.0 {
            self.long *= 0.95;
        }
        if (sample.in_flight as f64) < self.limit / 2.0 {
            return;
        }
        let gradient = (self.tolerance * self.long / short).clamp(0.5, 1.0);
        let target = self.limit * gradient + self.queue_size;
        let limit = self.limit * (1.0 - self.smoothing) + target * self.smoothing;
        self.limit = limit.clamp(self.min as f64, self.max as f64);
    }
}
