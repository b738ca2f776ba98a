//! The latency window the adaptive delay reads: a lock-free log histogram per half of a
//! rotating window, and the percentile over both halves, cached.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Values under this many microseconds have a bucket each.
const EXACT: u64 = 128;
/// Sub-buckets per octave above `EXACT`: a bucket is at most 1/64 of its value wide.
const SUB: u64 = 64;
/// The largest value recorded, in microseconds (about 134 s); longer ones count here.
const MAX_MICROS: u64 = (1 << 27) - 1;
/// Buckets: 128 exact ones, then 64 per octave up to 2^27 µs.
pub(crate) const BUCKETS: usize = 1408;
/// The cached percentile is recomputed every this many samples.
const RECOMPUTE_EVERY: u64 = 64;

/// The bucket of a value in microseconds.
fn index(micros: u64) -> usize {
    let v = micros.min(MAX_MICROS);
    if v < EXACT {
        return v as usize;
    }
    let shift = u64::from(63 - v.leading_zeros()) - 6;
    (shift * SUB + (v >> shift)) as usize
}

/// The middle of bucket `i`, in nanoseconds.
fn midpoint_nanos(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i * 1000 + 500;
    }
    let shift = i / SUB - 1;
    let lower = (i - shift * SUB) << shift;
    lower * 1000 + (1000 << shift) / 2
}

/// One half of the window.
struct Slot {
    /// Samples in the slot.
    count: AtomicU64,
    /// When the slot started, in nanoseconds since the window's origin.
    started: AtomicU64,
    buckets: Box<[AtomicU32]>,
}

