//! The retry budget: what retries may add to the load, second by second.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_core::clock::CoarseClock;
use seawall_core::RollingCounter;
use tokio::time::Instant;

use crate::stripes::Deposits;
use crate::ConfigError;

/// One retry, in the budget's fixed-point units: ratios are kept in parts per billion so
/// that the arithmetic is integer and exact.
const UNIT: u128 = 1_000_000_000;

/// The budget's window: one second, in ten buckets of 100 ms.
const WINDOW: Duration = Duration::from_secs(1);
const BUCKETS: usize = 10;
const BUCKET_NANOS: u64 = 100_000_000;

/// A retry budget: in any second, the retries that fail may add at most a fixed share of
/// that second's original requests, plus a small floor.
///
/// # Why a budget and not only a maximum of attempts?
///
/// A maximum of attempts bounds each request, not the load: when a dependency is down, three
/// attempts per request send it three times the traffic, exactly when it can least take it,
/// and every tier of a call graph that retries multiplies that again. A budget bounds the
/// *sum*: every original request deposits, every retry withdraws, and when the budget is
/// empty the failure goes back to the caller.
///
/// # The accounting, and why
///
/// Over the last second (a sliding window of ten 100 ms buckets),
///
/// ```text
/// withdrawals − refunds ≤ min_per_second + percent_can_retry × deposits
/// ```
///
/// - **Deposit**: each original request, when it is sent.
/// - **Withdrawal**: each retry, when it is sent (after its backoff).
/// - **Refund**: a retry whose result is done (a success, or an answer no retry could
///   change) returns its withdrawal, counted back in the 100 ms bucket it was drawn from, so
///   the two leave the window together. A retry that fails again, or says "do not retry",
///   costs in full.
///
/// Two choices make it behave in both of the cases that matter:
///
/// - **No savings.** A budget that lets the retries of a long window (Finagle's and tower's:
///   20% of ten seconds of requests) be spent at any moment saves up while the dependency is
///   healthy and spends it all in the first second of an outage — the worst moment, the one
///   at which retry storms start. This budget looks back one second only: the first second
///   of an outage gets the same share as every other one.
/// - **Refunds.** A share of 20% of the requests would refuse retries in a burst of 30%
///   transient errors, though nearly all of them succeed. Charging only the retries that
///   fail keeps such a burst retried in full (at 30% independent errors, 39 retries per 100
///   requests are sent and about 12 cost anything), while in an outage, where every retry
///   fails, the cap holds exactly.
///
/// Measured in the simulator (paused time, 10 ms upstream, the defaults; printed by
/// `cargo test -p seawall-retry --test figures -- --nocapture`): in a total outage after 30
/// healthy seconds, the worst second (the first one included) sends the upstream 1.21× its
/// requests at 1,000 requests/s, 1.20× at 5,000 and 1.30× at 100 (the floor of 10 retries
/// adds 1%, 0.2% and 10%), where the old ten-second budget sent 2.9× and 2.8× in the
/// outage's first second; a 2-second burst of 30% transient errors at 1,000 requests/s is
/// retried without a refusal (2.7% of the burst's requests fail, the ones whose three
/// attempts all failed); 1% random errors for 60 s end in 100% success; two retrying tiers
/// in an outage send the bottom upstream at most 1.21× in any second. The lab's outage
/// scenario (`cargo run --release -p seawall-lab -- --scenario outage`, Poisson arrivals)
/// shows the same: 1,226 attempts for about 1,010 requests in the outage's first second. See
/// `docs/benchmarks.md` for the tables.
///
/// The share is exact: the ratio is kept in parts per billion and compared in integers, so a
/// budget of `0.21` allows 21 retries per 100 requests, not the 25 that a budget computing
/// "one retry per `1 / 0.21` (truncated to 4) deposits" would allow.
///
/// # Sharing
///
/// One budget is shared through an `Arc` by every clone of a [`RetryLayer`](crate::RetryLayer)'s
/// services and by every task that calls them; give several layers the same `Arc` (with
/// [`RetryLayerBuilder::budget`](crate::RetryLayerBuilder::budget)) to share one budget among
/// them, for example across every route to one upstream.
///
/// # Counters
///
/// [`deposits`](Self::deposits), [`withdrawals`](Self::withdrawals),
/// [`refunds`](Self::refunds) and [`refused`](Self::refused) count since the budget was
/// built. With the `metrics` feature they are also the counters
/// `seawall_retry_budget_deposits_total`, `…_withdrawals_total`, `…_refunds_total` and
/// `…_refusals_total`, labelled with the budget's [`name`](RetryBudgetBuilder::name). The
/// counter handles are taken when the budget is built: install the metrics recorder first.
/// The gauge `seawall_retry_budget_remaining{name}` is the budget's balance in retries
/// ([`remaining`](Self::remaining)), set when the budget is built and whenever a retry is
/// decided, withdrawn or refused: on the retry path only, never on a deposit, so between
/// retries it keeps the last value (call [`remaining`](Self::remaining) for the live one).
///
/// # Cost
///
/// A deposit is one compare-and-swap on a time-bucketed atomic counter
/// ([`seawall_core::RollingCounter`]) and a reading of tokio's clock (one atomic load
/// instead with a [`coarse_clock`](RetryBudgetBuilder::coarse_clock)), plus one metrics
/// counter increment with the `metrics` feature. The counters are striped per thread
/// (four stripes per core): two threads depositing at once write different cache lines,
/// so a budget shared by every request of a server does not make its cores take turns. A withdrawal (only on the retry path) is one or
/// two compare-and-swaps and three sums of ten atomics; a refund, one compare-and-swap. No
/// locks, no allocation.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use seawall_retry::RetryBudget;
///
/// let budget = RetryBudget::builder()
///     .percent_can_retry(0.21)
///     .min_per_second(0)
///     .build()
///     .unwrap();
/// for _ in 0..100 {
///     budget.deposit();
/// }
/// let retries = std::iter::from_fn(|| budget.try_withdraw().then_some(())).count();
/// assert_eq!(retries, 21);
/// assert_eq!(budget.refused(), 1);
/// // A second later the requests and the retries have left the window: nothing was saved.
/// tokio::time::advance(Duration::from_secs(1)).await;
/// assert_eq!(budget.remaining(), 0);
/// # }
/// ```
pub struct RetryBudget {
    /// Striped per thread: every request deposits (see [`Deposits`]).
    deposits: Deposits,
    withdrawals: RollingCounter,
    /// Withdrawals given back, in the bucket they were drawn in: refunds of retries that
    /// succeeded, and withdrawals that found the budget empty.
    returned: RollingCounter,
    /// `percent_can_retry`, in parts per billion.
    ratio: u128,
    /// `min_per_second`, in parts per billion of a retry.
    floor: u128,
    counts: Counts,
    percent_can_retry: f64,
    min_per_second: u32,
    name: Arc<str>,
    /// Stamps deposits, when set; otherwise they read tokio's clock.
    clock: Option<Arc<CoarseClock>>,
}

