use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seawall_core::RollingCounter;
use tokio::time::Instant;

use crate::ConfigError;

/// One retry, in the budget's fixed-point units: ratios are kept in parts per billion so
/// that the arithmetic is integer and exact.
const UNIT: u128 = 1_000_000_000;

/// How many buckets the budget's windows are split into.
const BUCKETS: usize = 10;

/// A retry budget: retries may add at most a fixed share of the original requests, plus a
/// small floor, over a sliding window of time.
///
/// # Why a budget and not only a maximum of attempts?
///
/// A maximum of attempts bounds each request, not the load: when a dependency is down, three
/// retries per request send it four times the traffic, exactly when it can least take it,
/// and every tier of a call graph that retries multiplies that again. A budget bounds the
/// *sum*: every original request deposits, every retry withdraws, and when the budget is
/// empty the failure goes back to the caller. Transient faults (a few percent of calls) are
/// retried as before; an outage is amplified by at most `1 + percent_can_retry` (plus the
/// floor), however long it lasts.
///
/// Over any window of `ttl`, the retries allowed are
///
/// ```text
/// withdrawals ≤ min_per_second × ttl + percent_can_retry × deposits
/// ```
///
/// counted exactly: the ratio is kept in parts per billion and compared in integers, so a
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
/// # Cost
///
/// A deposit is one compare-and-swap on a time-bucketed atomic counter
/// ([`seawall_core::RollingCounter`]). A withdrawal (only on the retry path) is one or two
/// compare-and-swaps and three sums of ten atomics. No locks.
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
/// # }
/// ```
pub struct RetryBudget {
    deposits: RollingCounter,
    withdrawals: RollingCounter,
    /// Withdrawals taken back because they found the budget empty.
    refunds: RollingCounter,
    /// `percent_can_retry`, in parts per billion.
    ratio: u128,
    /// `min_per_second × ttl`, in parts per billion of a retry.
    reserve: u128,
    refused: AtomicU64,
    percent_can_retry: f64,
    min_per_second: u32,
    ttl: Duration,
}

/// Builds a [`RetryBudget`]; see [`RetryBudget::builder`] for the defaults.
#[derive(Clone, Debug)]
pub struct RetryBudgetBuilder {
    percent_can_retry: f64,
    min_per_second: u32,
    ttl: Duration,
}

impl RetryBudgetBuilder {
    /// The share of original requests that may be retried, in `0..=1` (default `0.2`).
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

    /// How long a deposit or a withdrawal counts, from 1 s to 60 s (default 10 s).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Checks the values and builds the budget; its window starts now.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `percent_can_retry` must be finite and in
    /// `0..=1`, `min_per_second` at most 1,000,000, `ttl` from 1 s to 60 s.
    pub fn build(self) -> Result<RetryBudget, ConfigError> {
        let ratio = self.percent_can_retry;
        if !(ratio.is_finite() && (0.0..=1.0).contains(&ratio)) {
            return Err(ConfigError::new(format!(
                "percent_can_retry must be in 0..=1, got {ratio}"
            )));
        }
        if self.min_per_second > 1_000_000 {
            return Err(ConfigError::new(format!(
                "min_per_second must be at most 1000000, got {}",
                self.min_per_second
            )));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.ttl) {
            return Err(ConfigError::new(format!(
                "ttl must be from 1s to 60s, got {:?}",
                self.ttl
            )));
        }
        // One origin for the three windows, so that their buckets turn over at the same
        // instants and a refund never outlives the withdrawal it takes back.
        let origin = Instant::now();
        let window = |field: &str| {
            RollingCounter::starting_at(origin, self.ttl, BUCKETS)
                .map_err(|e| ConfigError::new(format!("ttl: {field} window: {e}")))
        };
        Ok(RetryBudget {
            deposits: window("deposits")?,
            withdrawals: window("withdrawals")?,
            refunds: window("refunds")?,
            // In 0..=1e9 after the check above; rounding makes 0.21 exactly 210_000_000.
            ratio: (ratio * UNIT as f64).round() as u128,
            // min_per_second × ttl, in nanoseconds × units per second: exact.
            reserve: u128::from(self.min_per_second) * self.ttl.as_nanos(),
            refused: AtomicU64::new(0),
            percent_can_retry: ratio,
            min_per_second: self.min_per_second,
            ttl: self.ttl,
        })
    }
}

