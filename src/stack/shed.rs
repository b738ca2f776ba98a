//! Load shedding settings: the limit (fixed or learnt, by name), a bounded queue, priorities;
//! and the client-side adaptive throttle.
//!
//! Every knob of a limit is optional: absent, it keeps the algorithm's own default (see
//! `seawall::shed::limit`), so a file says only what it changes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{in_section, positive, ratio};
use crate::core::duration;
use crate::core::ConfigError;
use crate::http::HttpClassifier;
use crate::shed::limit::{Aimd, Fixed, Gradient2, GradientController, Vegas, Windowed};
use crate::shed::{FromHeader, Priority, ShedBuilder, ShedLayer, ThrottleLayer};

/// The header a request's priority is read from: `critical`, `normal` or `sheddable`.
pub const PRIORITY_HEADER: &str = "seawall-priority";

/// Load shedding settings (`[shed]` in the server pipeline, or a file of its own for a
/// [`ShedLayer`]: [`into_layer`](Self::into_layer)).
///
/// | field | default | |
/// |---|---|---|
/// | `[limit]` | `algorithm = "vegas"` | the concurrency limit: see [`LimitConfig`] |
/// | `[queue]` | none: refuse at once | a bounded queue: see [`QueueConfig`] |
/// | `critical_reserve` | 0.1 | share of the limit only `critical` requests may use (0..=1) |
/// | `sheddable_reserve` | 0.2 | further share `sheddable` requests may not use (0..=1; the two under 1) |
/// | `trusted_priority` | false | let the `seawall-priority` header raise a request above `normal` |
/// | `retry_after` | `"1s"` | the `Retry-After` of a 503 from shedding |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShedConfig {
    /// The concurrency limit.
    pub limit: LimitConfig,
    /// A bounded queue in front of the limit; none refuses at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueConfig>,
    /// The share of the limit kept for critical requests.
    pub critical_reserve: f64,
    /// The further share kept away from sheddable requests.
    pub sheddable_reserve: f64,
    /// Whether the priority header may raise a request's priority.
    pub trusted_priority: bool,
    /// The retry-after hint of a refusal.
    #[serde(with = "duration")]
    pub retry_after: Duration,
}

impl Default for ShedConfig {
    fn default() -> Self {
        Self {
            limit: LimitConfig::default(),
            queue: None,
            critical_reserve: 0.1,
            sheddable_reserve: 0.2,
            trusted_priority: false,
            retry_after: Duration::from_secs(1),
        }
    }
}

impl ShedConfig {
    /// A [`ShedLayer`] with these settings, priorities read from the `seawall-priority`
    /// header, the slot given back at the response (for HTTP streaming bodies, use
    /// [`builder`](Self::builder) and `hold_to_body_end()`, as the server pipeline does).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field (`shed.critical_reserve`, `shed.limit: min_limit …`).
    pub fn into_layer(self) -> Result<ShedLayer<FromHeader>, ConfigError> {
        self.builder()?.build().map_err(in_section("shed"))
    }

    /// The checked builder these settings describe, for what a file does not carry (a
    /// classifier, holding the slot to the end of the body, a name).
    ///
    /// # Errors
    ///
    /// As [`into_layer`](Self::into_layer).
    pub fn builder(&self) -> Result<ShedBuilder<FromHeader>, ConfigError> {
        self.builder_in("shed")
    }

    pub(crate) fn builder_in(&self, section: &str) -> Result<ShedBuilder<FromHeader>, ConfigError> {
        self.validate(section)?;
        let mut priority = FromHeader::new(
            http::HeaderName::from_static(PRIORITY_HEADER),
            Priority::Normal,
        );
        if self.trusted_priority {
            priority = priority.trusted();
        }
        let mut builder = ShedLayer::builder()
            .reserve(Priority::Normal, self.critical_reserve)
            .reserve(Priority::Sheddable, self.sheddable_reserve)
            .retry_after(Some(self.retry_after));
        builder = self
            .limit
            .apply(builder)
            .map_err(in_section(&format!("{section}.limit")))?;
        if let Some(queue) = &self.queue {
            builder = builder.queue(queue.capacity, queue.max_wait);
            if let Some(codel) = &queue.codel {
                builder = builder.codel(codel.target, codel.interval);
            }
        }
        Ok(builder.priority(priority))
    }

