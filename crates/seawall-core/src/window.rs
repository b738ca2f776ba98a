use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::CoarseClock;
use crate::ConfigError;

/// A count of events over a sliding window of time, kept in time buckets of atomic counters.
///
/// The window is split into `buckets` equal buckets, kept in a ring of as many slots. Each
/// slot holds two atomics: the 64-bit number of the newest bucket that has claimed it (its
/// *stamp*), and a count word that packs the low 32 bits of its bucket's number (a tag) with
/// the count (32 bits). An [`add`](Self::add) raises the stamp with one `fetch_max`; the
/// first add of a new bucket then swaps a fresh count word in with a compare-and-swap that
/// fails if anything moved meanwhile. No lock, no lost or double-counted event, however many
/// threads count at once:
///
/// - a late event (its time read before a thread was descheduled) whose bucket is still the
///   slot's counts there, where it belongs; one whose slot a newer bucket has claimed is
///   dropped, because its bucket has left the window of every time at or after the newer
///   one. It never erases the newer bucket's events.
/// - bucket numbers are 64 bits (a bucket is at least 1 µs, so they never wrap), so however
///   long a counter stays idle, old events never count again.
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
    slots: Box<[Slot]>,
    /// The bucket last counted in and its slot, `bucket << SLOT_BITS | slot`: while a
    /// bucket lasts, an add finds both with a load and two multiplications instead of two
    /// divisions (tens of cycles each). Checked against the time on every use, so a stale
    /// or racing value only costs the divisions, never a wrong bucket.
    hint: AtomicU64,
    /// Events no longer in any slot: counted in a bucket whose slot a newer bucket has since
    /// taken, or late for their slot, or cleared. With the slots, [`total`](Self::total).
    retired: AtomicU64,
}

/// The bits of [`RollingCounter::hint`] that hold the slot (there are at most 1024 slots).
const SLOT_BITS: u32 = 10;

/// One slot of the ring.
#[derive(Debug, Default)]
struct Slot {
    /// The number of the newest bucket that has claimed this slot. Only ever rises (until
    /// [`RollingCounter::clear`]).
    stamp: AtomicU64,
    /// The low 32 bits of the number of the bucket counted here (high half) and its count
    /// (low half). Its tag differs from the stamp's low bits while a newer bucket's first
    /// add is between claiming the stamp and swapping the count in: the count is then an
    /// older bucket's, out of the window of the stamp's time.
    count: AtomicU64,
}

const COUNT_MASK: u64 = u32::MAX as u64;

