//! Whether hedges are winning: a hedge that rarely answers first is only load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seawall_core::{ConfigError, RollingCounter};
use tokio::time::Instant;

/// How far back the gate looks.
const WINDOW: Duration = Duration::from_secs(2);
/// Hedges that must have been sent in the window before the gate judges them.
const EVIDENCE: u64 = 10;
/// While closed, one hedge in this long still goes, to see whether hedges win again.
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// Counts the hedges sent in the last two seconds and those that won, and closes to hedges
/// sent on the delay when fewer than `min_win_rate` of them won. A hedge still in flight
/// counts as not (yet) won: at an upstream at capacity, hedges wait in its queue and their
/// outcome comes late, and judging on the ended ones alone would let a second of them
/// through each time.
///
/// Why: when the upstream is at capacity, a hedge waits in the same queue as the attempt it
/// copies and almost never answers first, so it adds load and no speed; the same when every
/// call is slow alike (a tight latency distribution). The budget caps that waste at its
/// share; the gate stops it. While closed, one hedge every 100 ms still goes as a probe,
/// so the gate reopens once hedges win again (after a shift of the distribution, say). Only
/// hedges sent on the delay count: an attempt sent after a failure is a retry, and whether
/// it wins says nothing about waiting and copying.
pub(crate) struct Gate {
    wins: RollingCounter,
    sent: RollingCounter,
    min_win_rate: f64,
    origin: Instant,
    /// When the last probe went, in nanoseconds since `origin`.
    last_probe: AtomicU64,
}

impl Gate {
    pub(crate) fn new(min_win_rate: f64) -> Result<Self, ConfigError> {
        let origin = Instant::now();
        Ok(Self {
            wins: RollingCounter::starting_at(origin, WINDOW, 10)?,
            sent: RollingCounter::starting_at(origin, WINDOW, 10)?,
            min_win_rate,
            origin,
            last_probe: AtomicU64::new(0),
        })
    }

    pub(crate) fn won(&self) {
        self.wins.add(1);
    }

    pub(crate) fn sent(&self) {
        self.sent.add(1);
    }

    /// Whether a hedge may be sent on the delay now.
    pub(crate) fn open(&self) -> bool {
        if self.min_win_rate <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let sent = self.sent.sum_at(now);
        if sent < EVIDENCE || self.wins.sum_at(now) as f64 >= self.min_win_rate * sent as f64 {
            return true;
        }
        // Closed: a probe every 100 ms keeps the evidence fresh, so the gate neither opens
        // wide each time the window empties nor stays shut once hedges win again.
        let at = u64::try_from(now.saturating_duration_since(self.origin).as_nanos())
            .unwrap_or(u64::MAX);
        let last = self.last_probe.load(Ordering::Relaxed);
        at.saturating_sub(last) >= PROBE_EVERY.as_nanos() as u64
            && self
                .last_probe
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("min_win_rate", &self.min_win_rate)
            .finish_non_exhaustive()
    }
}
