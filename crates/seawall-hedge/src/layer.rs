use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::keyed::KeyedTable;
use seawall_core::{Calls, ConfigError, Events};
use seawall_retry::{BudgetChoice, RetryBudget};
use tokio::time::Instant;
use tower_layer::Layer;

use crate::events::{Counters, HedgeStats};
use crate::gate::Gate;
use crate::window::{Adaptive, LatencyWindow};
use crate::{Hedge, HedgeErrors};

/// Where the delay comes from.
pub(crate) enum DelaySource {
    Fixed(Duration),
    Adaptive(LatencyWindow),
    /// A window per key, bounded, and the shared one for requests without a key of their
    /// own (no key, the table full) and for keys still learning.
    PerKey {
        shared: LatencyWindow,
        keys: KeyedTable<u64, LatencyWindow>,
    },
}

impl DelaySource {
    pub(crate) fn current(&self) -> Option<Duration> {
        match self {
            Self::Fixed(d) => Some(*d),
            Self::Adaptive(w) | Self::PerKey { shared: w, .. } => w.delay(),
        }
    }

    /// The window of `key`, made on first use; `None` without per-key delays, without a
    /// key, or when the table is full.
    pub(crate) fn window_of(&self, key: Option<u64>) -> Option<Arc<LatencyWindow>> {
        match (self, key) {
            (Self::PerKey { shared, keys }, Some(key)) => {
                keys.get_or_insert_with(&key, |_| LatencyWindow::new(*shared.config()))
            }
            _ => None,
        }
    }

    /// Records a first attempt's latency (or a lower bound of it) in the shared window and
    /// in its key's; nothing for a fixed delay.
    pub(crate) fn record(
        &self,
        key: Option<&LatencyWindow>,
        now: Instant,
        latency: Duration,
        at_least: bool,
    ) {
        match self {
            Self::Fixed(_) => {}
            Self::Adaptive(w) | Self::PerKey { shared: w, .. } => w.record(now, latency, at_least),
        }
        if let Some(w) = key {
            w.record(now, latency, at_least);
        }
    }

    pub(crate) fn ceiling(&self) -> Duration {
        match self {
            Self::Fixed(d) => (*d).max(Duration::from_secs(10)),
            Self::Adaptive(w) | Self::PerKey { shared: w, .. } => w.config().ceiling,
        }
    }
}

impl fmt::Debug for DelaySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(d) => f.debug_tuple("Fixed").field(d).finish(),
            Self::Adaptive(w) => f
                .debug_struct("Adaptive")
                .field("config", w.config())
                .field("delay", &w.delay())
                .finish(),
            Self::PerKey { shared, keys } => f
                .debug_struct("PerKey")
                .field("config", shared.config())
                .field("delay", &shared.delay())
                .field("keys", &keys.len())
                .finish(),
        }
    }
}

/// What every service of one layer, and every response future, shares.
#[derive(Debug)]
pub(crate) struct Shared<P> {
    pub(crate) delay: DelaySource,
    /// Attempts per request, the first included.
    pub(crate) max_attempts: u32,
    pub(crate) budget: Option<Arc<RetryBudget>>,
    /// Whether this layer deposits each request in the budget (not when a retry layer
    /// outside it does).
    pub(crate) deposit: bool,
    pub(crate) gate: Gate,
    pub(crate) events: Events,
    /// `seawall_calls_total` for this layer: each request's final answer.
    pub(crate) calls: Calls,
    pub(crate) counters: Counters,
    pub(crate) policy: P,
}

/// Sends another copy of a request that has not answered after a delay; the first acceptable
/// answer wins.
///
/// Build one with [`HedgeLayer::builder`]; see the [crate docs](crate) for the why and the
/// knobs.
///
/// # Clone
///
/// Clones share the configuration, the policy, the latency window and the budget: every
/// service the layer makes, and every clone of those, learns from and adds to the same
/// figures.
pub struct HedgeLayer<P = HedgeErrors> {
    shared: Arc<Shared<P>>,
}

impl<P> Clone for HedgeLayer<P> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<P: fmt::Debug> fmt::Debug for HedgeLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeLayer")
            .field("delay", &self.shared.delay)
            .field("max_attempts", &self.shared.max_attempts)
            .field("budget", &self.shared.budget)
            .field("policy", &self.shared.policy)
            .finish()
    }
}

impl HedgeLayer {
    /// Starts building a layer with the defaults: the delay is the 95th percentile of the
    /// last 500–1,000 latencies (at most 10 s old) once 100 are known (floor 1 ms, ceiling 10 s), one extra
    /// attempt, a fresh budget of 5% of each second's requests plus 10 hedges per second,
    /// [`HedgeErrors`] as the policy.
    pub fn builder() -> HedgeLayerBuilder<HedgeErrors> {
        HedgeLayerBuilder {
            delay: None,
            adaptive: Adaptive {
                percentile: 0.95,
                min_samples: 100,
                window_samples: 1000,
                window: Duration::from_secs(10),
                floor: Duration::from_millis(1),
                ceiling: Duration::from_secs(10),
            },
            max_extra_attempts: 1,
            budget: BudgetChoice::Fresh,
            max_extra_load: 0.05,
            min_per_second: 10,
            min_win_rate: 0.05,
            per_key: None,
            events: Events::new("hedge"),
            policy: HedgeErrors::new(),
        }
    }
}