    /// Checks what the shedding builder does not name by this file's fields: the reserves
    /// and the queue (the limits' own builders check their knobs).
    fn validate(&self, section: &str) -> Result<(), ConfigError> {
        ratio(
            &format!("{section}.critical_reserve"),
            self.critical_reserve,
        )?;
        ratio(
            &format!("{section}.sheddable_reserve"),
            self.sheddable_reserve,
        )?;
        if self.critical_reserve + self.sheddable_reserve >= 1.0 {
            return Err(ConfigError::new(format!(
                "{section}.sheddable_reserve plus {section}.critical_reserve must be less than 1, got {}",
                self.critical_reserve + self.sheddable_reserve
            )));
        }
        if let Some(queue) = &self.queue {
            ConfigError::check_within(
                &format!("{section}.queue.capacity"),
                queue.capacity,
                1..=1_000_000,
            )?;
            positive(&format!("{section}.queue.max_wait"), queue.max_wait)?;
            if let Some(codel) = &queue.codel {
                positive(&format!("{section}.queue.codel.target"), codel.target)?;
                positive(&format!("{section}.queue.codel.interval"), codel.interval)?;
            }
        }
        Ok(())
    }
}

impl TryFrom<ShedConfig> for ShedLayer<FromHeader> {
    type Error = ConfigError;

    fn try_from(config: ShedConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}

/// A bounded queue (`[shed.queue]`): requests over the limit wait for a slot instead of
/// being refused at once, most important first.
///
/// | field | default | |
/// |---|---|---|
/// | `capacity` | required | waiters at most (1..=1,000,000); more are refused |
/// | `max_wait` | required | a waiter is refused after this (more than zero) |
/// | `codel` | none | `{ target = "5ms", interval = "100ms" }`: controlled delay, newest first once the queue stays full ("Fail at Scale") |
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Waiters at most.
    pub capacity: usize,
    /// The longest wait.
    #[serde(with = "duration")]
    pub max_wait: Duration,
    /// Controlled delay; none keeps first-come order and the full `max_wait`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codel: Option<CodelConfig>,
}

/// Controlled delay for the queue (`codel = { target = "5ms", interval = "100ms" }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodelConfig {
    /// The wait a newcomer gets once the queue has not been empty for `interval`.
    #[serde(with = "duration")]
    pub target: Duration,
    /// How long the queue must stay non-empty before `target` applies.
    #[serde(with = "duration")]
    pub interval: Duration,
}

