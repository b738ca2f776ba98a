//! The budget's deposits, striped per thread: every request deposits, so one shared count
//! word would have the cores take turns owning its cache line, and two threads hammering one
//! budget would each go slower than one alone.

use std::time::Duration;

use seawall_core::clock::CoarseClock;
use seawall_core::stripe::Stripes;
use seawall_core::{ConfigError, RollingCounter};
use tokio::time::Instant;

/// Deposits over a sliding window, counted in one window per stripe and summed on read.
///
/// A thread deposits in its own stripe (see [`seawall_core::stripe`]), so threads on
/// different cores write different cache lines. The windows share one origin and bucket
/// length, so their sum at any instant is the count a single window would hold: striping
/// changes where a deposit is written, never which bucket it is counted in. Reading the sum
/// costs one pass over every stripe, which only the retry path does.
pub(crate) struct Deposits {
    stripes: Stripes<RollingCounter>,
}

impl Deposits {
    /// Windows of `window` in `buckets` buckets starting at `origin`, one per stripe.
    pub(crate) fn starting_at(
        origin: Instant,
        window: Duration,
        buckets: usize,
    ) -> Result<Self, ConfigError> {
        let stripes = Stripes::try_new(|| RollingCounter::starting_at(origin, window, buckets))?;
        Ok(Self { stripes })
    }

    /// Counts one deposit now, by tokio's clock.
    #[inline]
    pub(crate) fn add(&self) {
        self.stripes.mine().add(1);
    }

    /// Counts one deposit at the coarse clock's last reading.
    #[inline]
    pub(crate) fn add_coarse(&self, clock: &CoarseClock) {
        self.stripes.mine().add_coarse(clock, 1);
    }

    /// The deposits in the window ending at `now`.
    pub(crate) fn sum_at(&self, now: Instant) -> u64 {
        self.stripes.iter().map(|s| s.sum_at(now)).sum()
    }

    /// The deposits since the budget was built (see [`RollingCounter::total`]: exact when
    /// no deposit is under way).
    pub(crate) fn total(&self) -> u64 {
        self.stripes.iter().map(|s| s.total()).sum()
    }

    /// The origin of every stripe's window, if they share one (they always do).
    #[cfg(test)]
    pub(crate) fn origin(&self) -> Option<Instant> {
        let first = self.stripes.iter().next()?.origin();
        let shared = self.stripes.iter().all(|s| s.origin() == first);
        shared.then_some(first)
    }

    /// How many stripes there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.stripes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_threads_deposits_count_in_the_same_window() {
        // Real threads read the real clock: a window long enough to hold the whole test.
        let origin = Instant::now();
        let deposits = std::sync::Arc::new(
            Deposits::starting_at(origin, Duration::from_secs(600), 10).unwrap(),
        );
        assert!(deposits.len().is_power_of_two() && deposits.len() >= 4);
        // More threads than stripes, so that some share one.
        let threads: Vec<_> = (0..deposits.len() + 3)
            .map(|_| {
                let deposits = deposits.clone();
                std::thread::spawn(move || {
                    for _ in 0..1_000 {
                        deposits.add();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let expected = (deposits.len() as u64 + 3) * 1_000;
        assert_eq!(deposits.total(), expected);
        assert_eq!(deposits.sum_at(Instant::now()), expected);
        // Every stripe's deposits leave the window together.
        assert_eq!(deposits.sum_at(origin + Duration::from_secs(1200)), 0);
        // Threads took different stripes: no stripe holds them all.
        let busiest = deposits.stripes.iter().map(|s| s.total()).max().unwrap();
        assert!(busiest < expected, "one stripe took every deposit");
    }
}