impl<P> HedgeLayer<P> {
    /// The delay after which a request is hedged now: `None` while the latency window holds
    /// fewer than `min_samples` latencies.
    pub fn delay(&self) -> Option<Duration> {
        self.shared.delay.current()
    }

    /// What the hedges did since the layer was built.
    pub fn stats(&self) -> HedgeStats {
        self.shared.counters.snapshot()
    }

    /// The budget the hedges draw on, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.shared.budget.as_ref()
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.shared.policy
    }
}

impl<S, P> Layer<S> for HedgeLayer<P> {
    type Service = Hedge<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Hedge::new(inner, self.shared.clone())
    }
}

/// Builds a [`HedgeLayer`]; see [`HedgeLayer::builder`] for the defaults.
#[derive(Clone, Debug)]
pub struct HedgeLayerBuilder<P> {
    delay: Option<Duration>,
    adaptive: Adaptive,
    max_extra_attempts: u32,
    budget: BudgetChoice,
    max_extra_load: f64,
    min_per_second: u32,
    min_win_rate: f64,
    per_key: Option<(usize, Duration)>,
    events: Events,
    policy: P,
}

impl<P> HedgeLayerBuilder<P> {
    /// Hedges after a fixed `delay` instead of a latency percentile (at most 1 h).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The latency percentile that is the delay, in `0.5..1` (default `0.95`): about the
    /// share of requests that are not hedged.
    pub fn percentile(mut self, percentile: f64) -> Self {
        self.adaptive.percentile = percentile;
        self
    }

    /// Latencies the window must hold before hedging starts, 1 to 1,000,000 (default 100).
    pub fn min_samples(mut self, samples: u32) -> Self {
        self.adaptive.min_samples = samples;
        self
    }

    /// How many recent latencies the percentile covers, from 2 to 1,000,000 (default 1,000):
    /// the last half of this to all of it. At 1,000 requests per second that is the last
    /// 0.5–1 s, so the delay follows a shift within a second; at least twice
    /// [`min_samples`](Self::min_samples).
    pub fn window_samples(mut self, samples: u32) -> Self {
        self.adaptive.window_samples = samples;
        self
    }

    /// The oldest latency the percentile covers, from 100 ms to 1 h (default 10 s): under
    /// light traffic the window turns over after this long (the last half of it to all of
    /// it) rather than after [`window_samples`](Self::window_samples).
    pub fn window(mut self, window: Duration) -> Self {
        self.adaptive.window = window;
        self
    }

    /// The shortest adaptive delay (default 1 ms).
    pub fn floor(mut self, floor: Duration) -> Self {
        self.adaptive.floor = floor;
        self
    }

    /// The longest adaptive delay, at most 1 h (default 10 s). A `Retry-After` longer than
    /// this stops further attempts.
    pub fn ceiling(mut self, ceiling: Duration) -> Self {
        self.adaptive.ceiling = ceiling;
        self
    }

    /// Attempts beyond the first, 1 to 10 (default 1). Each further one waits the delay
    /// again after the one before.
    pub fn max_extra_attempts(mut self, attempts: u32) -> Self {
        self.max_extra_attempts = attempts;
        self
    }

    /// The share of each second's requests that hedges may add, in `0..=1` (default
    /// `0.05`), for the layer's own budget.
    pub fn max_extra_load(mut self, ratio: f64) -> Self {
        self.max_extra_load = ratio;
        self
    }

    /// Hedges allowed per second whatever the traffic, for the layer's own budget (default
    /// 10).
    pub fn min_per_second(mut self, hedges: u32) -> Self {
        self.min_per_second = hedges;
        self
    }

    /// The share of extra attempts that must answer first for hedging on the delay to go
    /// on, in `0..=1` (default `0.05`; `0` turns the check off). Over the last two seconds,
    /// once 10 hedges were sent on the delay, if fewer than this share won (a hedge still in
    /// flight has not), hedges on the delay stop but for one probe every 100 ms, until the
    /// share recovers (attempts after a failure are still sent). A hedge that waits in the same queue as its first attempt, at an upstream
    /// at capacity, almost never wins: it only adds load.
    pub fn min_win_rate(mut self, rate: f64) -> Self {
        self.min_win_rate = rate;
        self
    }

