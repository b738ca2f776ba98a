//! When to inject: the rate, the seeded generator, the target and the runtime switch that
//! every chaos layer shares.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use seawall_core::rng::{Rng, SharedRng};
use seawall_core::{Calls, ConfigError, Events, Outcome};

/// The default injection rate: one request in a thousand, as Polly's chaos strategies.
pub const DEFAULT_RATE: f64 = 0.001;

/// Draws compare the top 53 bits of a random `u64` with the rate scaled to 2^53.
const SCALE: f64 = (1u64 << 53) as f64;

/// Which requests a chaos layer may inject into. Requests it does not match always pass
/// through, and draw nothing from the generator.
///
/// Closures `Fn(&Req) -> bool` are targets; [`Everything`] is the default, and with the
/// `http` feature `HeaderTarget` matches requests carrying a header.
pub trait Target<Req> {
    /// Whether injection may hit `request`.
    fn matches(&self, request: &Req) -> bool;
}

impl<Req, F> Target<Req> for F
where
    F: Fn(&Req) -> bool,
{
    fn matches(&self, request: &Req) -> bool {
        self(request)
    }
}

/// The default target: every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Everything;

impl<Req> Target<Req> for Everything {
    fn matches(&self, _request: &Req) -> bool {
        true
    }
}

/// The state every clone of a chaos layer and of its handle shares.
#[derive(Debug)]
struct Shared {
    enabled: AtomicBool,
    /// The rate scaled to 2^53: a draw injects when its top 53 bits are below this.
    threshold: AtomicU64,
    /// One stream for every clone, drawn without a lock.
    rng: SharedRng,
}

/// Switches a chaos layer on and off and changes its rate while it runs. Cheap to clone;
/// every clone, and every clone of the layer and its services, is the same switch.
///
/// ```
/// use seawall_chaos::Injection;
///
/// let injection = Injection::builder().rate(0.5).seed(1).build()?;
/// let handle = injection.handle();
/// handle.disable();
/// assert!(!injection.handle().is_enabled());
/// handle.set_rate(0.25)?;
/// assert_eq!(injection.handle().rate(), 0.25);
/// # Ok::<(), seawall_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ChaosHandle {
    shared: Arc<Shared>,
}

impl ChaosHandle {
    /// Turns injection on.
    pub fn enable(&self) {
        self.shared.enabled.store(true, Ordering::Relaxed);
    }

    /// Turns injection off: every request passes through, at the cost of one relaxed
    /// atomic load.
    pub fn disable(&self) {
        self.shared.enabled.store(false, Ordering::Relaxed);
    }

    /// Whether injection is on.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// Sets the share of matching requests to inject into.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `rate` when it is not in 0..=1; the rate is left as it was.
    pub fn set_rate(&self, rate: f64) -> Result<(), ConfigError> {
        let threshold = threshold(rate)?;
        self.shared.threshold.store(threshold, Ordering::Relaxed);
        Ok(())
    }

    /// The share of matching requests injected into (exact to 2^-53).
    pub fn rate(&self) -> f64 {
        self.shared.threshold.load(Ordering::Relaxed) as f64 / SCALE
    }
}

impl fmt::Debug for ChaosHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosHandle")
            .field("enabled", &self.is_enabled())
            .field("rate", &self.rate())
            .finish()
    }
}

fn threshold(rate: f64) -> Result<u64, ConfigError> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(ConfigError::new(format!(
            "rate must be in 0..=1, got {rate}"
        )));
    }
    // Exact: 1.0 scales to 2^53, above every 53-bit draw.
    Ok((rate * SCALE) as u64)
}

/// When a chaos layer injects: a rate, a seeded generator, a [`Target`] and a runtime
/// switch. Every chaos layer is built from one.
///
/// Cloning an `Injection` (or a layer, or a service built from it) shares the switch, the
/// rate and the generator: axum clones a service for every request, and each request still
/// draws the next number of one stream. On a single thread the same seed therefore injects
/// into the same requests, in order. Give two layers separate `Injection`s to draw
/// independently.
///
/// ```
/// use seawall_chaos::Injection;
///
/// let injection = Injection::builder()
///     .rate(0.05)
///     .seed(7)
///     .target(|request: &u32| *request % 2 == 0) // only even requests
///     .build()?;
/// assert!(!injection.inject(&3)); // never an odd one
/// # Ok::<(), seawall_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Injection<T = Everything> {
    shared: Arc<Shared>,
    target: T,
    events: Events,
    calls: Calls,
}

