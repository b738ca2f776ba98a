//! Envoy's gradient controller (the adaptive concurrency filter).

use std::time::Duration;

use seawall_core::rng::Rng;
use seawall_core::ConfigError;
use tokio::time::Instant;

use super::{check_range, Limit, Sample};

/// Envoy's gradient controller: it measures a minimum RTT at a pinned low limit, then every
/// update interval sets `limit ← limit × gradient + √(limit × gradient)` with
/// `gradient = clamp((minRTT + buffer) / sampleRTT, 0.5, 2)`, `buffer = minRTT × buffer_pct`,
/// and `sampleRTT` the median latency of the requests that ended in the interval.
///
/// The minimum RTT is measured at start and again every `min_rtt_interval` plus a random
/// part of up to `jitter ×` that (drawn anew each time): the limit is pinned at
/// `min_concurrency` until `min_rtt_samples` requests admitted since have ended, their median
/// is the new minimum RTT, and the limit goes back to what it was. Requests admitted before
/// the pin are left out: under overload they waited behind the old limit, and counted they
/// raised each measurement over the last, so the limit and the p99 crept up every minute
/// (worst second's p99 50, 64, then 87 ms in three minutes at 2× overload). It is also measured again, as in
/// Envoy, when five updates in a row have left the limit at `min_concurrency` (the minimum RTT
/// it compares with is likely stale: the service itself got slower).
///
/// Defaults: the median (Envoy's default percentile), max 1000, min concurrency 3, 50 samples
/// per minimum-RTT measurement, 10% jitter, buffer 25% (Envoy's defaults); an update interval
/// of 100 ms and a minimum-RTT interval of 60 s, which Envoy requires the operator to set.
///
/// Differences from Envoy: updates run when a request ends at or after the interval's end,
/// not on a timer (an idle service does not update, as in Envoy, which skips empty
/// intervals); the median is taken over the last 1,024 latencies of the interval, not a
/// histogram; the jitter is drawn from a seeded generator (default seed 0).
#[derive(Clone, Debug)]
pub struct GradientController {
    config: GradientControllerBuilder,
    limit: f64,
    min_rtt: Option<Duration>,
    /// `Some(limit to restore)` while measuring the minimum RTT.
    measuring: Option<f64>,
    /// When the measurement under way began (none for the first): only requests admitted
    /// since count towards it.
    measuring_since: Option<Instant>,
    next_update: Option<Instant>,
    next_min_rtt: Option<Instant>,
    /// Updates in a row that left the limit at `min_concurrency`.
    at_min: u32,
    samples: Vec<Duration>,
    seen: usize,
    rng: Rng,
}

/// Builds a [`GradientController`].
#[derive(Clone, Debug)]
pub struct GradientControllerBuilder {
    max: usize,
    min_concurrency: usize,
    update_interval: Duration,
    min_rtt_samples: usize,
    min_rtt_interval: Duration,
    jitter: f64,
    buffer: f64,
    seed: u64,
}

const SAMPLES: usize = 1024;
/// Updates in a row at `min_concurrency` after which the minimum RTT is measured again.
const AT_MIN: u32 = 5;

impl Default for GradientController {
    fn default() -> Self {
        Self::from_builder(&Self::builder())
    }
}

impl GradientController {
    /// Starts from Envoy's defaults.
    pub fn builder() -> GradientControllerBuilder {
        GradientControllerBuilder {
            max: 1000,
            min_concurrency: 3,
            update_interval: Duration::from_millis(100),
            min_rtt_samples: 50,
            min_rtt_interval: Duration::from_secs(60),
            jitter: 0.1,
            buffer: 0.25,
            seed: 0,
        }
    }

    fn from_builder(b: &GradientControllerBuilder) -> Self {
        Self {
            config: b.clone(),
            limit: b.min_concurrency as f64,
            min_rtt: None,
            measuring: Some(b.min_concurrency as f64),
            measuring_since: None,
            next_update: None,
            next_min_rtt: None,
            at_min: 0,
            samples: Vec::with_capacity(SAMPLES),
            seen: 0,
            rng: Rng::from_seed(b.seed),
        }
    }

    /// The minimum RTT it compares against, once measured.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    fn record(&mut self, rtt: Duration) {
        if self.samples.len() < SAMPLES {
            self.samples.push(rtt);
        } else {
            self.samples[self.seen % SAMPLES] = rtt;
        }
        self.seen += 1;
    }

    /// Pins the limit at `min_concurrency` to measure the minimum RTT.
    fn measure_min_rtt(&mut self, now: Instant) {
        self.measuring = Some(self.limit);
        self.measuring_since = Some(now);
        self.limit = self.config.min_concurrency as f64;
        self.samples.clear();
        self.seen = 0;
        self.at_min = 0;
    }

    fn median(&mut self) -> Option<Duration> {
        if self.samples.is_empty() {
            return None;
        }
        let mid = self.samples.len() / 2;
        let (_, median, _) = self.samples.select_nth_unstable(mid);
        let median = *median;
        self.samples.clear();
        self.seen = 0;
        Some(median)
    }
}

