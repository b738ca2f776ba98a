//! The breaker's knobs, validated once by [`CircuitBreakerBuilder::build`].

use std::sync::Arc;
use std::time::Duration;

use seawall_core::ErrorsAreFailures;

use crate::error::ConfigError;
use crate::layer::CircuitBreakerLayer;
use crate::shared::Shared;

/// Where the failure and slow-call rates are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last `n` calls, however old (resilience4j's count-based window).
    Count(u32),
    /// The calls of the last `length` of time, kept in `buckets` buckets (Polly's sampling
    /// duration; resilience4j's time-based window).
    Time {
        /// How far back the window reaches.
        length: Duration,
        /// How many buckets the window is kept in (1 to 1024).
        buckets: usize,
    },
}

/// Everything that shapes one breaker, whatever its classifier.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) slow_call: Option<(Duration, f64)>,
    pub(crate) window: Window,
    pub(crate) min_calls: u32,
    pub(crate) open_duration: Duration,
    pub(crate) max_open_duration: Duration,
    pub(crate) open_multiplier: f64,
    pub(crate) jitter: f64,
    pub(crate) seed: Option<u64>,
    pub(crate) probes: u32,
    pub(crate) probe_timeout: Duration,
    pub(crate) name: Arc<str>,
    /// A keyed breaker's key, as its events name it (empty for an unkeyed breaker).
    pub(crate) key: Arc<str>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            consecutive_failures: Some(20),
            failure_rate: Some(0.5),
            slow_call: None,
            window: Window::Count(100),
            min_calls: 20,
            open_duration: Duration::from_secs(1),
            max_open_duration: Duration::from_secs(60),
            open_multiplier: 1.0,
            jitter: 0.1,
            seed: None,
            probes: 3,
            probe_timeout: Duration::from_secs(10),
            name: Arc::from(""),
            key: Arc::from(""),
        }
    }
}

/// The largest count window and the most probes a breaker accepts.
pub(crate) const MAX_COUNT_WINDOW: u32 = 100_000;
pub(crate) const MAX_PROBES: u32 = 1_000;

impl Config {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let ratio = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(ConfigError::new(format!(
                    "{field} must be in (0, 1], got {v}"
                )))
            }
        };
        if self.consecutive_failures == Some(0) {
            return Err(ConfigError::new(
                "consecutive_failures must be at least 1 (or None to turn it off), got 0",
            ));
        }
        if let Some(rate) = self.failure_rate {
            ratio("failure_rate", rate)?;
        }
        if let Some((duration, rate)) = self.slow_call {
            ratio("slow_call rate", rate)?;
            if duration.is_zero() {
                return Err(ConfigError::new(
                    "slow_call duration must be more than zero",
                ));
            }
        }
        match self.window {
            Window::Count(n) => {
                if !(1..=MAX_COUNT_WINDOW).contains(&n) {
                    return Err(ConfigError::new(format!(
                        "count_window must be in 1..={MAX_COUNT_WINDOW} calls, got {n}"
                    )));
                }
                if self.min_calls > n {
                    return Err(ConfigError::new(format!(
                        "min_calls must be in 1..=count_window ({n}), got {}",
                        self.min_calls
                    )));
                }
            }
            Window::Time { length, buckets } => {
                seawall_core::RollingCounter::new(length, buckets)
                    .map_err(|e| ConfigError::new(format!("time_window: {e}")))?;
            }
        }
        if self.min_calls == 0 {
            return Err(ConfigError::new("min_calls must be at least 1, got 0"));
        }
        if self.open_duration.is_zero() {
            return Err(ConfigError::new("open_duration must be more than zero"));
        }
        if self.open_multiplier > 1.0 && self.max_open_duration < self.open_duration {
            return Err(ConfigError::new(format!(
                "max_open_duration must be at least open_duration ({:?}), got {:?}",
                self.open_duration, self.max_open_duration
            )));
        }
        if !(self.open_multiplier.is_finite() && (1.0..=100.0).contains(&self.open_multiplier)) {
            return Err(ConfigError::new(format!(
                "open_multiplier must be in 1..=100, got {}",
                self.open_multiplier
            )));
        }
        if !(self.jitter.is_finite() && (0.0..=1.0).contains(&self.jitter)) {
            return Err(ConfigError::new(format!(
                "jitter must be in 0..=1, got {}",
                self.jitter
            )));
        }
        if !(1..=MAX_PROBES).contains(&self.probes) {
            return Err(ConfigError::new(format!(
                "probes must be in 1..={MAX_PROBES}, got {}",
                self.probes
            )));
        }
        if self.probe_timeout.is_zero() {
            return Err(ConfigError::new("probe_timeout must be more than zero"));
        }
        Ok(())
    }
}

/// Builds a [`CircuitBreakerLayer`]; start with [`CircuitBreakerLayer::builder`].
///
/// Every setter documents its default; [`build`](Self::build) checks them all at once.
#[derive(Clone, Debug)]
pub struct CircuitBreakerBuilder<C = ErrorsAreFailures> {
    pub(crate) config: Config,
    pub(crate) classify: C,
}

impl Default for CircuitBreakerBuilder {
    fn default() -> Self {
        Self {
            config: Config::default(),
            classify: ErrorsAreFailures,
        }
    }
}

impl<C> CircuitBreakerBuilder<C> {
    /// Trips after this many failures in a row (default 20; `None` turns the condition off).
    ///
    /// The Envoy/Finagle condition: it needs no window and catches an outage of a
    /// dependency that gets little traffic, where a rate over the last calls would take
    /// long to fill.
    pub fn consecutive_failures(mut self, n: impl Into<Option<u32>>) -> Self {
        self.config.consecutive_failures = n.into();
        self
    }

