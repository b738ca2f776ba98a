//! The windows over which failure and slow-call rates are measured.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};

use seawall_core::stripe::Stripes;
use seawall_core::RollingCounter;
use tokio::time::Instant;

use crate::config::Window;

const USED: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

/// The last `n` calls, lock-free.
///
/// Each recording takes a ticket from one counter (`next`) and *swaps* its outcome into
/// slot `ticket % n`. The swap returns what it replaced, and the running totals are moved
/// by exactly the difference, so however recordings interleave (even two that lap the ring
/// onto one slot) every outcome written is counted once and removed once. Clearing is the
/// same: it swaps an empty value into each slot and moves the totals by what it took out,
/// never storing into a total. So when no recording or clearing is in progress, the totals
/// equal the contents of the slots. A total can be read while another thread is between
/// its swap and its total update; readers clamp, and the error is at most one call per
/// recording or slot clearing in progress.
///
/// Every access is `Relaxed`: the argument above needs only that the swaps on one slot
/// happen in one order (true of read-modify-writes on one atomic whatever the ordering),
/// and that the total updates, being additions, land in any order. Nothing else is
/// published through the window.
#[derive(Debug)]
struct CountWindow {
    slots: Box<[AtomicU8]>,
    next: AtomicU64,
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl CountWindow {
    fn new(n: u32) -> Self {
        Self {
            slots: (0..n).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicU64::new(0),
            calls: AtomicI64::new(0),
            failures: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    #[inline(always)]
    fn record(&self, failed: bool, slow: bool) {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        let value = USED | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 };
        let slot = &self.slots[(ticket % self.slots.len() as u64) as usize];
        // A slot that already holds this outcome (most of them, while calls succeed) is
        // left unwritten: swapping a value for itself changes nothing, and a load is that
        // swap at the moment of the load, so the argument below holds. Only the ticket is
        // then written, and the slots' cache lines stay shared between the cores.
        if slot.load(Ordering::Relaxed) == value {
            return;
        }
        let old = slot.swap(value, Ordering::Relaxed);
        self.replaced(old, value);
    }

    /// Moves the totals by the difference between `new`, just swapped into a slot, and
    /// `old`, which the swap took out.
    #[inline]
    fn replaced(&self, old: u8, new: u8) {
        let delta = |bit: u8| i64::from(new & bit != 0) - i64::from(old & bit != 0);
        for (bit, total) in [
            (USED, &self.calls),
            (FAILED, &self.failures),
            (SLOW, &self.slow),
        ] {
            let d = delta(bit);
            if d != 0 {
                total.fetch_add(d, Ordering::Relaxed);
            }
        }
    }

    fn totals(&self) -> Totals {
        let calls = self.calls.load(Ordering::Relaxed).max(0) as u64;
        let clamp = |v: i64| (v.max(0) as u64).min(calls);
        Totals {
            calls,
            failures: clamp(self.failures.load(Ordering::Relaxed)),
            slow: clamp(self.slow.load(Ordering::Relaxed)),
        }
    }

    /// Empties every slot. A recording racing the clear may land before or after it, and
    /// the totals stay equal to the slots either way.
    fn clear(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Ordering::Relaxed);
            if old != 0 {
                self.replaced(old, 0);
            }
        }
    }
}

/// The calls of the last stretch of time, in three rolling counters.
#[derive(Debug)]
struct TimeWindow {
    calls: RollingCounter,
    failures: RollingCounter,
    slow: RollingCounter,
}

/// A window's contents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

/// A count or a time window.
#[derive(Debug)]
pub(crate) struct Outcomes {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Count(CountWindow),
    Time(TimeWindow),
    /// A time window per stripe (see [`seawall_core::stripe`]), summed on read: a thread
    /// counts a call in its own stripe's buckets, so two threads on one breaker write
    /// different cache lines. The windows share one origin and bucket length, so their sum
    /// is what one window would hold. For a breaker shared by a service's clones; a keyed
    /// breaker's many small breakers keep one window each.
    Striped(Stripes<TimeWindow>),
}

impl TimeWindow {
    /// Three counters of `length` in `buckets` buckets from `origin`; validated before.
    fn starting_at(origin: Instant, length: std::time::Duration, buckets: usize) -> Self {
        let counter = || {
            RollingCounter::starting_at(origin, length, buckets).unwrap_or_else(|_| {
                // Validated in `Config::validate`; a one-bucket second is a safe stand-in
                // that cannot fail.
                RollingCounter::starting_at(origin, std::time::Duration::from_secs(1), 1)
                    .unwrap_or_else(|_| unreachable!())
            })
        };
        Self {
            calls: counter(),
            failures: counter(),
            slow: counter(),
        }
    }

    #[inline]
    fn record(&self, now: Instant, failed: bool, slow: bool) {
        self.calls.add_at(now, 1);
        if failed {
            self.failures.add_at(now, 1);
        }
        if slow {
            self.slow.add_at(now, 1);
        }
    }

    /// The raw sums at `now` (not clamped to the calls).
    fn sums(&self, now: Instant) -> Totals {
        Totals {
            calls: self.calls.sum_at(now),
            failures: self.failures.sum_at(now),
            slow: self.slow.sum_at(now),
        }
    }

    fn clear(&self) {
        self.calls.clear();
        self.failures.clear();
        self.slow.clear();
    }
}