/// The tag of bucket `bucket` in a count word: its number's low 32 bits.
fn tag(bucket: u64) -> u64 {
    bucket & COUNT_MASK
}

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
            slots: (0..buckets).map(|_| Slot::default()).collect(),
            // Bucket 0, slot 0: right for the first bucket.
            hint: AtomicU64::new(0),
            retired: AtomicU64::new(0),
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
    #[inline]
    pub fn add(&self, n: u32) {
        self.add_at(Instant::now(), n);
    }

    /// Counts `n` events at `now`. A count in a bucket saturates at `u32::MAX`.
    ///
    /// A `now` older than the newest time counted so far is counted in its own bucket while
    /// that bucket is still in the ring, and dropped once a newer bucket has taken its slot
    /// (it has then left the window): a late event never erases newer ones.
    #[inline]
    pub fn add_at(&self, now: Instant, n: u32) {
        self.add_in(self.nanos(now), n);
    }

    /// Counts `n` events at the [`CoarseClock`]'s last reading: like
    /// `add_at(clock.now(), n)`, without the instant arithmetic when the counter starts at
    /// the clock's [`origin`](CoarseClock::origin) (make it with
    /// [`starting_at`](Self::starting_at)`(clock.origin(), …)`): one atomic load and one
    /// division instead of a clock reading.
    #[inline]
    pub fn add_coarse(&self, clock: &CoarseClock, n: u32) {
        if clock.origin() == self.origin {
            self.add_in(clock.nanos(), n);
        } else {
            self.add_at(clock.now(), n);
        }
    }

    /// The bucket `nanos` (from the origin) falls in, and its slot.
    #[inline]
    fn locate(&self, nanos: u64) -> (u64, &Slot) {
        let hint = self.hint.load(Ordering::Relaxed);
        let bucket = hint >> SLOT_BITS;
        // The hint's bucket came from a time no later than the clock's range, so its start
        // does not overflow.
        let start = bucket.wrapping_mul(self.bucket_nanos);
        if nanos.wrapping_sub(start) < self.bucket_nanos && nanos >= start {
            let index = (hint & ((1 << SLOT_BITS) - 1)) as usize;
            if let Some(slot) = self.slots.get(index) {
                return (bucket, slot);
            }
        }
        let bucket = nanos / self.bucket_nanos;
        // Below the number of slots, at most 1024.
        let index = (bucket % self.slots.len() as u64) as usize;
        if bucket <= u64::MAX >> SLOT_BITS {
            self.hint
                .store(bucket << SLOT_BITS | index as u64, Ordering::Relaxed);
        }
        (bucket, &self.slots[index])
    }

    #[inline]
    fn add_in(&self, nanos: u64, n: u32) {
        let (bucket, slot) = self.locate(nanos);
        // The first add of a bucket claims the slot; a slot a newer bucket has claimed
        // refuses (the load spares the common case a read-modify-write).
        if slot.stamp.load(Ordering::Acquire) < bucket
            && slot.stamp.fetch_max(bucket, Ordering::AcqRel) > bucket
        {
            self.retire(u64::from(n));
            return;
        }
        let mut current = slot.count.load(Ordering::Acquire);
        loop {
            // Checked on every try, after reading the count word: once a newer bucket claims
            // the slot, this one has left the window and the count is the newer one's to
            // reset. (A newer bucket's claim comes before its count swap, so a count word
            // that is already the newer bucket's is read with its claim visible.)
            if slot.stamp.load(Ordering::Acquire) != bucket {
                self.retire(u64::from(n));
                return;
            }
            let fresh = current >> 32 != tag(bucket);
            let next = if fresh {
                // The count is an older bucket's: this bucket's first add starts it afresh.
                (tag(bucket) << 32) | u64::from(n)
            } else {
                let count = (current & COUNT_MASK)
                    .saturating_add(u64::from(n))
                    .min(COUNT_MASK);
                (current & !COUNT_MASK) | count
            };
            match slot.count.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if fresh {
                        // The older bucket's events leave the slot, not the total.
                        self.retire(current & COUNT_MASK);
                    }
                    return;
                }
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
        let bucket = self.bucket(now);
        let len = self.slots.len() as u64;
        self.slots
            .iter()
            .map(|slot| {
                let stamp = slot.stamp.load(Ordering::Acquire);
                let count = slot.count.load(Ordering::Acquire);
                // In the window: a bucket no newer than `now` and fewer than `len` before it,
                // whose count is its own (not an older bucket's awaiting its reset).
                let in_window = stamp <= bucket && bucket - stamp < len;
                if in_window && count >> 32 == tag(stamp) {
                    count & COUNT_MASK
                } else {
                    0
                }
            })
            .sum()
    }

    /// Forgets every event counted so far.
    pub fn clear(&self) {
        for slot in self.slots.iter() {
            // A zero count is empty whatever bucket its tag names.
            let cleared = slot.count.swap(0, Ordering::AcqRel);
            self.retire(cleared & COUNT_MASK);
        }
    }

    /// The number of events counted since the counter was made, in the window or not (up to
    /// `u32::MAX` per bucket, as the window counts them), without a counter of its own: each
    /// add stays one compare-and-swap. Exact whenever no add is under way; during one, it
    /// can miss the events of the bucket being replaced, for the moment between the swap
    /// and their move to the retired count.
    pub fn total(&self) -> u64 {
        let in_slots: u64 = self
            .slots
            .iter()
            .map(|slot| slot.count.load(Ordering::Acquire) & COUNT_MASK)
            .sum();
        self.retired.load(Ordering::Acquire) + in_slots
    }

    /// Moves `n` events out of the slots, into the retired count. Rare: at most once per
    /// bucket and slot, and for late events.
    #[cold]
    fn retire(&self, n: u64) {
        if n > 0 {
            self.retired.fetch_add(n, Ordering::AcqRel);
        }
    }

    /// The number of the bucket `now` falls in, counted from the origin. A bucket is at least
    /// 1 µs, so the number fits in 64 bits for 584,000 years.
    fn bucket(&self, now: Instant) -> u64 {
        // 64-bit arithmetic: u128 division is a library call, several times slower.
        self.nanos(now) / self.bucket_nanos
    }

    /// Nanoseconds from the origin to `now` (0 before it).
    #[inline]
    fn nanos(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed).unwrap_or(u64::MAX)
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

    #[tokio::test(start_paused = true)]
    async fn a_late_event_never_erases_the_newer_bucket_of_its_slot() {
        // Four 1 s buckets: bucket 1 and bucket 5 share a slot.
        let w = RollingCounter::new(Duration::from_secs(4), 4).unwrap();
        let origin = w.origin();
        let late = origin + Duration::from_millis(1_500);
        tokio::time::advance(Duration::from_millis(5_500)).await;
        w.add(7);
        // A thread that read the clock at 1.5 s and was descheduled until now counts its
        // event: bucket 1 has left the window, so it is dropped, and the 7 stay.
        w.add_at(late, 1);
        assert_eq!(w.sum(), 7);
        // A late event whose bucket is still in the window counts where it belongs.
        w.add_at(origin + Duration::from_millis(3_100), 2);
        assert_eq!(w.sum(), 9);
        // At 7.5 s the window holds buckets 4 to 7.
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(w.sum(), 7, "the late 2 left with their own bucket (3)");
    }

    #[tokio::test(start_paused = true)]
    async fn old_events_stay_gone_after_an_idle_gap_of_two_to_the_32_buckets() {
        // 1 µs buckets: 2^32 of them are 71.6 minutes.
        let w = RollingCounter::new(Duration::from_micros(10), 10).unwrap();
        w.add(5);
        assert_eq!(w.sum(), 5);
        tokio::time::advance(Duration::from_micros(1 << 32)).await;
        assert_eq!(w.sum(), 0, "the 5 are 71.6 minutes old");
        w.add(1);
        assert_eq!(w.sum(), 1);
    }

    #[test]
    fn late_events_racing_current_ones_never_wipe_them() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let _time = rt.enter();
        let w = std::sync::Arc::new(RollingCounter::new(Duration::from_secs(4), 4).unwrap());
        let origin = w.origin();
        // Bucket 1 (late, out of the window) and bucket 5 (now) share a slot.
        let now = origin + Duration::from_millis(5_500);
        let late = origin + Duration::from_millis(1_500);
        let threads: Vec<_> = [now, now, late, late]
            .into_iter()
            .map(|at| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        w.add_at(at, 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(w.sum_at(now), 20_000);
    }

    #[tokio::test(start_paused = true)]
    async fn the_remembered_bucket_keeps_the_edges_exact() {
        let origin = Instant::now();
        let w = RollingCounter::starting_at(origin, Duration::from_secs(1), 10).unwrap();
        let at = |nanos: u64| origin + Duration::from_nanos(nanos);
        let edge = 100_000_000;
        // Each add moves the remembered bucket: the last nanosecond of bucket 0, the first
        // of bucket 1, then bucket 0 again (a late event) and bucket 1 again.
        w.add_at(at(edge - 1), 1);
        w.add_at(at(edge), 2);
        w.add_at(at(edge - 1), 4);
        w.add_at(at(edge + 1), 8);
        assert_eq!(w.sum_at(at(10 * edge - 1)), 15);
        assert_eq!(
            w.sum_at(at(10 * edge)),
            10,
            "bucket 0 has left at 1 s, not later"
        );
        assert_eq!(w.sum_at(at(11 * edge - 1)), 10);
        assert_eq!(w.sum_at(at(11 * edge)), 0);
        // A lap later, bucket 10 takes bucket 0's slot and starts afresh; a late event of
        // bucket 1 still counts, one of bucket 0 (whose slot is taken) does not.
        w.add_at(at(10 * edge), 16);
        w.add_at(at(edge), 32);
        w.add_at(at(edge - 1), 64);
        assert_eq!(w.sum_at(at(10 * edge)), 16 + 10 + 32);
    }

    #[tokio::test(start_paused = true)]
    async fn the_total_counts_every_event_in_the_window_or_not() {
        let w = RollingCounter::new(Duration::from_secs(1), 10).unwrap();
        let origin = w.origin();
        w.add(3);
        tokio::time::advance(Duration::from_millis(1_500)).await;
        // Bucket 10's add takes bucket 0's slot and retires its 3 events; a late add to
        // bucket 0, whose slot is taken, is retired at once.
        w.add_at(origin + Duration::from_millis(1_000), 4);
        w.add(5);
        w.add_at(origin, 6);
        assert_eq!(w.sum(), 9);
        assert_eq!(w.total(), 18);
        w.clear();
        assert_eq!((w.sum(), w.total()), (0, 18));
        // Threads racing to start the same buckets lose nothing.
        let w = std::sync::Arc::new(RollingCounter::new(Duration::from_micros(40), 4).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        w.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(w.total(), 80_000);
    }

    proptest! {
        /// The sum always equals a brute-force count of the events in the covered buckets,
        /// late events (counted at a time before the newest one) included: a late event
        /// counts exactly when its own bucket is still in the window.
        #[test]
        fn sum_matches_a_reference(
            steps in proptest::collection::vec((0u64..3_000, 0u32..5, prop_oneof![3 => Just(0u64), 1 => 0u64..1_500]), 1..200)
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            rt.block_on(async {
                let bucket = Duration::from_millis(100);
                let w = RollingCounter::new(bucket * 8, 8).unwrap();
                let origin = Instant::now();
                let mut events: Vec<(u64, u32)> = Vec::new();
                for (advance_ms, n, late_ms) in steps {
                    tokio::time::advance(Duration::from_millis(advance_ms)).await;
                    let at = Instant::now()
                        .checked_sub(Duration::from_millis(late_ms))
                        .unwrap_or(origin)
                        .max(origin);
                    w.add_at(at, n);
                    events.push(((at - origin).as_millis() as u64 / 100, n));
                    let now_bucket = (Instant::now() - origin).as_millis() as u64 / 100;
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