    /// Learns a delay per key — the policy's [`key`](crate::Policy::key) of each request,
    /// such as `HttpPolicy`'s authority — for at most `max_keys` keys, each forgotten after
    /// `idle` without requests (default: off, one delay for every request). A key uses the
    /// shared delay until its own window holds `min_samples`, and so do requests without a
    /// key and keys that find the table full. Each key's window takes about 11 KiB.
    pub fn per_key(mut self, max_keys: usize, idle: Duration) -> Self {
        self.per_key = Some((max_keys, idle));
        self
    }

    /// Draws on `budget`, and deposits each request in it: for a budget several hedge
    /// layers share.
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = BudgetChoice::Shared(budget);
        self
    }

    /// Draws on the budget of a [`RetryLayer`](seawall_retry::RetryLayer) placed *outside*
    /// this layer, without depositing: the retry layer deposits once per request, and its
    /// retries and these hedges withdraw from the same share, so that together they never
    /// exceed it.
    pub fn shared_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = BudgetChoice::Borrowed(budget);
        self
    }

    /// Hedges with no budget: only the attempts bound them. A slowdown of the upstream then
    /// gets every request hedged; use with care.
    pub fn unlimited_budget(mut self) -> Self {
        self.budget = BudgetChoice::Unlimited;
        self
    }

    /// Names this layer in its events (default: empty).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.events = self.events.named(name);
        self
    }

    /// Decides which answers win and how requests are copied (default [`HedgeErrors`]).
    pub fn policy<Q>(self, policy: Q) -> HedgeLayerBuilder<Q> {
        HedgeLayerBuilder {
            delay: self.delay,
            adaptive: self.adaptive,
            max_extra_attempts: self.max_extra_attempts,
            budget: self.budget,
            max_extra_load: self.max_extra_load,
            min_per_second: self.min_per_second,
            min_win_rate: self.min_win_rate,
            per_key: self.per_key,
            events: self.events,
            policy,
        }
    }

    /// Checks the configuration and builds the layer; its latency window starts now.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field and its range.
    pub fn build(self) -> Result<HedgeLayer<P>, ConfigError> {
        let a = self.adaptive;
        let hour = Duration::from_secs(3600);
        if !(a.percentile.is_finite() && (0.5..1.0).contains(&a.percentile)) {
            return Err(ConfigError::new(format!(
                "percentile must be in 0.5..1, got {}",
                a.percentile
            )));
        }
        ConfigError::check_within("min_samples", a.min_samples, 1..=1_000_000)?;
        if !(2..=1_000_000).contains(&a.window_samples) || a.min_samples > a.window_samples / 2 {
            return Err(ConfigError::new(format!(
                "window_samples must be in 2..=1000000 and at least twice min_samples ({}), got {}",
                a.min_samples, a.window_samples
            )));
        }
        if !(Duration::from_millis(100)..=hour).contains(&a.window) {
            return Err(ConfigError::new(format!(
                "window must be from 100ms to 1h, got {:?}",
                a.window
            )));
        }
        if a.ceiling > hour || a.floor > a.ceiling {
            return Err(ConfigError::new(format!(
                "floor ({:?}) must be at most ceiling ({:?}), and ceiling at most 1h",
                a.floor, a.ceiling
            )));
        }
        if self.delay.is_some_and(|d| d > hour) {
            return Err(ConfigError::new(format!(
                "delay must be at most 1h, got {:?}",
                self.delay
            )));
        }
        ConfigError::check_within("max_extra_attempts", self.max_extra_attempts, 1..=10)?;
        ConfigError::check_within("min_win_rate", self.min_win_rate, 0.0..=1.0)?;
        let gate = Gate::new(self.min_win_rate)?;
        let (budget, deposit) = self.budget.resolve(|| {
            RetryBudget::builder()
                .percent_can_retry(self.max_extra_load)
                .min_per_second(self.min_per_second)
                .name(self.events.name())
                .build()
                .map_err(|e| ConfigError::new(format!("max_extra_load or min_per_second: {e}")))
        })?;
        let delay = match (self.delay, self.per_key) {
            (Some(d), _) => DelaySource::Fixed(d),
            (None, None) => DelaySource::Adaptive(LatencyWindow::new(a)),
            (None, Some((max_keys, idle))) => DelaySource::PerKey {
                shared: LatencyWindow::new(a),
                keys: KeyedTable::new(max_keys, idle)
                    .map_err(|e| ConfigError::new(format!("per_key: {e}")))?,
            },
        };
        Ok(HedgeLayer {
            shared: Arc::new(Shared {
                delay,
                max_attempts: self.max_extra_attempts + 1,
                budget,
                deposit,
                gate,
                calls: Calls::new(&self.events),
                events: self.events,
                counters: Counters::default(),
                policy: self.policy,
            }),
        })
    }
}

impl Default for HedgeLayer {
    /// The defaults of [`HedgeLayer::builder`].
    fn default() -> Self {
        HedgeLayer::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}