impl GradientControllerBuilder {
    /// The highest limit (default 1000).
    pub fn max_limit(mut self, n: usize) -> Self {
        self.max = n;
        self
    }

    /// The limit pinned while measuring the minimum RTT, and the lowest limit (default 3).
    pub fn min_concurrency(mut self, n: usize) -> Self {
        self.min_concurrency = n;
        self
    }

    /// How often the limit is recomputed (default 100 ms).
    pub fn update_interval(mut self, interval: Duration) -> Self {
        self.update_interval = interval;
        self
    }

    /// Requests measured per minimum-RTT measurement (default 50).
    pub fn min_rtt_samples(mut self, n: usize) -> Self {
        self.min_rtt_samples = n;
        self
    }

    /// How often the minimum RTT is measured again (default 60 s).
    pub fn min_rtt_interval(mut self, interval: Duration) -> Self {
        self.min_rtt_interval = interval;
        self
    }

    /// The random part added to `min_rtt_interval`, as a share of it in 0..=1 (default 0.1).
    pub fn jitter(mut self, share: f64) -> Self {
        self.jitter = share;
        self
    }

    /// How much slower than the minimum RTT is still "no queue", as a share of it in
    /// 0..=10 (default 0.25).
    pub fn buffer(mut self, share: f64) -> Self {
        self.buffer = share;
        self
    }

    /// Seeds the jitter (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `min_concurrency` outside 1..=max, zero
    /// intervals or sample counts, `jitter` or `buffer` out of range.
    pub fn build(self) -> Result<GradientController, ConfigError> {
        super::check_bounds(self.min_concurrency, 1, self.max).map_err(|_| {
            ConfigError::new(format!(
                "min_concurrency must be in 1..=max_limit ({}), got {}",
                self.max, self.min_concurrency
            ))
        })?;
        if self.update_interval.is_zero() || self.min_rtt_interval.is_zero() {
            return Err(ConfigError::new(
                "update_interval and min_rtt_interval must be more than zero",
            ));
        }
        if self.min_rtt_samples == 0 {
            return Err(ConfigError::new(
                "min_rtt_samples must be at least 1, got 0",
            ));
        }
        check_range("jitter", self.jitter, 0.0, 1.0)?;
        check_range("buffer", self.buffer, 0.0, 10.0)?;
        Ok(GradientController::from_builder(&self))
    }
}

impl Limit for GradientController {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn update(&mut self, sample: Sample) {
        let now = sample.now;
        if let Some(restore) = self.measuring {
            // A request admitted before the limit was pinned waited behind the old limit's
            // queue: its latency is not the minimum RTT.
            let admitted = now.checked_sub(sample.rtt);
            if self
                .measuring_since
                .is_none_or(|since| admitted.is_some_and(|at| at >= since))
            {
                self.record(sample.rtt);
            }
            if self.samples.len() >= self.config.min_rtt_samples {
                self.min_rtt = self.median();
                self.limit = restore;
                self.measuring = None;
                self.next_update = Some(now + self.config.update_interval);
                let jitter = self
                    .config
                    .min_rtt_interval
                    .mul_f64(self.config.jitter * self.rng.next_f64());
                self.next_min_rtt = Some(now + self.config.min_rtt_interval + jitter);
            }
            return;
        }
        if self.next_min_rtt.is_some_and(|at| now >= at) || self.at_min >= AT_MIN {
            self.measure_min_rtt(now);
            return;
        }
        self.record(sample.rtt);
        if self.next_update.is_some_and(|at| now < at) {
            return;
        }
        self.next_update = Some(now + self.config.update_interval);
        let (Some(min_rtt), Some(sample_rtt)) = (self.min_rtt, self.median()) else {
            return;
        };
        let min = min_rtt.as_secs_f64();
        let gradient =
            ((min + min * self.config.buffer) / sample_rtt.as_secs_f64().max(1e-9)).clamp(0.5, 2.0);
        let limit = self.limit * gradient;
        self.limit = (limit + limit.sqrt())
            .clamp(self.config.min_concurrency as f64, self.config.max as f64);
        if self.limit <= self.config.min_concurrency as f64 {
            self.at_min += 1;
        } else {
            self.at_min = 0;
        }
    }
}
