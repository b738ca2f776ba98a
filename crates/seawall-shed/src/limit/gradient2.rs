//! Latency-gradient limit, as Netflix's `Gradient2Limit`.

use std::time::Duration;

use seawall_core::ConfigError;

use super::{builder_methods, check_bounds, check_range, Limit, Sample};

/// Compares each latency sample with a long-term exponential average of latency: while the
/// sample is within `tolerance ×` the average, the limit grows (smoothed); when it is slower,
/// the limit shrinks in proportion (at most by half per step, before smoothing).
///
/// `gradient = clamp(tolerance × long / short, 0.5, 1)`, `new = L × gradient + headroom`,
/// `L ← L × (1 − smoothing) + new × smoothing`, clamped to the bounds. The headroom is
/// `queue_size`, or `max(queue_size, √L)` while the sample is within 10% of the long average
/// (see below). When the long average is more than twice the sample (the latency fell), the
/// average decays by 5% per sample so the limit can recover. Samples taken while less than
/// half the limit is in use change nothing. Drops are ignored, as in Netflix's.
///
/// Defaults, as Netflix's `Gradient2Limit`: initial 20, min 20, max 200, smoothing 0.2,
/// tolerance 1.5, queue size 4, a long window of 10 minutes (Netflix's 600 samples of its
/// default 1 s `WindowedLimit`; averaged plainly for the first 10). Seawall's: windows of
/// 100 ms (so the long window is 6,000 of them), growth by √L while there is no queue.
///
/// Differences from Netflix:
/// - **It learns from windows** (default 100 ms; see [the module](super)). Fed every
///   request's latency, 600 samples are well under a second at a few hundred requests a
///   second: the long average follows the queue it should measure, and the limit drifts up
///   (accepted p99 2.4× the unloaded one in the 2× overload figure).
///   `window(Duration::ZERO)` feeds it every request, as Netflix's unwrapped, with a long
///   window of 600 requests.
/// - **It grows by √L while there is no queue** (a window's latency within 10% of the long
///   average), as Envoy's controller and Netflix's first `GradientLimit` do, and by
///   `queue_size` once latency rises. Fed one sample per window, Netflix's constant 4 grows
///   the limit by at most 0.8 a window: with 1 s windows a 100-worker service was at 40% of
///   its capacity after 40 s, with 100 ms windows it took 10 s to reach 90%; by √L it takes
///   6 s (16 s for 400 workers, with `max_limit` raised). Where the limit settles is still set
///   by `tolerance` and `queue_size`, not by √L (growth by √L in every window settled higher:
///   accepted p99 58 ms against 56 ms at 2× overload of 20 workers, the bar 60 ms).
///   `sqrt_growth(false)` gives Netflix's constant growth.
/// - **The first 10 windows only measure the long average**; the limit holds. Otherwise a
///   limit that grows in the first second takes its own queue into the average it measures
///   against, and settles that much higher.
/// - `queue_size` is a number, not a function of the limit as Netflix's builder allows.
///
/// **Under sustained overload it drifts**, as Netflix's does: where it settles, latency is
/// about `tolerance ×` the long average, which the average then follows with its 10-minute
/// time constant. At 2× overload of 20 workers the worst second's accepted p99 was 59, 64
/// and 68 ms in the first three minutes (the bar of 1.5× the unloaded p99 is 60 ms); the
/// repository's `docs/benchmarks.md` has the figures.
#[derive(Clone, Debug)]
pub struct Gradient2 {
    limit: f64,
    window: Duration,
    min: usize,
    max: usize,
    smoothing: f64,
    tolerance: f64,
    queue_size: f64,
    sqrt_growth: bool,
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
    sqrt_growth: bool,
    /// `None`: 10 minutes of windows (600 samples when fed every request).
    long_window: Option<u32>,
}

const WARMUP: u32 = 10;
/// A sample within this factor of the long average shows no queue: the limit may grow by √L.
const NO_QUEUE: f64 = 1.1;
/// The long window's default length: Netflix's 600 samples of its default 1 s windows.
const LONG_WINDOW: Duration = Duration::from_secs(600);

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
            window: Duration::from_millis(100),
            min: 20,
            max: 200,
            smoothing: 0.2,
            tolerance: 1.5,
            queue_size: 4,
            sqrt_growth: true,
            long_window: None,
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
            sqrt_growth: b.sqrt_growth,
            long_window: b.long_window_samples(),
            long: 0.0,
            samples: 0,
        }
    }
}

impl Gradient2Builder {
    builder_methods!(20, 20, 200, "100 ms");

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

    /// Whether the limit grows by `√limit` (at least `queue_size`) while a sample is within
    /// 10% of the long average, i.e. before a queue shows (default `true`); `false` grows it
    /// by `queue_size` alone, as Netflix's.
    pub fn sqrt_growth(mut self, on: bool) -> Self {
        self.sqrt_growth = on;
        self
    }

    /// The long-term average's window, in samples (default: 10 minutes of windows, 6,000 of
    /// the default 100 ms; 600, Netflix's, when fed every request).
    pub fn long_window(mut self, samples: u32) -> Self {
        self.long_window = Some(samples);
        self
    }

    fn long_window_samples(&self) -> u32 {
        self.long_window.unwrap_or_else(|| {
            if self.window.is_zero() {
                600
            } else {
                let windows = LONG_WINDOW.as_secs_f64() / self.window.as_secs_f64();
                windows
                    .round()
                    .clamp(f64::from(WARMUP), f64::from(u32::MAX)) as u32
            }
        })
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
        if self.long_window_samples() < WARMUP {
            return Err(ConfigError::new(format!(
                "long_window must be at least {WARMUP} samples, got {}",
                self.long_window_samples()
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
            // The limit holds while the long average is first measured.
            self.long += (short - self.long) / f64::from(self.samples);
            return;
        }
        let factor = 2.0 / (f64::from(self.long_window) + 1.0);
        self.long = self.long * (1.0 - factor) + short * factor;
        if self.long / short > 2.0 {
            self.long *= 0.95;
        }
        if (sample.in_flight as f64) < self.limit / 2.0 {
            return;
        }
        let gradient = (self.tolerance * self.long / short).clamp(0.5, 1.0);
        let headroom = if self.sqrt_growth && short <= self.long * NO_QUEUE {
            self.limit.sqrt().max(self.queue_size)
        } else {
            self.queue_size
        };
        let target = self.limit * gradient + headroom;
        let limit = self.limit * (1.0 - self.smoothing) + target * self.smoothing;
        self.limit = limit.clamp(self.min as f64, self.max as f64);
    }
}