/// The cumulative counters, and their `metrics` handles.
#[derive(Default)]
struct Counts {
    withdrawals: AtomicU64,
    refunds: AtomicU64,
    refusals: AtomicU64,
    #[cfg(feature = "metrics")]
    metrics: Option<Metrics>,
}

#[cfg(feature = "metrics")]
struct Metrics {
    deposits: metrics::Counter,
    withdrawals: metrics::Counter,
    refunds: metrics::Counter,
    refusals: metrics::Counter,
    remaining: metrics::Gauge,
}

/// Bumps one cumulative counter and, with the `metrics` feature, its metrics counter.
macro_rules! count {
    ($counts:expr, $field:ident) => {{
        $counts.$field.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        if let Some(m) = &$counts.metrics {
            m.$field.increment(1);
        }
    }};
}

/// Builds a [`RetryBudget`]; see [`RetryBudget::builder`] for the defaults.
#[derive(Clone, Debug)]
pub struct RetryBudgetBuilder {
    percent_can_retry: f64,
    min_per_second: u32,
    name: Arc<str>,
    clock: Option<Arc<CoarseClock>>,
}

impl RetryBudgetBuilder {
    /// The share of each second's original requests that retries may add, in `0..=1`
    /// (default `0.2`). Retries that succeed are refunded and do not count against it.
    pub fn percent_can_retry(mut self, ratio: f64) -> Self {
        self.percent_can_retry = ratio;
        self
    }

