//! The windows over which failure and slow-call rates are measured.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};

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

    #[inline]
    fn record(&self, failed: bool, slow: bool) {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        let value = USED | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 };
        let slot = &self.slots[(ticket % self.slots.len() as u64) as usize];
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
}

impl Outcomes {
    /// Builds the window; `config` was validated.
    pub(crate) fn new(config: Window) -> Self {
        let kind = match config {
            Window::Count(n) => Kind::Count(CountWindow::new(n)),
            Window::Time { length, buckets } => {
                let counter = || {
                    RollingCounter::new(length, buckets).unwrap_or_else(|_| {
                        // Validated in `Config::validate`; a one-bucket second is a safe
                        // stand-in that cannot fail.
                        RollingCounter::new(std::time::Duration::from_secs(1), 1)
                            .unwrap_or_else(|_| unreachable!())
                    })
                };
                Kind::Time(TimeWindow {
                    calls: counter(),
                    failures: counter(),
                    slow: counter(),
                })
            }
        };
        Self { kind }
    }

    #[inline]
    pub(crate) fn record(&self, failed: bool, slow: bool, now: impl FnOnce() -> Instant) {
        match &self.kind {
            Kind::Count(w) => w.record(failed, slow),
            Kind::Time(w) => {
                let now = now();
                w.calls.add_at(now, 1);
                if failed {
                    w.failures.add_at(now, 1);
                }
                if slow {
                    w.slow.add_at(now, 1);
                }
            }
        }
    }

    pub(crate) fn totals(&self, now: Instant) -> Totals {
        match &self.kind {
            Kind::Count(w) => w.totals(),
            Kind::Time(w) => {
                let calls = w.calls.sum_at(now);
                Totals {
                    calls,
                    failures: w.failures.sum_at(now).min(calls),
                    slow: w.slow.sum_at(now).min(calls),
                }
            }
        }
    }

    pub(crate) fn clear(&self) {
        match &self.kind {
            Kind::Count(w) => w.clear(),
            Kind::Time(w) => {
                w.calls.clear();
                w.failures.clear();
                w.slow.clear();
            }
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