    /// Trips when at least this share (0..=1) of the calls in the [window](Self::count_window)
    /// failed, once the window holds [`min_calls`](Self::min_calls) calls (default 0.5;
    /// `None` turns the condition off).
    pub fn failure_rate(mut self, rate: impl Into<Option<f64>>) -> Self {
        self.config.failure_rate = rate.into();
        self
    }

    /// Trips when at least `rate` (0..=1) of the calls in the window took `duration` or
    /// longer, once the window holds [`min_calls`](Self::min_calls) calls (default: off).
    /// A half-open probe that is slow counts as a failed probe.
    pub fn slow_calls(mut self, duration: Duration, rate: f64) -> Self {
        self.config.slow_call = Some((duration, rate));
        self
    }

    /// Measures the rates over the last `calls` calls (default: the last 100 calls).
    pub fn count_window(mut self, calls: u32) -> Self {
        self.config.window = Window::Count(calls);
        self
    }

    /// Measures the rates over the calls of the last `length`, kept in `buckets` buckets
    /// (instead of the default count window).
    pub fn time_window(mut self, length: Duration, buckets: usize) -> Self {
        self.config.window = Window::Time { length, buckets };
        self
    }

    /// The fewest calls the window must hold before a rate can trip the breaker (default 20).
    pub fn min_calls(mut self, calls: u32) -> Self {
        self.config.min_calls = calls;
        self
    }

    /// How long the breaker stays open after a trip (default 1 s), before jitter: it probes
    /// the dependency at most once per open time.
    ///
    /// The default keeps a steady trickle of about one probe a second against a dependency
    /// that stays down, and notices a heal within about a second (see the
    /// [crate docs](crate#why-these-defaults) for the figures).
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.config.open_duration = duration;
        self
    }

    /// Makes the open time grow: each trip that follows another without the breaker
    /// closing in between multiplies it by `multiplier`, up to `max` (default: no growth,
    /// a multiplier of 1). Growth sends fewer probes to a long outage and notices a heal
    /// later: with `open_backoff(2.0, Duration::from_secs(60))` a 10 s outage is noticed up
    /// to 8 s late.
    pub fn open_backoff(mut self, multiplier: f64, max: Duration) -> Self {
        self.config.open_multiplier = multiplier;
        self.config.max_open_duration = max;
        self
    }

    /// Keeps the open time fixed at [`open_duration`](Self::open_duration), without growth
    /// or jitter.
    pub fn fixed_open_duration(mut self) -> Self {
        self.config.open_multiplier = 1.0;
        self.config.max_open_duration = self.config.open_duration;
        self.config.jitter = 0.0;
        self
    }

    /// Lengthens each open time by a random share of up to `jitter` (0..=1, default 0.1), so
    /// that the breakers of many clients do not probe a recovering dependency in lockstep.
    /// Jitter only lengthens: [`open_duration`](Self::open_duration) stays the shortest open
    /// time, so the probe rate stays at most one per open time.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.config.jitter = jitter;
        self
    }

    /// Seeds the jitter, making open times repeatable (default: a random seed per breaker).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// How many probe calls half-open admits (default 3). The first goes alone; once it
    /// has succeeded, the others go together. All must succeed to close the breaker; any
    /// failure opens it again. So a half-open that finds the dependency still down costs it
    /// exactly one call, and one that finds it healed closes after two round trips.
    pub fn probes(mut self, probes: u32) -> Self {
        self.config.probes = probes;
        self
    }

    /// How long half-open waits for its probes to make progress (default 10 s): when no
    /// further probe may be admitted (the first probe is out alone, or every probe is out)
    /// and none has finished for this long, the next call reopens the breaker, so half-open
    /// can never be stuck.
    ///
    /// A permit counts as an outstanding probe from the moment it is taken: when
    /// [`CircuitBreaker::poll_ready`](crate::CircuitBreaker) takes one and then waits for
    /// an inner service that is not ready, that wait counts against the timeout just like
    /// a probe call in flight. A permit that a transition voided meanwhile (this timeout
    /// reopening the breaker, a forced open) is dropped at the next `poll_ready`, which
    /// decides afresh.
    ///
    /// A probe sent with a request [deadline](seawall_core::deadline::Deadline::current)
    /// sooner than this timeout counts as stuck from that deadline on: no one is waiting for
    /// its answer then. So a probe that hangs with 1 s left holds half-open for 1 s, not the
    /// whole timeout. Another probe with time left still holds it (the timeout of each
    /// probe admitted since the last one finished must be over), and a probe that finishes
    /// gives those still out the whole timeout again.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.config.probe_timeout = timeout;
        self
    }

    /// Names the breaker in its events and metrics (default: empty).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Classifies results with `classify` instead of the default (errors are failures).
    pub fn classify<C2>(self, classify: C2) -> CircuitBreakerBuilder<C2> {
        CircuitBreakerBuilder {
            config: self.config,
            classify,
        }
    }

    /// Checks the configuration and builds the layer, with one breaker that every service
    /// it wraps shares.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first field out of range: rates in (0, 1], a count
    /// window of 1 to 100,000 calls, `min_calls` from 1 to the count window, open durations
    /// more than zero (with `max >= open_duration` when the open time grows), a multiplier
    /// in 1..=100, jitter in 0..=1, 1 to 1,000 probes, a probe timeout more than zero.
    pub fn build(self) -> Result<CircuitBreakerLayer<C>, ConfigError> {
        self.config.validate()?;
        Ok(CircuitBreakerLayer::from_parts(
            Arc::new(Shared::shared_by_threads(self.config)),
            self.classify,
        ))
    }
}