/// The concurrency limit (`[shed.limit]`), chosen by `algorithm`; every other knob is
/// optional and keeps the algorithm's default when absent.
///
/// | `algorithm` | knobs |
/// |---|---|
/// | `"fixed"` | `limit` (required, 1..=1,000,000) |
/// | `"aimd"` | `initial_limit`, `min_limit`, `max_limit`, `backoff` (0.5..=0.999), `timeout`, `window` (default `"100ms"`) |
/// | `"vegas"` (default) | `initial_limit`, `max_limit`, `smoothing` (0.01..=1), `probe_multiplier`, `seed`, `window` (default `"1s"`) |
/// | `"gradient2"` | `initial_limit`, `min_limit`, `max_limit`, `smoothing` (0.01..=1), `tolerance` (1..=10), `queue_size`, `long_window`, `window` (default `"100ms"`) |
/// | `"envoy"` | `max_limit`, `min_concurrency`, `update_interval`, `min_rtt_samples`, `min_rtt_interval`, `jitter`, `buffer`, `seed` |
///
/// `window` averages the samples over that time before the algorithm sees them
/// (`Windowed`); Vegas and Gradient2 always get one, as they misread per-request noise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase", deny_unknown_fields)]
pub enum LimitConfig {
    /// A limit that never changes.
    Fixed {
        /// Requests in flight at once.
        limit: usize,
    },
    /// Additive increase, multiplicative decrease on drops (Netflix's `AIMDLimit`).
    Aimd {
        /// The limit at start.
        initial_limit: Option<usize>,
        /// The lowest limit.
        min_limit: Option<usize>,
        /// The highest limit.
        max_limit: Option<usize>,
        /// The factor applied on a drop.
        backoff: Option<f64>,
        /// A sample slower than this counts as a drop.
        #[serde(
            default,
            with = "duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        timeout: Option<Duration>,
        /// Averages samples over this window first (default 100 ms).
        #[serde(
            default,
            with = "duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        window: Option<Duration>,
    },
    /// Latency over the no-load latency estimates a queue (Netflix's `VegasLimit`).
    Vegas {
        /// The limit at start.
        initial_limit: Option<usize>,
        /// The highest limit.
        max_limit: Option<usize>,
        /// How much of each step to take.
        smoothing: Option<f64>,
        /// Forget the no-load latency every `probe_multiplier × limit` samples.
        probe_multiplier: Option<u32>,
        /// Seeds the probe jitter.
        seed: Option<u64>,
        /// The window samples are averaged over (default 1 s).
        #[serde(
            default,
            with = "duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        window: Option<Duration>,
    },
    /// Short-term latency over a long-term average (Netflix's `Gradient2Limit`).
    Gradient2 {
        /// The limit at start.
        initial_limit: Option<usize>,
        /// The lowest limit.
        min_limit: Option<usize>,
        /// The highest limit.
        max_limit: Option<usize>,
        /// How much of each step to take.
        smoothing: Option<f64>,
        /// How much slower than the long-term average is still fine.
        tolerance: Option<f64>,
        /// Growth per sample while latency is within tolerance.
        queue_size: Option<usize>,
        /// The long-term average's window, in samples (default 10 minutes of windows).
        long_window: Option<u32>,
        /// The window samples are averaged over (default 100 ms).
        #[serde(
            default,
            with = "duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        window: Option<Duration>,
    },
    /// Envoy's adaptive concurrency filter: the latency of each interval over a minimum
    /// RTT measured at a pinned low limit.
    Envoy {
        /// The highest limit.
        max_limit: Option<usize>,
        /// The pinned limit while the minimum RTT is measured.
        min_concurrency: Option<usize>,
        /// How often the limit is recomputed.
        #[serde(
            default,
            with = "duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        update_interval: Option<Duration>,
        /// Samples per minimum-RTT measurement.
        min_rtt_samples: Option<usize>,
        /// How often the minimum RTT is measured again.
        #[serde(
            default,
            with = "duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        min_rtt_interval: Option<Duration>,
        /// Random share added to `min_rtt_interval`.
        jitter: Option<f64>,
        /// Latency headroom over the minimum RTT.
        buffer: Option<f64>,
        /// Seeds the jitter.
        seed: Option<u64>,
    },
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self::Vegas {
            initial_limit: None,
            max_limit: None,
            smoothing: None,
            probe_multiplier: None,
            seed: None,
            window: None,
        }
    }
}

/// Calls `setter` on `builder` with `value` when there is one.
fn set<B, T>(builder: B, value: Option<T>, setter: fn(B, T) -> B) -> B {
    match value {
        Some(value) => setter(builder, value),
        None => builder,
    }
}

/// Averages samples over `window` (the `Windowed` default when none).
fn windowed<L: crate::shed::limit::Limit>(
    limit: L,
    window: Option<Duration>,
) -> Result<Windowed<L>, ConfigError> {
    let limit = Windowed::new(limit);
    match window {
        Some(window) => {
            positive("window", window)?;
            Ok(limit.window(window))
        }
        None => Ok(limit),
    }
}