    /// Retries allowed per second whatever the traffic, so that a client sending few
    /// requests can still retry (default 10, at most 1,000,000).
    pub fn min_per_second(mut self, retries: u32) -> Self {
        self.min_per_second = retries;
        self
    }

    /// Names the budget in its metrics (label `name`; default: empty).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Stamps deposits with a [`CoarseClock`] instead of reading tokio's clock (default:
    /// tokio's clock). A deposit then costs about 20 ns less; withdrawals and refunds still
    /// read tokio's clock.
    ///
    /// A deposit is stamped up to one tick of the clock (plus the ticker's scheduling
    /// delay) *earlier* than it was made, so it leaves the one-second window up to that much
    /// earlier: the budget can only allow fewer retries than with the exact clock, never
    /// more. With a tick of 10 ms, a tenth of a bucket, the difference is at most the
    /// deposits of the window's oldest 10 ms. In paused-time tests, the clock moves only
    /// when the runtime runs its ticker: after `advance`, yield before depositing.
    pub fn coarse_clock(mut self, clock: Arc<CoarseClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the values and builds the budget; its window starts now (with a
    /// [`coarse_clock`](Self::coarse_clock), at the clock's origin).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `percent_can_retry` must be finite and in
    /// `0..=1`, `min_per_second` at most 1,000,000.
    pub fn build(self) -> Result<RetryBudget, ConfigError> {
        let ratio = self.percent_can_retry;
        ConfigError::check_within("percent_can_retry", ratio, 0.0..=1.0)?;
        if self.min_per_second > 1_000_000 {
            return Err(ConfigError::new(format!(
                "min_per_second must be at most 1000000, got {}",
                self.min_per_second
            )));
        }
        // One origin for the three windows, so that their buckets turn over at the same
        // instants and a refund leaves the window with the withdrawal it gives back.
        // With a coarse clock, its origin, so that a deposit is one load and one division.
        let origin = self
            .clock
            .as_ref()
            .map_or_else(Instant::now, |c| c.origin());
        let window = || {
            RollingCounter::starting_at(origin, WINDOW, BUCKETS)
                .map_err(|e| ConfigError::new(format!("window: {e}")))
        };
        let budget = RetryBudget {
            deposits: Deposits::starting_at(origin, WINDOW, BUCKETS)
                .map_err(|e| ConfigError::new(format!("window: {e}")))?,
            withdrawals: window()?,
            returned: window()?,
            // In 0..=1e9 after the check above; rounding makes 0.21 exactly 210_000_000.
            ratio: (ratio * UNIT as f64).round() as u128,
            floor: u128::from(self.min_per_second) * UNIT,
            counts: Counts {
                #[cfg(feature = "metrics")]
                metrics: Some(Metrics::new(&self.name)),
                ..Counts::default()
            },
            percent_can_retry: ratio,
            min_per_second: self.min_per_second,
            name: self.name,
            clock: self.clock,
        };
        // The floor: all a budget without deposits allows.
        budget.show_remaining(budget.floor);
        Ok(budget)
    }
}

#[cfg(feature = "metrics")]
impl Metrics {
    fn new(name: &Arc<str>) -> Self {
        let counter = |metric: &'static str| metrics::counter!(metric, "name" => name.to_string());
        Self {
            deposits: counter("seawall_retry_budget_deposits_total"),
            withdrawals: counter("seawall_retry_budget_withdrawals_total"),
            refunds: counter("seawall_retry_budget_refunds_total"),
            refusals: counter("seawall_retry_budget_refusals_total"),
            remaining: metrics::gauge!("seawall_retry_budget_remaining", "name" => name.to_string()),
        }
    }
}

/// Where a layer that sends requests again gets its [`RetryBudget`]: what the builders of
/// [`RetryLayer`](crate::RetryLayer) and of `seawall-hedge`'s `HedgeLayer` choose between,
/// resolved once, when the layer is built.
#[derive(Clone, Debug, Default)]
pub enum BudgetChoice {
    /// A budget of the layer's own, made when it is built (the default).
    #[default]
    Fresh,
    /// A budget shared with whoever else holds it; the layer deposits each of its requests.
    Shared(Arc<RetryBudget>),
    /// The budget of a layer outside this one, which deposits each request: this layer only
    /// withdraws, so that the two together never exceed the budget's share.
    Borrowed(Arc<RetryBudget>),
    /// No budget: only the layer's attempts bound what it sends.
    Unlimited,
}

impl BudgetChoice {
    /// The budget the layer draws on, if any (`fresh` makes the layer's own), and whether
    /// the layer deposits its requests in it.
    ///
    /// # Errors
    ///
    /// The error of `fresh`.
    pub fn resolve(
        self,
        fresh: impl FnOnce() -> Result<RetryBudget, ConfigError>,
    ) -> Result<(Option<Arc<RetryBudget>>, bool), ConfigError> {
        Ok(match self {
            Self::Fresh => (Some(Arc::new(fresh()?)), true),
            Self::Shared(budget) => (Some(budget), true),
            Self::Borrowed(budget) => (Some(budget), false),
            Self::Unlimited => (None, false),
        })
    }
}

/// A retry drawn from a [`RetryBudget`]: hand it back with [`RetryBudget::refund`] if the
/// retry succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    at: Instant,
}

impl RetryBudget {
    /// Starts building a budget: 20% of each second's requests plus 10 retries per second.
    pub fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder {
            percent_can_retry: 0.2,
            min_per_second: 10,
            name: Arc::from(""),
            clock: None,
        }
    }