impl Slot {
    fn new() -> Self {
        Self {
            count: AtomicU64::new(0),
            started: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

/// How the adaptive delay is computed; validated by the layer's builder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Adaptive {
    pub(crate) percentile: f64,
    pub(crate) min_samples: u32,
    pub(crate) window_samples: u32,
    pub(crate) window: Duration,
    pub(crate) floor: Duration,
    pub(crate) ceiling: Duration,
}

/// Recent latencies and the delay they give.
///
/// The window has two halves. Samples go into the current half; when it holds
/// `window_samples / 2` samples, or is `window / 2` old, the other half is cleared and
/// becomes the current one. The percentile covers the current half and the one before it
/// (if younger than `window`): the last `window_samples / 2` to `window_samples` samples, or
/// fewer when traffic is light. So at high rates the delay follows a shift within a
/// fraction of a second, and at low rates it still has samples to work with.
///
/// Recording is two atomic additions (more when the half rotates, and every 64 samples,
/// when the cached delay is refreshed from both halves). Under concurrent rotation a sample
/// can land in a half being cleared and be lost: the estimate is statistical, not a count.
pub(crate) struct LatencyWindow {
    config: Adaptive,
    origin: Instant,
    half_nanos: u64,
    half_samples: u64,
    slots: [Slot; 2],
    /// The current half is `slots[epoch % 2]`.
    epoch: AtomicU64,
    /// The delay in nanoseconds; 0 until the window holds `min_samples`.
    cached: AtomicU64,
    samples: AtomicU64,
}

impl LatencyWindow {
    pub(crate) fn new(config: Adaptive) -> Self {
        let half = (config.window / 2).as_nanos().max(1);
        Self {
            config,
            origin: Instant::now(),
            half_nanos: u64::try_from(half).unwrap_or(u64::MAX),
            half_samples: u64::from(config.window_samples / 2).max(1),
            slots: [Slot::new(), Slot::new()],
            epoch: AtomicU64::new(0),
            cached: AtomicU64::new(0),
            samples: AtomicU64::new(0),
        }
    }

    pub(crate) fn config(&self) -> &Adaptive {
        &self.config
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The delay now, or `None` while the window holds fewer than `min_samples` samples.
    pub(crate) fn delay(&self) -> Option<Duration> {
        match self.cached.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Records that a first attempt took `latency`, or, with `at_least`, that it took
    /// longer (it lost to a hedge or was cancelled after the delay). An at-least sample
    /// counts as slower than any latency: it is above the delay for sure, and placing it at
    /// the time it was cut short would make the percentile fall under the true one (a
    /// primary cut short 20 ms after a 300 ms delay says nothing about 320 ms). Until the
    /// window holds `min_samples`, every sample refreshes the delay.
    pub(crate) fn record(&self, now: Instant, latency: Duration, at_least: bool) {
        let t = self.nanos(now);
        let mut epoch = self.epoch.load(Ordering::Acquire);
        let mut rotated = false;
        let current = &self.slots[(epoch % 2) as usize];
        let age = t.saturating_sub(current.started.load(Ordering::Relaxed));
        if current.count.load(Ordering::Relaxed) >= self.half_samples || age >= self.half_nanos {
            let next = &self.slots[((epoch + 1) % 2) as usize];
            match self
                .epoch
                .compare_exchange(epoch, epoch + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    for bucket in next.buckets.iter() {
                        bucket.store(0, Ordering::Relaxed);
                    }
                    next.count.store(0, Ordering::Relaxed);
                    next.started.store(t, Ordering::Relaxed);
                    epoch += 1;
                    rotated = true;
                }
                Err(now_current) => epoch = now_current,
            }
        }
        let slot = &self.slots[(epoch % 2) as usize];
        let micros = if at_least {
            u64::MAX
        } else {
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)
        };
        slot.buckets[index(micros)].fetch_add(1, Ordering::Relaxed);
        slot.count.fetch_add(1, Ordering::Relaxed);
        let n = self.samples.fetch_add(1, Ordering::Relaxed) + 1;
        if rotated || n % RECOMPUTE_EVERY == 0 || self.cached.load(Ordering::Relaxed) == 0 {
            self.recompute(epoch, t);
        }
    }

    /// Computes the percentile over the current half and the one before (if younger than
    /// the window), and caches it, clamped to the floor and the ceiling.
    fn recompute(&self, epoch: u64, t: u64) {
        let current = &self.slots[(epoch % 2) as usize];
        let previous = &self.slots[((epoch + 1) % 2) as usize];
        let fresh = t.saturating_sub(previous.started.load(Ordering::Relaxed))
            < self.half_nanos.saturating_mul(2);
        let previous = (fresh && epoch > 0).then_some(previous);
        let count = |i: usize| {
            let get =
                |s: Option<&Slot>| s.map_or(0, |s| u64::from(s.buckets[i].load(Ordering::Relaxed)));
            get(Some(current)) + get(previous)
        };
        let total: u64 = (0..BUCKETS).map(count).sum();
        if total < u64::from(self.config.min_samples) || total == 0 {
            self.cached.store(0, Ordering::Relaxed);
            return;
        }
        let rank = ((self.config.percentile * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        let mut at = BUCKETS - 1;
        for i in 0..BUCKETS {
            seen += count(i);
            if seen >= rank {
                at = i;
                break;
            }
        }
        let delay =
            Duration::from_nanos(midpoint_nanos(at)).clamp(self.config.floor, self.config.ceiling);
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.cached.store(nanos, Ordering::Relaxed);
    }
}

impl seawall_core::keyed::Retain for LatencyWindow {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_narrow() {
        assert_eq!(index(0), 0);
        assert_eq!(index(127), 127);
        assert_eq!(index(128), 128);
        assert_eq!(index(MAX_MICROS), BUCKETS - 1);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        let mut last = 0;
        for v in [
            1u64, 100, 128, 200, 1000, 9_999, 12_000, 65_000, 1_000_000, 50_000_000,
        ] {
            let i = index(v);
            assert!(i >= last);
            last = i;
            let mid = midpoint_nanos(i) as f64 / 1000.0;
            assert!(
                (mid - v as f64).abs() <= (v as f64 / 64.0).max(0.5),
                "{v} µs reads as {mid}"
            );
        }
        // Whole milliseconds (what a millisecond timer measures) read just under themselves,
        // so a delay taken from them fires on that very tick.
        assert_eq!(midpoint_nanos(index(12_000)), 11_968_000);
    }

    #[tokio::test(start_paused = true)]
    async fn percentile_after_min_samples_and_rotation() {
        let window = LatencyWindow::new(Adaptive {
            percentile: 0.9,
            min_samples: 10,
            window_samples: 1000,
            window: Duration::from_secs(2),
            floor: Duration::from_millis(1),
            ceiling: Duration::from_secs(1),
        });
        let now = Instant::now();
        for ms in 1..=9 {
            window.record(now, Duration::from_millis(ms * 10), false);
        }
        assert_eq!(window.delay(), None, "9 samples are fewer than 10");
        window.record(now, Duration::from_millis(100), false);
        let d = window.delay().unwrap();
        assert!((89..=91).contains(&d.as_millis()), "{d:?}");
        // Two halves later the old samples are gone, and new ones alone make the delay.
        let later = now + Duration::from_secs(2);
        for _ in 0..10 {
            window.record(later, Duration::from_millis(5), false);
        }
        let d = window.delay().unwrap();
        assert!((4_900..=5_100).contains(&d.as_micros()), "{d:?}");
        // Beyond the ceiling: clamped.
        for _ in 0..100 {
            window.record(later, Duration::from_secs(5), false);
        }
        assert_eq!(window.delay(), Some(Duration::from_secs(1)));
        // At-least samples count as slower than anything, however early they were cut.
        let fresh = LatencyWindow::new(*window.config());
        for i in 0..100 {
            fresh.record(later, Duration::from_millis(10), i % 10 == 0);
        }
        assert_eq!(
            fresh.delay(),
            Some(Duration::from_secs(1)),
            "10% above the p90"
        );
    }
}
