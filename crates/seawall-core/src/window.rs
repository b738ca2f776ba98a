use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::ConfigError;

/// A count of events over a sliding window of time, kept in time buckets of atomic counters.
///
/// The window is split into `buckets` equal buckets. Each bucket is one `AtomicU64` that
/// packs the bucket's sequence number (high 32 bits) with its count (low 32 bits), so an
/// [`add`](Self::add) that lands in a bucket left over from an earlier lap of the ring resets
/// and counts in one compare-and-swap: no lock, no lost or double-counted event, however many
/// threads count at once.
///
/// [`sum`](Self::sum) covers the current bucket and the `buckets - 1` before it, so it spans
/// between `window - window / buckets` and `window` of history. More buckets make the
/// window's edge smoother at the price of a longer sum.
///
/// Time is read from [`tokio::time::Instant`], so paused-time tests control the window.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use seawall_core::RollingCounter;
///
/// let window = RollingCounter::new(Duration::from_secs(10), 10).unwrap();
/// window.add(3);
/// assert_eq!(window.sum(), 3);
/// tokio::time::advance(Duration::from_secs(10)).await;
/// assert_eq!(window.sum(), 0, "the events have left the window");
/// # }
/// ```
pub struct RollingCounter {
    origin: Instant,
    bucket_nanos: u64,
    slots: Box<[AtomicU64]>,
}

const COUNT_MASK: u64 = u32::MAX as u64;

impl RollingCounter {
    /// Creates a window of length `window` split into `buckets` buckets (1 to 1024), each at
    /// least a microsecond long.
    ///
    /// # Errors
    ///
    /// When `buckets` is outside 1..=1024 or `window / buckets` is shorter than 1 µs.
    pub fn new(window: Duration, buckets: usize) -> Result<Self, ConfigError> {
        Self::starting_at(Instant::now(), window, buckets)
    }

    /// Creates a window like [`new`](Self::new) whose buckets start at `origin`: bucket `k`
    /// covers `origin + k × window / buckets` up to the next. Events counted before `origin`
    /// fall in its first bucket.
    ///
    /// Counters that are read together should share one origin (see
    /// [`origin`](Self::origin)): counters made one after the other with `new` each read
    /// the clock, so their bucket edges differ by the nanoseconds in between, and for that
    /// moment an event counted in both at one instant can be in the window of one and out of
    /// the other's.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use seawall_core::RollingCounter;
    /// use tokio::time::Instant;
    ///
    /// let origin = Instant::now();
    /// let requests = RollingCounter::starting_at(origin, Duration::from_secs(10), 10).unwrap();
    /// let failures = RollingCounter::starting_at(origin, Duration::from_secs(10), 10).unwrap();
    /// assert_eq!(requests.origin(), failures.origin());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new): when `buckets` is outside 1..=1024 or `window / buckets` is
    /// shorter than 1 µs.
    pub fn starting_at(
        origin: Instant,
        window: Duration,
        buckets: usize,
    ) -> Result<Self, ConfigError> {
        if !(1..=1024).contains(&buckets) {
            return Err(ConfigError::new(format!(
                "window buckets must be in 1..=1024, got {buckets}"
            )));
        }
        let bucket_nanos = window.as_nanos() / buckets as u128;
        if bucket_nanos < 1_000 || bucket_nanos > u128::from(u64::MAX) {
            return Err(ConfigError::new(format!(
                "window / buckets must be between 1µs and 584 years, got {window:?} / {buckets}"
            )));
        }
        Ok(Self {
            origin,
            bucket_nanos: bucket_nanos as u64,
            slots: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// The instant the first bucket starts at: when the counter was made with
    /// [`new`](Self::new), or the origin given to [`starting_at`](Self::starting_at).
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The length of the window.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.bucket_nanos.saturating_mul(self.slots.len() as u64))
    }

    /// Counts `n` events now.
    pub fn add(&self, n: u32) {
        self.add_at(Instant::now(), n);
    }

    /// Counts `n` events at `now`. A count in a bucket saturates at `u32::MAX`.
    pub fn add_at(&self, now: Instant, n: u32) {
        let seq = self.seq(now);
        let slot = &self.slots[(seq as usize) % self.slots.len()];
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            let next = if current >> 32 == u64::from(seq) {
                let count = (current & COUNT_MASK)
                    .saturating_add(u64::from(n))
                    .min(COUNT_MASK);
                (current & !COUNT_MASK) | count
            } else {
                (u64::from(seq) << 32) | u64::from(n)
            };
            match slot.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The number of events counted in the window ending now.
    pub fn sum(&self) -> u64 {
        self.sum_at(Instant::now())
    }

    /// The number of events counted in the window ending at `now`.
    pub fn sum_at(&self, now: Instant) -> u64 {
        let seq = self.seq(now);
        let len = self.slots.len() as u32;
        self.slots
            .iter()
            .map(|slot| {
                let v = slot.load(Ordering::Acquire);
                let slot_seq = (v >> 32) as u32;
                // An untouched or cleared slot holds a count of 0, current or not.
                if seq.wrapping_sub(slot_seq) < len {
                    v & COUNT_MASK
                } else {
                    0
                }
            })
            .sum()
    }

    /// Forgets every event counted so far.
    pub fn clear(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Release);
        }
    }