    /// Records one original request (the layer does this once per call).
    #[inline]
    pub fn deposit(&self) {
        match &self.clock {
            Some(clock) => self.deposits.add_coarse(clock),
            None => self.deposits.add(),
        }
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.counts.metrics {
            m.deposits.increment(1);
        }
    }

    /// The retries allowed and the withdrawals in force over the window ending at `now`,
    /// in units.
    fn balance_at(&self, now: Instant) -> (u128, u128) {
        // Returns are read before withdrawals: every return seen then has its withdrawal
        // seen too, so the withdrawals in force are never underestimated.
        let returned = self.returned.sum_at(now);
        let withdrawals = self.withdrawals.sum_at(now);
        let deposits = self.deposits.sum_at(now);
        let allowed = self.floor + self.ratio * u128::from(deposits);
        let taken = u128::from(withdrawals.saturating_sub(returned)) * UNIT;
        (allowed, taken)
    }

    /// Takes one retry from the budget if there is one; `None` when the budget is empty
    /// (counted as [refused](Self::refused)).
    ///
    /// Concurrent withdrawals never take more than the budget holds: each counts itself
    /// first and checks after, giving itself back if it overdrew. Under a race two
    /// withdrawals may both step back where one of them could have gone; a budget errs on
    /// the side of fewer retries.
    pub fn withdraw(&self) -> Option<Withdrawal> {
        let now = Instant::now();
        self.withdrawals.add_at(now, 1);
        let (allowed, taken) = self.balance_at(now);
        if taken <= allowed {
            count!(self.counts, withdrawals);
            self.show_remaining(allowed.saturating_sub(taken));
            Some(Withdrawal { at: now })
        } else {
            self.returned.add_at(now, 1);
            count!(self.counts, refusals);
            // Less than one retry was left (this one overdrew it).
            self.show_remaining(0);
            None
        }
    }

