use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::rng::Rng;
use seawall_core::stripe;
use seawall_core::{Calls, Events};
use tower_layer::Layer;

use crate::{Backoff, BudgetChoice, ConfigError, Retry, RetryBudget, RetryErrors};

/// What every service of one layer, and every response future, shares.
#[derive(Debug)]
pub(crate) struct Shared<P> {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) max_retry_after: Duration,
    /// Whether a longer `Retry-After` is cut to `max_retry_after` rather than given up on.
    pub(crate) clamp_retry_after: bool,
    pub(crate) budget: Option<Arc<RetryBudget>>,
    pub(crate) events: Events,
    /// `seawall_calls_total` for this layer: each request's final answer.
    pub(crate) calls: Calls,
    pub(crate) seed: u64,
    /// Hands each retrying request its own jitter stream; touched only on the retry path.
    pub(crate) streams: AtomicU64,
    /// Shared rather than cloned per call: its methods take `&self`.
    pub(crate) policy: P,
}

/// Retries failed calls with backoff, within a shared [`RetryBudget`].
///
/// Build one with [`RetryLayer::builder`]; see the [crate docs](crate) for the why and the
/// knobs.
///
/// # Clone
///
/// Clones share the configuration, the policy and the budget.
pub struct RetryLayer<P = RetryErrors> {
    shared: Arc<Handles<P>>,
}

/// The layer's shared state as its services hold it, with one handle to it per stripe for
/// the response futures: a future owns a handle (it outlives the call), and were every
/// future to clone one `Arc`, two threads calling at once would take turns owning its
/// reference count's cache line on every call (see [`seawall_core::stripe::Handles`]).
pub(crate) type Handles<P> = stripe::Handles<Shared<P>>;

/// One stripe's handle to the shared state.
pub(crate) type Handle<P> = stripe::Handle<Shared<P>>;

impl<P> Shared<P> {
    /// Gives a withdrawal back to the budget (there is one only when there is a budget).
    pub(crate) fn refund(&self, withdrawal: crate::budget::Withdrawal) {
        if let Some(budget) = &self.budget {
            budget.refund(withdrawal);
        }
    }
}

impl<P> Clone for RetryLayer<P> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<P: fmt::Debug> fmt::Debug for RetryLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("max_attempts", &self.shared.max_attempts)
            .field("backoff", &self.shared.backoff)
            .field("max_retry_after", &self.shared.max_retry_after)
            .field("clamp_retry_after", &self.shared.clamp_retry_after)
            .field("budget", &self.shared.budget)
            .field("policy", &self.shared.policy)
            .finish()
    }
}

impl RetryLayer {
    /// Starts building a layer: 3 attempts, [`Backoff::default`] (exponential from 50 ms,
    /// capped at 3 s, full jitter), `Retry-After` honoured up to 10 s (a longer one is not
    /// retried), a fresh [`RetryBudget::default`] (failed retries: 20% of each second's
    /// requests plus 10), [`RetryErrors`] as the policy, a random seed.
    pub fn builder() -> RetryLayerBuilder<RetryErrors> {
        RetryLayerBuilder {
            max_attempts: 3,
            backoff: Backoff::default(),
            max_retry_after: Duration::from_secs(10),
            clamp_retry_after: false,
            budget: BudgetChoice::Fresh,
            events: Events::new("retry"),
            seed: None,
            policy: RetryErrors::new(),
        }
    }
}

impl<P> RetryLayer<P> {
    /// The budget the layer's services draw on, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.shared.budget.as_ref()
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.shared.policy
    }
}

impl<S, P> Layer<S> for RetryLayer<P> {
    type Service = Retry<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, self.shared.clone())
    }
}

/// Builds a [`RetryLayer`]; see [`RetryLayer::builder`] for the defaults.
#[derive(Clone, Debug)]
pub struct RetryLayerBuilder<P> {
    max_attempts: u32,
    backoff: Backoff,
    max_retry_after: Duration,
    clamp_retry_after: bool,
    budget: BudgetChoice,
    events: Events,
    seed: Option<u64>,
    policy: P,
}

impl<P> RetryLayerBuilder<P> {
    /// Attempts per request, the first included, from 1 to 100 (default 3: two retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The wait before each retry (default [`Backoff::default`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest `Retry-After` the layer waits out before retrying (default 10 s, at most
    /// 1 h). A failure asking for a longer wait is not retried: the caller gets it as it
    /// came, the server's answer and its `Retry-After` included (a 429 with `Retry-After:
    /// 3600` would otherwise spend a retry, ten seconds later, on a near-certain second
    /// 429). See [`clamp_retry_after`](Self::clamp_retry_after) for the other choice.
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Retries a failure whose `Retry-After` is longer than
    /// [`max_retry_after`](Self::max_retry_after) after `max_retry_after` instead of giving
    /// it back (default: off). For callees whose hints are known to be pessimistic.
    pub fn clamp_retry_after(mut self, clamp: bool) -> Self {
        self.clamp_retry_after = clamp;
        self
    }

