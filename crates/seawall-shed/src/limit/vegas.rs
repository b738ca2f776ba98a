//! Delay-based limit after TCP Vegas, as Netflix's `VegasLimit`.

use std::time::Duration;

use seawall_core::rng::Rng;
use seawall_core::ConfigError;

use super::{builder_methods, check_bounds, check_range, Limit, Sample};

/// TCP Vegas applied to concurrency: it estimates the queue behind the limit as
/// `limit × (1 − rtt_noload / rtt)` and grows the limit while that queue is short, shrinks it
/// while it is long.
///
/// With `L` the limit, `q` the estimated queue and `lg = max(1, ⌊log₁₀L⌋)`: `q ≤ lg` →
/// `L + 6·lg`; `q < 3·lg` → `L + lg`; `q > 6·lg` → `L − lg`; a drop → `L − lg`.
/// Samples taken while less than half the limit is in use change nothing. `rtt_noload` is
/// the lowest latency seen, forgotten every `30 × L × jitter` samples (jitter in 0.5..1) so a
/// changed service is re-measured.
///
/// Defaults, as Netflix's `VegasLimit`: initial 20, max 1000, smoothing 1, probe multiplier 30;
/// min 1 and windows of 1 s.
///
/// Differences from Netflix:
/// - **It learns from windows** (default 1 s, Netflix's `WindowedLimit`; see
///   [the module](super)): fed every request's latency, it takes the latency's own noise
///   for a queue and holds the limit far below capacity (43% of it in the 2× overload
///   figure). `window(Duration::ZERO)` feeds it every request, as Netflix's unwrapped; the
///   probe then counts requests, not windows.
/// - A `min_limit` (default 1, Netflix's floor).
/// - The probe jitter is drawn from a seeded generator (default seed 0;
///   [`VegasBuilder::seed`]), so simulated runs repeat; there are no pluggable α/β functions.
#[derive(Clone, Debug)]
pub struct Vegas {
    limit: f64,
    min: usize,
    max: usize,
    window: Duration,
    smoothing: f64,
    probe_multiplier: f64,
    rtt_noload: Option<Duration>,
    probe_count: u64,
    probe_jitter: f64,
    rng: Rng,
}

/// Builds a [`Vegas`] limit.
#[derive(Clone, Debug)]
pub struct VegasBuilder {
    initial: usize,
    min: usize,
    max: usize,
    window: Duration,
    smoothing: f64,
    probe_multiplier: u32,
    seed: u64,
}

impl Default for Vegas {
    fn default() -> Self {
        Self::from_builder(&Self::builder())
    }
}

impl Vegas {
    /// Starts from the defaults.
    pub fn builder() -> VegasBuilder {
        VegasBuilder {
            initial: 20,
            min: 1,
            max: 1000,
            window: Duration::from_secs(1),
            smoothing: 1.0,
            probe_multiplier: 30,
            seed: 0,
        }
    }

    fn from_builder(b: &VegasBuilder) -> Self {
        let mut rng = Rng::from_seed(b.seed);
        let probe_jitter = 0.5 + rng.next_f64() * 0.5;
        Self {
            limit: b.initial as f64,
            min: b.min,
            max: b.max,
            window: b.window,
            smoothing: b.smoothing,
            probe_multiplier: f64::from(b.probe_multiplier),
            rtt_noload: None,
            probe_count: 0,
            probe_jitter,
            rng,
        }
    }

    /// The no-load latency it currently compares against, once it has one.
    pub fn rtt_noload(&self) -> Option<Duration> {
        self.rtt_noload
    }
}

impl VegasBuilder {
    builder_methods!(20, 1, 1000, "1 s");

    /// How much of each step to take, in (0, 1] (default 1: all of it).
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// Forget the no-load latency every `multiplier × limit` samples (default 30).
    pub fn probe_multiplier(mut self, multiplier: u32) -> Self {
        self.probe_multiplier = multiplier;
        self
    }

    /// Seeds the probe jitter (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: bounds out of order, `smoothing` outside
    /// 0.01..=1, `probe_multiplier` zero.
    pub fn build(self) -> Result<Vegas, ConfigError> {
        check_bounds(self.initial, self.min, self.max)?;
        check_range("smoothing", self.smoothing, 0.01, 1.0)?;
        if self.probe_multiplier == 0 {
            return Err(ConfigError::new(
                "probe_multiplier must be at least 1, got 0",
            ));
        }
        Ok(Vegas::from_builder(&self))
    }
}

impl Limit for Vegas {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn sample_window(&self) -> Duration {
        self.window
    }

    fn update(&mut self, sample: Sample) {
        self.probe_count += 1;
        if self.probe_count as f64 >= self.probe_jitter * self.probe_multiplier * self.limit {
            self.probe_jitter = 0.5 + self.rng.next_f64() * 0.5;
            self.probe_count = 0;
            self.rtt_noload = Some(sample.rtt);
            return;
        }
        let rtt_noload = match self.rtt_noload {
            Some(noload) if sample.rtt >= noload => noload,
            _ => {
                self.rtt_noload = Some(sample.rtt);
                return;
            }
        };
        let limit = self.limit;
        let log = log10(limit as usize);
        let target = if sample.dropped {
            limit - log10(limit as usize)
        } else if (sample.in_flight as f64) * 2.0 < limit {
            return;
        } else {
            let rtt = sample.rtt.as_secs_f64().max(f64::MIN_POSITIVE);
            let queue = (limit * (1.0 - rtt_noload.as_secs_f64() / rtt)).ceil();
            if queue <= log {
                limit + 6.0 * log
            } else if queue < 3.0 * log {
                limit + log
            } else if queue > 6.0 * log {
                limit - log
            } else {
                return;
            }
        };
        let target = target.clamp(self.min as f64, self.max as f64);
        self.limit = (1.0 - self.smoothing) * limit + self.smoothing * target;
    }
}

/// Netflix's `LOG10`: the integer part of log10, at least 1.
fn log10(n: usize) -> f64 {
    (n.max(1) as f64).log10().floor().max(1.0)
}