impl Injection {
    /// A builder with the defaults: rate [`DEFAULT_RATE`], enabled, every request, seeded
    /// from entropy unless [`seed`](InjectionBuilder::seed) is called.
    pub fn builder() -> InjectionBuilder {
        InjectionBuilder {
            rate: DEFAULT_RATE,
            enabled: true,
            seed: None,
            name: None,
            target: Everything,
        }
    }
}

impl<T> Injection<T> {
    /// The switch for this injection and every clone of it.
    pub fn handle(&self) -> ChaosHandle {
        ChaosHandle {
            shared: self.shared.clone(),
        }
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// Decides whether to inject into `request`, drawing from the generator when it is on
    /// and the request matches. Off, it costs one relaxed atomic load and a branch, and
    /// counts nothing.
    #[inline]
    pub fn inject<Req>(&self, request: &Req) -> bool
    where
        T: Target<Req>,
    {
        self.draw(request).is_some()
    }

    /// Reports an injection of kind `event` (`"fault"`, `"latency"`, …): a `DEBUG` event
    /// with `layer = "chaos"`, and with `metrics` the counter `seawall_events_total`.
    // Out of line and cold: the event's code must not bloat the layers' `call`, whose
    // switched-off path should inline to one load and a branch.
    #[cold]
    #[inline(never)]
    pub(crate) fn emit(&self, event: &'static str) {
        seawall_core::event!(chaos, DEBUG, &self.events, event);
    }

    /// Whether the injection is switched on: one relaxed load. A layer that checks this
    /// before touching the request keeps its switched-off path free of the request's copy.
    #[inline]
    pub(crate) fn switched_on(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// Like [`inject`](Self::inject), and when it injects, a generator for the injection's
    /// own draws (a latency, say), independent of the stream that decides.
    #[inline]
    pub(crate) fn draw<Req>(&self, request: &Req) -> Option<Rng>
    where
        T: Target<Req>,
    {
        // Switched off: this load and its branch are all (no count, no draw).
        if self.shared.enabled.load(Ordering::Relaxed) {
            self.draw_enabled(request)
        } else {
            None
        }
    }

    #[inline(never)]
    fn draw_enabled<Req>(&self, request: &Req) -> Option<Rng>
    where
        T: Target<Req>,
    {
        // `seawall_calls_total` while switched on: `rejected` when chaos takes a hand,
        // `success` when the request passes untouched.
        if !self.target.matches(request) {
            self.calls.outcome(Outcome::Success);
            return None;
        }
        let threshold = self.shared.threshold.load(Ordering::Relaxed);
        // The shared stream is exactly the stream of `Rng::from_seed(seed)`.
        let bits = self.shared.rng.next_u64();
        if bits >> 11 < threshold {
            self.calls.rejected();
            Some(Rng::from_seed(bits))
        } else {
            self.calls.outcome(Outcome::Success);
            None
        }
    }
}

impl<T> fmt::Debug for Injection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injection")
            .field("enabled", &self.handle().is_enabled())
            .field("rate", &self.handle().rate())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Injection`]; see [`Injection::builder`] for the defaults.
#[derive(Clone, Debug)]
pub struct InjectionBuilder<T = Everything> {
    rate: f64,
    enabled: bool,
    seed: Option<u64>,
    name: Option<String>,
    target: T,
}

impl<T> InjectionBuilder<T> {
    /// The share of matching requests to inject into, in 0..=1 (default [`DEFAULT_RATE`]).
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// Whether injection starts on (default `true`); [`ChaosHandle`] switches it later.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Seeds the generator, so that a run repeats. Without a seed the generator is seeded
    /// from entropy, which `seawall-sim`'s determinism guard notices.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Names the injection in its events and metrics (default: no name), to tell apart
    /// the faults of two upstreams.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Injects only into requests `target` matches (default: every request).
    pub fn target<U>(self, target: U) -> InjectionBuilder<U> {
        InjectionBuilder {
            rate: self.rate,
            enabled: self.enabled,
            seed: self.seed,
            name: self.name,
            target,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `rate` when it is not in 0..=1.
    pub fn build(self) -> Result<Injection<T>, ConfigError> {
        let threshold = threshold(self.rate)?;
        let seed = match self.seed {
            Some(seed) => seed,
            None => Rng::from_entropy().next_u64(),
        };
        let events = match self.name {
            Some(name) => Events::new("chaos").named(name),
            None => Events::new("chaos"),
        };
        let calls = Calls::new(&events);
        Ok(Injection {
            calls,
            shared: Arc::new(Shared {
                enabled: AtomicBool::new(self.enabled),
                threshold: AtomicU64::new(threshold),
                rng: SharedRng::from_seed(seed),
            }),
            target: self.target,
            events,
        })
    }
}
