//! Upstreams that several tests and the lab share, defined once.

use std::time::Duration;

use crate::{Abandonment, Capacity, ConfigError, Latency, Upstream, UpstreamBuilder};

/// An upstream that fails every call from `from` to `to` after it is built, and is healthy
/// before and after: the outage that retry budgets and circuit breakers are measured
/// against.
///
/// Defaults: 10 ms constant latency, failures as slow as successes, unlimited capacity,
/// [`Abandonment::Never`], seed 0.
///
/// ```
/// use std::time::Duration;
/// use seawall_sim::scenarios::Outage;
/// use seawall_sim::{run_paused, Capacity, Latency, Load};
///
/// let summary = run_paused(async {
///     let upstream = Outage::new(Duration::from_secs(2), Duration::from_secs(4))
///         .failing(Latency::constant(Duration::from_millis(1))) // fails fast
///         .capacity(Capacity::workers(10).queue(100))
///         .seed(1)
///         .build()
///         .unwrap();
///     let load = Load::builder().rate(100.0).duration(Duration::from_secs(6)).build().unwrap();
///     load.run(&upstream, upstream.clone()).await
/// });
/// assert_eq!(summary.failed, 200);
/// ```
#[derive(Clone, Debug)]
pub struct Outage {
    from: Duration,
    to: Duration,
    healthy: Latency,
    failing: Option<Latency>,
    capacity: Capacity,
    abandonment: Abandonment,
    seed: u64,
}

impl Outage {
    /// An outage from `from` to `to` (offsets from when the upstream is built).
    pub fn new(from: Duration, to: Duration) -> Self {
        Self {
            from,
            to,
            healthy: Latency::constant(Duration::from_millis(10)),
            failing: None,
            capacity: Capacity::Unlimited,
            abandonment: Abandonment::Never,
            seed: 0,
        }
    }

    /// An upstream that fails every call from the start, for ever.
    pub fn permanent() -> Self {
        Self::new(Duration::ZERO, Duration::MAX)
    }

    /// The latency while healthy (default 10 ms).
    pub fn healthy(mut self, latency: Latency) -> Self {
        self.healthy = latency;
        self
    }

    /// The latency of the failures during the outage (default: as while healthy).
    pub fn failing(mut self, latency: Latency) -> Self {
        self.failing = Some(latency);
        self
    }

    /// The capacity throughout (default unlimited).
    pub fn capacity(mut self, capacity: Capacity) -> Self {
        self.capacity = capacity;
        self
    }

    /// The abandonment policy (default [`Abandonment::Never`]).
    pub fn abandonment(mut self, abandonment: Abandonment) -> Self {
        self.abandonment = abandonment;
        self
    }

    /// The upstream's seed (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The upstream's builder, for adding more phases after the outage.
    pub fn builder(self) -> UpstreamBuilder {
        let failing = self.failing.unwrap_or_else(|| self.healthy.clone());
        let healthy = self.healthy;
        let b = Upstream::builder()
            .latency(healthy.clone())
            .capacity(self.capacity)
            .abandonment(self.abandonment)
            .seed(self.seed)
            .at(self.from, |p| p.failure_rate(1.0).latency(failing));
        if self.to == Duration::MAX {
            b
        } else {
            b.at(self.to, |p| p.failure_rate(0.0).latency(healthy))
        }
    }

    /// Builds the upstream; its clock starts now.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when a latency is invalid or the outage ends before it starts.
    pub fn build(self) -> Result<Upstream, ConfigError> {
        if self.to < self.from {
            return Err(ConfigError::new(format!(
                "outage: ends ({:?}) before it starts ({:?})",
                self.to, self.from
            )));
        }
        self.builder().build()
    }
}