    /// Draws on `budget`, shared with whoever else holds it (default: a fresh
    /// [`RetryBudget::default`] for this layer and its clones).
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = BudgetChoice::Shared(budget);
        self
    }

    /// Retries with no budget: only [`max_attempts`](Self::max_attempts) bounds them. An
    /// outage is then amplified `max_attempts` times; use with care.
    pub fn unlimited_budget(mut self) -> Self {
        self.budget = BudgetChoice::Unlimited;
        self
    }

    /// Names this layer in its events (default: empty).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.events = self.events.named(name);
        self
    }

    /// Seeds the jitter, for repeatable runs (default: a random seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Decides what is retried and how requests are replayed (default [`RetryErrors`]).
    ///
    /// One policy serves every service of the layer and every call, through a shared
    /// reference: it is not cloned per call.
    pub fn policy<Q>(self, policy: Q) -> RetryLayerBuilder<Q> {
        RetryLayerBuilder {
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            max_retry_after: self.max_retry_after,
            clamp_retry_after: self.clamp_retry_after,
            budget: self.budget,
            events: self.events,
            seed: self.seed,
            policy,
        }
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `max_attempts` in 1..=100, `max_retry_after` at
    /// most 1 h, and the backoff's `factor` in 1..=100 and `cap` from the base to 1 h.
    pub fn build(self) -> Result<RetryLayer<P>, ConfigError> {
        ConfigError::check_within("max_attempts", self.max_attempts, 1..=100)?;
        if self.max_retry_after > Duration::from_secs(3600) {
            return Err(ConfigError::new(format!(
                "max_retry_after must be at most 1h, got {:?}",
                self.max_retry_after
            )));
        }
        self.backoff.validate()?;
        // The retry layer deposits in every budget it draws on: it never borrows one.
        let (budget, _deposits) =
            (self.budget).resolve(|| RetryBudget::builder().name(self.events.name()).build())?;
        // Seeded from entropy only when no seed was given, and then visibly so (the
        // simulator's determinism guard counts it).
        let seed = self.seed.unwrap_or_else(|| Rng::from_entropy().next_u64());
        Ok(RetryLayer {
            shared: Arc::new(Handles::new(Arc::new(Shared {
                max_attempts: self.max_attempts,
                backoff: self.backoff,
                max_retry_after: self.max_retry_after,
                clamp_retry_after: self.clamp_retry_after,
                budget,
                calls: Calls::new(&self.events),
                events: self.events,
                seed,
                streams: AtomicU64::new(0),
                policy: self.policy,
            }))),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bad_configs_are_errors_that_name_the_field() {
        let cases = [
            (
                RetryLayer::builder().max_attempts(0).build().unwrap_err(),
                "max_attempts",
            ),
            (
                RetryLayer::builder().max_attempts(101).build().unwrap_err(),
                "max_attempts",
            ),
            (
                RetryLayer::builder()
                    .max_retry_after(Duration::from_secs(7200))
                    .build()
                    .unwrap_err(),
                "max_retry_after",
            ),
            (
                RetryLayer::builder()
                    .backoff(Backoff::exponential(Duration::from_millis(10)).factor(f64::INFINITY))
                    .build()
                    .unwrap_err(),
                "backoff.factor",
            ),
            (
                RetryLayer::builder()
                    .backoff(
                        Backoff::linear(Duration::from_millis(100)).cap(Duration::from_millis(10)),
                    )
                    .build()
                    .unwrap_err(),
                "backoff.cap",
            ),
        ];
        for (err, field) in cases {
            assert!(err.to_string().starts_with(field), "{err}");
        }
    }

    /// A layer built without a seed seeds its jitter from entropy through core's `Rng`, so the
    /// simulator's determinism guard sees it; a seeded layer does not.
    #[test]
    fn an_unseeded_layer_is_visible_to_the_determinism_guard() {
        use seawall_core::rng::entropy_seedings_on_this_thread;

        let before = entropy_seedings_on_this_thread();
        let _seeded = RetryLayer::builder().seed(3).build().unwrap();
        assert_eq!(entropy_seedings_on_this_thread(), before);
        let _unseeded = RetryLayer::builder().build().unwrap();
        assert_eq!(entropy_seedings_on_this_thread(), before + 1);
    }
}