impl LimitConfig {
    /// Sets this limit on `builder`, checked by the algorithm's own builder.
    fn apply<P, C, H>(
        &self,
        builder: ShedBuilder<P, C, H>,
    ) -> Result<ShedBuilder<P, C, H>, ConfigError> {
        Ok(match *self {
            Self::Fixed { limit } => {
                ConfigError::check_within("limit", limit, 1..=1_000_000)?;
                builder.limit(Fixed::new(limit))
            }
            Self::Aimd {
                initial_limit,
                min_limit,
                max_limit,
                backoff,
                timeout,
                window,
            } => {
                let mut b = Aimd::builder();
                b = set(b, initial_limit, |b, v| b.initial_limit(v));
                b = set(b, min_limit, |b, v| b.min_limit(v));
                b = set(b, max_limit, |b, v| b.max_limit(v));
                b = set(b, backoff, |b, v| b.backoff(v));
                b = set(b, timeout, |b, v| b.timeout(v));
                let aimd = b.build()?;
                match window {
                    Some(_) => builder.limit(windowed(aimd, window)?),
                    None => builder.limit(aimd),
                }
            }
            Self::Vegas {
                initial_limit,
                max_limit,
                smoothing,
                probe_multiplier,
                seed,
                window,
            } => {
                let mut b = Vegas::builder();
                b = set(b, initial_limit, |b, v| b.initial_limit(v));
                b = set(b, max_limit, |b, v| b.max_limit(v));
                b = set(b, smoothing, |b, v| b.smoothing(v));
                b = set(b, probe_multiplier, |b, v| b.probe_multiplier(v));
                b = set(b, seed, |b, v| b.seed(v));
                builder.limit(windowed(b.build()?, window)?)
            }
            Self::Gradient2 {
                initial_limit,
                min_limit,
                max_limit,
                smoothing,
                tolerance,
                queue_size,
                long_window,
                window,
            } => {
                let mut b = Gradient2::builder();
                b = set(b, initial_limit, |b, v| b.initial_limit(v));
                b = set(b, min_limit, |b, v| b.min_limit(v));
                b = set(b, max_limit, |b, v| b.max_limit(v));
                b = set(b, smoothing, |b, v| b.smoothing(v));
                b = set(b, tolerance, |b, v| b.tolerance(v));
                b = set(b, queue_size, |b, v| b.queue_size(v));
                b = set(b, long_window, |b, v| b.long_window(v));
                if let Some(window) = window {
                    positive("window", window)?;
                    b = b.window(window);
                }
                builder.limit(b.build()?)
            }
            Self::Envoy {
                max_limit,
                min_concurrency,
                update_interval,
                min_rtt_samples,
                min_rtt_interval,
                jitter,
                buffer,
                seed,
            } => {
                let mut b = GradientController::builder();
                b = set(b, max_limit, |b, v| b.max_limit(v));
                b = set(b, min_concurrency, |b, v| b.min_concurrency(v));
                b = set(b, update_interval, |b, v| b.update_interval(v));
                b = set(b, min_rtt_samples, |b, v| b.min_rtt_samples(v));
                b = set(b, min_rtt_interval, |b, v| b.min_rtt_interval(v));
                b = set(b, jitter, |b, v| b.jitter(v));
                b = set(b, buffer, |b, v| b.buffer(v));
                b = set(b, seed, |b, v| b.seed(v));
                builder.limit(b.build()?)
            }
        })
    }
}

/// Client-side adaptive throttling (`[throttle]`), from Google's SRE book ("Handling
/// Overload"): refuse locally, with `Overloaded`, a share of requests once the upstream
/// accepts less than `1/k` of what is sent. Every knob is optional and keeps the throttle's
/// default (see `seawall::shed::ThrottleLayer`) when absent.
///
/// | field | default | |
/// |---|---|---|
/// | `k` | 2 | send up to `k` times what the upstream accepts (1..=100) |
/// | `window` | `"2m"` | requests and accepts are counted over this (at least 1 s) |
/// | `max_probability` | 0.9 | refuse at most this share locally (0..=1), so a trickle probes |
/// | `seed` | 0 | seeds the draws that decide each refusal |
///
/// Responses are classified with [`HttpClassifier`]: a transient status (502, 503, 504,
/// 429, …) or a transport error is a refusal by the upstream; a Seawall rejection from
/// below (an open breaker) counts as neither.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// The multiplier K.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<f64>,
    /// The rolling window.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// The highest share refused locally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_probability: Option<f64>,
    /// Seeds the draws.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl ThrottleConfig {
    /// A [`ThrottleLayer`] with these settings, classifying HTTP results.
    ///
    /// # Errors
    ///
    /// The throttle builder's [`ConfigError`] under `throttle.` (`k`, `max_probability`,
    /// `window`).
    pub fn into_layer(self) -> Result<ThrottleLayer<HttpClassifier>, ConfigError> {
        self.layer_in("throttle")
    }

    pub(crate) fn layer_in(
        &self,
        section: &str,
    ) -> Result<ThrottleLayer<HttpClassifier>, ConfigError> {
        let mut b = ThrottleLayer::builder();
        b = set(b, self.k, |b, v| b.k(v));
        b = set(b, self.window, |b, v| b.window(v));
        b = set(b, self.max_probability, |b, v| b.max_probability(v));
        b = set(b, self.seed, |b, v| b.seed(v));
        b.classify(HttpClassifier::new())
            .build()
            .map_err(in_section(section))
    }
}

impl TryFrom<ThrottleConfig> for ThrottleLayer<HttpClassifier> {
    type Error = ConfigError;

    fn try_from(config: ThrottleConfig) -> Result<Self, ConfigError> {
        config.into_layer()
    }
}
