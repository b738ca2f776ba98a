//! Additive increase, multiplicative decrease, as Netflix's `AIMDLimit`.

use std::time::Duration;

use seawall_core::ConfigError;

use super::{check_bounds, check_range, Limit, Sample};

/// Additive increase, multiplicative decrease: the limit grows by one for each sample taken
/// while at least half the limit was in use, and is multiplied by `backoff` for each drop
/// (or sample slower than `timeout`).
///
/// Defaults, as Netflix's `AIMDLimit`: initial 20, min 20, max 200, backoff 0.9, timeout 5 s.
///
/// It learns only from drops: in front of a server that queues without bound and never times
/// out, it climbs to its maximum. Pair it with a timeout below it or a server that rejects.
///
/// Differences from Netflix: none in the rule (the limit is an integer, truncated after each
/// backoff, as Netflix's).
#[derive(Clone, Debug)]
pub struct Aimd {
    limit: usize,
    min: usize,
    max: usize,
    backoff: f64,
    timeout: Duration,
}

/// Builds an [`Aimd`] limit.
#[derive(Clone, Debug)]
pub struct AimdBuilder {
    initial: usize,
    min: usize,
    max: usize,
    backoff: f64,
    timeout: Duration,
}

impl Default for Aimd {
    fn default() -> Self {
        Self {
            limit: 20,
            min: 20,
            max: 200,
            backoff: 0.9,
            timeout: Duration::from_secs(5),
        }
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
        }
    }
}

impl AimdBuilder {
    /// The limit at start (default 20).
    pub fn initial_limit(mut self, n: usize) -> Self {
        self.initial = n;
        self
    }

    /// The lowest limit (default 20).
    pub fn min_limit(mut self, n: usize) -> Self {
        self.min = n;
        self
    }

    /// The highest limit (default 200).
    pub fn max_limit(mut self, n: usize) -> Self {
        self.max = n;
        self
    }

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

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: bounds out of order, `backoff` outside
    /// 0.5..=0.999, a zero timeout.
    pub fn build(self) -> Result<Aimd, ConfigError> {
        check_bounds(self.initial, self.min, self.max)?;
        check_range("backoff", self.backoff, 0.5, 0.999)?;
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout must be more than zero"));
        }
        Ok(Aimd {
            limit: self.initial,
            min: self.min,
            max: self.max,
            backoff: self.backoff,
            timeout: self.timeout,
        })
    }
}

impl Limit for Aimd {
    fn limit(&self) -> usize {
        self.limit
    }

    fn update(&mut self, sample: Sample) {
        if sample.dropped || sample.rtt > self.timeout {
            self.limit = (self.limit as f64 * self.backoff) as usize;
        } else if sample.in_flight * 2 >= self.limit {
            self.limit += 1;
        }
        self.limit = self.limit.clamp(self.min, self.max);
    }
}
