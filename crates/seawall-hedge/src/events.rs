//! The layer's cumulative counters. Its events go through `seawall_core::event!`, with the
//! target `seawall::hedge`.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a layer's hedges did, since the layer was built: see [`HedgeLayer::stats`](crate::HedgeLayer::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HedgeStats {
    /// Extra attempts sent (after the delay, or after a failed attempt).
    pub hedges: u64,
    /// Requests answered by an extra attempt.
    pub won: u64,
    /// Extra attempts cancelled because another attempt answered first.
    pub lost: u64,
    /// Attempts cancelled because the caller dropped the request.
    pub cancelled: u64,
    /// Extra attempts that were due but refused by the budget.
    pub refused: u64,
    /// Hedges that were due on the delay but not sent because hedges were not winning
    /// (see [`min_win_rate`](crate::HedgeLayerBuilder::min_win_rate)).
    pub not_winning: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hedges: AtomicU64,
    pub(crate) won: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) not_winning: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HedgeStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HedgeStats {
            hedges: get(&self.hedges),
            won: get(&self.won),
            lost: get(&self.lost),
            cancelled: get(&self.cancelled),
            refused: get(&self.refused),
            not_winning: get(&self.not_winning),
        }
    }
}