    /// The bucket sequence number of `now`: the bucket's index since the origin, truncated to
    /// 32 bits. Truncation is harmless: a slot is read only if its number is within the last
    /// `buckets` of the current one, and a slot left untouched for a multiple of 2^32
    /// buckets (49 days of 1 ms buckets) is the only one that could be misread.
    fn seq(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        // 64-bit arithmetic: u128 division is a library call, several times slower.
        let nanos = u64::try_from(elapsed).unwrap_or(u64::MAX);
        (nanos / self.bucket_nanos) as u32
    }
}

impl fmt::Debug for RollingCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RollingCounter")
            .field("window", &self.window())
            .field("buckets", &self.slots.len())
            .field("sum", &self.sum())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_configs_are_errors_that_name_the_field() {
        let e = RollingCounter::new(Duration::from_secs(1), 0).unwrap_err();
        assert!(e.to_string().contains("buckets"), "{e}");
        let e = RollingCounter::new(Duration::from_nanos(10), 10).unwrap_err();
        assert!(e.to_string().contains("window / buckets"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn events_leave_the_window_bucket_by_bucket() {
        let w = RollingCounter::new(Duration::from_secs(10), 10).unwrap();
        w.add(5);
        tokio::time::advance(Duration::from_secs(3)).await;
        w.add(2);
        assert_eq!(w.sum(), 7);
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(w.sum(), 2, "the first 5 are 10 s old");
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(w.sum(), 0);
        // A full lap of the ring later the old slot is reused, not added to.
        w.add(1);
        assert_eq!(w.sum(), 1);
        w.clear();
        assert_eq!(w.sum(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_start_at_the_given_origin() {
        let origin = Instant::now();
        tokio::time::advance(Duration::from_millis(300)).await;
        let w = RollingCounter::starting_at(origin, Duration::from_secs(10), 10).unwrap();
        assert_eq!(w.origin(), origin);
        // Counted 300 ms into the first bucket, which starts at the origin, not now...
        w.add(1);
        tokio::time::advance(Duration::from_millis(9_700)).await;
        // ...so it leaves the window 10 s after the origin: 9.7 s from now.
        assert_eq!(w.sum(), 0);
        let late = RollingCounter::new(Duration::from_secs(10), 10).unwrap();
        assert_eq!(late.origin(), Instant::now(), "new starts its buckets now");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_adds_are_all_counted() {
        let w = std::sync::Arc::new(RollingCounter::new(Duration::from_secs(1), 4).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                let now = Instant::now();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        w.add_at(now, 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(w.sum(), 40_000);
    }

    proptest! {
        /// The sum always equals a brute-force count of the events in the covered buckets.
        #[test]
        fn sum_matches_a_reference(steps in proptest::collection::vec((0u64..3_000, 0u32..5), 1..200)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            rt.block_on(async {
                let bucket = Duration::from_millis(100);
                let w = RollingCounter::new(bucket * 8, 8).unwrap();
                let origin = Instant::now();
                let mut events: Vec<(u64, u32)> = Vec::new();
                for (advance_ms, n) in steps {
                    tokio::time::advance(Duration::from_millis(advance_ms)).await;
                    w.add(n);
                    let now_bucket = (Instant::now() - origin).as_millis() as u64 / 100;
                    events.push((now_bucket, n));
                    let expected: u64 = events
                        .iter()
                        .filter(|(b, _)| now_bucket - b < 8)
                        .map(|(_, n)| u64::from(*n))
                        .sum();
                    prop_assert_eq!(w.sum(), expected);
                }
                Ok(())
            })?;
        }
    }
}