    /// Sets the gauge `seawall_retry_budget_remaining` to `units` (whole retries), with the
    /// `metrics` feature.
    #[inline]
    fn show_remaining(&self, units: u128) {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.counts.metrics {
            m.remaining.set((units / UNIT) as f64);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = units;
    }

    /// Like [`withdraw`](Self::withdraw), for a retry that will never be refunded.
    pub fn try_withdraw(&self) -> bool {
        self.withdraw().is_some()
    }

    /// Gives back a withdrawal whose retry succeeded: it no longer counts against the
    /// budget. A withdrawal that has already left the window (its retry took longer than
    /// the window) has nothing left to give back.
    pub fn refund(&self, withdrawal: Withdrawal) {
        count!(self.counts, refunds);
        let now = Instant::now();
        if bucket(&self.withdrawals, now).saturating_sub(bucket(&self.withdrawals, withdrawal.at))
            < BUCKETS as u64
        {
            self.returned.add_at(withdrawal.at, 1);
        }
    }

    /// Whether a withdrawal would succeed right now, without taking one; a `false` counts
    /// as [refused](Self::refused). The layer asks this when a retry is decided, so that a
    /// request finding the budget empty fails at once instead of after its backoff, and
    /// withdraws only when the retry is sent.
    pub(crate) fn has_room(&self) -> bool {
        let remaining = self.remaining();
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.counts.metrics {
            m.remaining.set(remaining as f64);
        }
        if remaining > 0 {
            true
        } else {
            count!(self.counts, refusals);
            false
        }
    }

    /// The retries the budget allows right now.
    pub fn remaining(&self) -> u64 {
        let (allowed, taken) = self.balance_at(Instant::now());
        u64::try_from(allowed.saturating_sub(taken) / UNIT).unwrap_or(u64::MAX)
    }

    /// Original requests deposited since the budget was built (exact whenever no deposit
    /// is under way; see [`RollingCounter::total`]).
    pub fn deposits(&self) -> u64 {
        self.deposits.total()
    }

    /// Retries withdrawn since the budget was built (refunded ones included).
    pub fn withdrawals(&self) -> u64 {
        self.counts.withdrawals.load(Ordering::Relaxed)
    }

    /// Withdrawals given back because their retry succeeded, since the budget was built.
    pub fn refunds(&self) -> u64 {
        self.counts.refunds.load(Ordering::Relaxed)
    }

    /// How many retries found the budget empty since it was built.
    pub fn refused(&self) -> u64 {
        self.counts.refusals.load(Ordering::Relaxed)
    }

    /// The share of each second's original requests that failed retries may add.
    pub fn percent_can_retry(&self) -> f64 {
        self.percent_can_retry
    }

    /// The retries allowed per second whatever the traffic.
    pub fn min_per_second(&self) -> u32 {
        self.min_per_second
    }

    /// The budget's name in its metrics.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The number of the 100 ms bucket `at` falls in.
fn bucket(window: &RollingCounter, at: Instant) -> u64 {
    let nanos = at.saturating_duration_since(window.origin()).as_nanos();
    u64::try_from(nanos / u128::from(BUCKET_NANOS)).unwrap_or(u64::MAX)
}

impl Default for RetryBudget {
    /// 20% of each second's requests plus 10 retries per second.
    fn default() -> Self {
        RetryBudget::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("the default budget is valid"))
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("name", &self.name)
            .field("percent_can_retry", &self.percent_can_retry)
            .field("min_per_second", &self.min_per_second)
            .field("remaining", &self.remaining())
            .field("deposits", &self.deposits())
            .field("withdrawals", &self.withdrawals())
            .field("refunds", &self.refunds())
            .field("refused", &self.refused())
            .finish()
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