impl RetryBudget {
    /// Starts building a budget: 20% of requests plus 10 retries per second, over 10 s.
    pub fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder {
            percent_can_retry: 0.2,
            min_per_second: 10,
            ttl: Duration::from_secs(10),
        }
    }

    /// Records one original request (the layer does this once per call).
    pub fn deposit(&self) {
        self.deposits.add(1);
    }

    /// Takes one retry from the budget if there is one; `false` when the budget is empty.
    ///
    /// Concurrent withdrawals never take more than the budget holds: each counts itself
    /// first and checks after, taking itself back if it overdrew. Under a race two
    /// withdrawals may both step back where one of them could have gone; a budget errs on
    /// the side of fewer retries.
    pub fn try_withdraw(&self) -> bool {
        let now = Instant::now();
        self.withdrawals.add_at(now, 1);
        // Refunds are read before withdrawals: every refund seen then has its withdrawal
        // seen too, so the count of withdrawals in force is never underestimated.
        let refunds = self.refunds.sum_at(now);
        let withdrawals = self.withdrawals.sum_at(now);
        let deposits = self.deposits.sum_at(now);
        let taken = u128::from(withdrawals.saturating_sub(refunds)) * UNIT;
        let allowed = self.reserve + self.ratio * u128::from(deposits);
        if taken <= allowed {
            true
        } else {
            self.refunds.add_at(now, 1);
            self.refused.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// Whether a withdrawal would succeed right now, without taking one; a `false` counts
    /// as [refused](Self::refused). The layer asks this when a retry is decided, so that a
    /// request finding the budget empty fails at once instead of after its backoff, and
    /// withdraws only when the retry is sent.
    pub(crate) fn has_room(&self) -> bool {
        if self.remaining() > 0 {
            true
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// The retries the budget allows right now.
    pub fn remaining(&self) -> u64 {
        let now = Instant::now();
        let refunds = self.refunds.sum_at(now);
        let withdrawals = self.withdrawals.sum_at(now);
        let deposits = self.deposits.sum_at(now);
        let allowed = self.reserve + self.ratio * u128::from(deposits);
        let taken = u128::from(withdrawals.saturating_sub(refunds)) * UNIT;
        u64::try_from(allowed.saturating_sub(taken) / UNIT).unwrap_or(u64::MAX)
    }

    /// How many retries found the budget empty since it was built.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The share of original requests that may be retried.
    pub fn percent_can_retry(&self) -> f64 {
        self.percent_can_retry
    }

    /// The retries allowed per second whatever the traffic.
    pub fn min_per_second(&self) -> u32 {
        self.min_per_second
    }

    /// How long a deposit or a withdrawal counts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

impl Default for RetryBudget {
    /// 20% of requests plus 10 retries per second, over 10 s.
    fn default() -> Self {
        RetryBudget::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("the default budget is valid"))
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("percent_can_retry", &self.percent_can_retry)
            .field("min_per_second", &self.min_per_second)
            .field("ttl", &self.ttl)
            .field("remaining", &self.remaining())
            .field("refused", &self.refused())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn budget(ratio: f64, floor: u32) -> RetryBudget {
        RetryBudget::builder()
            .percent_can_retry(ratio)
            .min_per_second(floor)
            .build()
            .unwrap()
    }

    fn drain(b: &RetryBudget) -> u64 {
        let mut n = 0;
        while b.try_withdraw() {
            n += 1;
        }
        n
    }

    #[test]
    fn bad_configs_name_the_field() {
        for (builder, field) in [
            (
                RetryBudget::builder().percent_can_retry(1.5),
                "percent_can_retry",
            ),
            (
                RetryBudget::builder().percent_can_retry(-0.1),
                "percent_can_retry",
            ),
            (
                RetryBudget::builder().percent_can_retry(f64::NAN),
                "percent_can_retry",
            ),
            (
                RetryBudget::builder().min_per_second(2_000_000),
                "min_per_second",
            ),
            (
                RetryBudget::builder().ttl(Duration::from_millis(999)),
                "ttl",
            ),
            (RetryBudget::builder().ttl(Duration::from_secs(61)), "ttl"),
        ] {
            let e = builder.build().unwrap_err();
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ratios_are_exact_where_a_truncated_divisor_is_not() {
        // tower's TpsBudget withdraws `(1 / 0.21) as isize` = 4 per retry: 25 retries per 100.
        for (ratio, per_10_000) in [
            (0.21, 2100),
            (0.2, 2000),
            (0.1, 1000),
            (0.33, 3300),
            (0.999, 9990),
        ] {
            let b = budget(ratio, 0);
            for _ in 0..10_000 {
                b.deposit();
            }
            assert_eq!(drain(&b), per_10_000, "ratio {ratio}");
        }
        let none = budget(0.0, 0);
        none.deposit();
        assert!(!none.try_withdraw(), "a zero budget allows nothing");
        let all = budget(1.0, 0);
        for _ in 0..7 {
            all.deposit();
        }
        assert_eq!(drain(&all), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn the_floor_is_per_second_over_the_ttl_and_refills_as_withdrawals_expire() {
        let b = budget(0.2, 10);
        assert_eq!(b.remaining(), 100, "10 per second × 10 s");
        assert_eq!(drain(&b), 100);
        assert_eq!(b.remaining(), 0);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(b.remaining(), 100, "the withdrawals have left the window");
        for _ in 0..50 {
            b.deposit();
        }
        assert_eq!(b.remaining(), 110);
        assert_eq!(b.refused(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn default_is_the_builders_default() {
        let d = RetryBudget::default();
        let b = RetryBudget::builder().build().unwrap();
        assert_eq!((d.ratio, d.reserve), (b.ratio, b.reserve));
        assert_eq!(d.remaining(), 100);
    }

    #[test]
    fn the_three_windows_share_one_origin() {
        // Real clock: three separate readings of it would differ by nanoseconds.
        let b = budget(0.2, 10);
        assert_eq!(b.deposits.origin(), b.withdrawals.origin());
        assert_eq!(b.deposits.origin(), b.refunds.origin());
    }

    #[tokio::test(start_paused = true)]
    async fn has_room_peeks_and_counts_a_refusal() {
        let b = budget(0.0, 0);
        b.deposit();
        assert!(!b.has_room());
        assert_eq!(b.refused(), 1);
        let b = budget(1.0, 0);
        b.deposit();
        assert!(b.has_room());
        assert!(b.has_room(), "a peek takes nothing");
        assert!(b.try_withdraw());
        assert!(!b.has_room());
    }

    #[test]
    fn concurrent_withdrawals_never_overdraw() {
        // Real threads, real clock: the 10 s window outlasts the test by far.
        let b = Arc::new(budget(0.2, 0));
        for _ in 0..10_000 {
            b.deposit();
        }
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || (0..2_000).filter(|_| b.try_withdraw()).count() as u64)
            })
            .collect();
        let concurrent: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(
            concurrent <= 2_000,
            "overdrawn: {concurrent} retries from a budget of 2000"
        );
        // Races may only have made some withdrawals step back; alone, the rest are there.
        assert_eq!(concurrent + drain(&b), 2_000);
    }

    proptest! {
        /// For any ratio and floor, the retries allowed are exactly
        /// floor(floor × ttl + ratio × deposits), computed in exact rationals.
        #[test]
        fn matches_exact_rational_arithmetic(per_million in 0u64..=1_000_000, floor in 0u32..20, deposits in 0u64..5_000) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            rt.block_on(async {
                let b = budget(per_million as f64 / 1e6, floor);
                for _ in 0..deposits {
                    b.deposit();
                }
                let expected = u64::from(floor) * 10 + per_million * deposits / 1_000_000;
                prop_assert_eq!(drain(&b), expected);
                Ok(())
            })?;
        }
    }
}