impl Outcomes {
    /// Builds the window; `config` was validated. A time window is `striped` per thread
    /// (for a breaker that many threads share) or one (for one of many keyed breakers).
    pub(crate) fn new(config: Window, striped: bool) -> Self {
        let kind = match config {
            Window::Count(n) => Kind::Count(CountWindow::new(n)),
            Window::Time { length, buckets } => {
                let origin = Instant::now();
                let window = || TimeWindow::starting_at(origin, length, buckets);
                if striped {
                    Kind::Striped(Stripes::new(window))
                } else {
                    Kind::Time(window())
                }
            }
        };
        Self { kind }
    }

    #[inline(always)]
    pub(crate) fn record(&self, failed: bool, slow: bool, now: impl FnOnce() -> Instant) {
        match &self.kind {
            Kind::Count(w) => w.record(failed, slow),
            Kind::Time(w) => w.record(now(), failed, slow),
            Kind::Striped(w) => w.mine().record(now(), failed, slow),
        }
    }

    pub(crate) fn totals(&self, now: Instant) -> Totals {
        let sums = match &self.kind {
            Kind::Count(w) => return w.totals(),
            Kind::Time(w) => w.sums(now),
            Kind::Striped(w) => w
                .iter()
                .map(|w| w.sums(now))
                .fold(Totals::default(), |a, b| Totals {
                    calls: a.calls + b.calls,
                    failures: a.failures + b.failures,
                    slow: a.slow + b.slow,
                }),
        };
        Totals {
            calls: sums.calls,
            failures: sums.failures.min(sums.calls),
            slow: sums.slow.min(sums.calls),
        }
    }

    pub(crate) fn clear(&self) {
        match &self.kind {
            Kind::Count(w) => w.clear(),
            Kind::Time(w) => w.clear(),
            Kind::Striped(w) => w.iter().for_each(TimeWindow::clear),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_count_window_keeps_the_last_n_calls() {
        let w = CountWindow::new(4);
        for failed in [true, true, false, false] {
            w.record(failed, false);
        }
        assert_eq!(
            w.totals(),
            Totals {
                calls: 4,
                failures: 2,
                slow: 0
            }
        );
        w.record(false, true);
        w.record(false, false);
        assert_eq!(
            w.totals(),
            Totals {
                calls: 4,
                failures: 0,
                slow: 1
            },
            "the two failures were pushed out"
        );
        w.clear();
        assert_eq!(w.totals(), Totals::default());
    }

    #[test]
    fn concurrent_recordings_leave_totals_equal_to_the_slots() {
        let w = Arc::new(CountWindow::new(7));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u32 {
                        w.record((i + t) % 3 == 0, i % 5 == 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let slots: Vec<u8> = w.slots.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        let count = |bit: u8| slots.iter().filter(|v| *v & bit != 0).count() as u64;
        assert_eq!(
            w.totals(),
            Totals {
                calls: count(USED),
                failures: count(FAILED),
                slow: count(SLOW)
            }
        );
        assert_eq!(w.totals().calls, 7);
    }

    #[test]
    fn a_striped_time_window_counts_every_threads_calls_in_one_window() {
        // Real threads read the real clock: a window long enough to hold the whole test.
        let length = std::time::Duration::from_secs(600);
        let window = Window::Time {
            length,
            buckets: 10,
        };
        let striped = Arc::new(Outcomes::new(window, true));
        assert!(matches!(striped.kind, Kind::Striped(_)));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let w = striped.clone();
                std::thread::spawn(move || {
                    for i in 0..1_000u32 {
                        w.record(i % 4 == 0, i % 5 == 0, Instant::now);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let now = Instant::now();
        let expected = Totals {
            calls: 6_000,
            failures: 1_500,
            slow: 1_200,
        };
        assert_eq!(striped.totals(now), expected);
        // Every stripe's calls leave the window together.
        assert_eq!(striped.totals(now + 2 * length), Totals::default());
        striped.clear();
        assert_eq!(striped.totals(now), Totals::default());
    }

    fn slot_totals(w: &CountWindow) -> Totals {
        let slots: Vec<u8> = w.slots.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        let count = |bit: u8| slots.iter().filter(|v| *v & bit != 0).count() as u64;
        Totals {
            calls: count(USED),
            failures: count(FAILED),
            slow: count(SLOW),
        }
    }

    #[test]
    fn clearing_while_recording_leaves_totals_equal_to_the_slots() {
        // A transition clears the window while calls of the old epoch may still be
        // recording: the totals must not drift from what the slots hold.
        for round in 0..50 {
            let w = Arc::new(CountWindow::new(5));
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let clearer = {
                let (w, stop) = (w.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        w.clear();
                    }
                })
            };
            let threads: Vec<_> = (0..3)
                .map(|t| {
                    let w = w.clone();
                    std::thread::spawn(move || {
                        for i in 0..20_000u32 {
                            w.record((i + t) % 2 == 0, i % 3 == 0);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            stop.store(true, Ordering::Relaxed);
            clearer.join().unwrap();
            let raw = (
                w.calls.load(Ordering::Relaxed),
                w.failures.load(Ordering::Relaxed),
                w.slow.load(Ordering::Relaxed),
            );
            let slots = slot_totals(&w);
            assert_eq!(
                raw,
                (slots.calls as i64, slots.failures as i64, slots.slow as i64),
                "round {round}: totals drifted from the slots"
            );
        }
    }
}
