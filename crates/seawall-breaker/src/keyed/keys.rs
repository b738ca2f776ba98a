//! The table of a keyed breaker: one [`Shared`] breaker per key in core's [`KeyedTable`],
//! the overflow breaker, and the bounded labels the breakers are named with.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use seawall_core::keyed::{KeyedTable, Labels, Retain, Retention};
use seawall_core::stripe::Anchor;
use tokio::time::Instant;

use crate::config::Config;
use crate::handle::BreakerHandle;
use crate::shared::Shared;
use crate::State;

/// What a breaker says about being forgotten.
impl Retain for Shared {
    fn retain(&self, now: Instant) -> Retention {
        // Open: never before the open time ends, however short the idle timeout. A breaker
        // forgotten while open would be made anew, closed, by the key's next request, which
        // would go through to the failing host.
        if let Some(remaining) = self.remaining_open() {
            // An open time too long for an `Instant` ends never, as far as we can tell.
            return now
                .checked_add(remaining)
                .map_or(Retention::Always, Retention::Until);
        }
        match self.state() {
            // Open time over: the next request is a probe. Forgotten only when no probe is
            // in flight (the table checks that nothing holds it) and its key sat idle.
            State::Closed | State::Open | State::HalfOpen => Retention::WhenIdle,
            // Set by hand: forgetting it would undo the operator's command.
            State::ForcedOpen | State::ForcedClosed | State::Disabled | State::MetricsOnly => {
                Retention::Always
            }
        }
    }
}

/// The breakers of a keyed layer, shared by every clone of the layer and its services.
pub(crate) struct Keys<K> {
    config: Config,
    /// Each breaker in an [`Anchor`]: a call's guard counts on the anchor the table hands
    /// out, with no allocation and no stripes per key.
    table: KeyedTable<K, Anchor<Shared>>,
    /// The breaker of every key that found the table full.
    overflow: Arc<Anchor<Shared>>,
    /// Requests routed to the overflow breaker.
    overflowed: AtomicU64,
    labels: Labels,
    /// `name/` when the breakers have a name, else nothing.
    prefix: Arc<str>,
    built: AtomicU64,
}

impl<K: Hash + Eq + Clone> Keys<K> {
    pub(crate) fn new(
        config: Config,
        table: KeyedTable<K, Anchor<Shared>>,
        max_labels: usize,
    ) -> Self {
        let prefix: Arc<str> = if config.name.is_empty() {
            Arc::from("")
        } else {
            Arc::from(format!("{}/", config.name))
        };
        let mut overflow = config.clone();
        overflow.name = Arc::from(format!("{prefix}overflow"));
        Self {
            labels: Labels::new(max_labels, format!("{prefix}other")),
            overflow: Arc::new(Anchor::new(Arc::new(Shared::new(overflow)))),
            overflowed: AtomicU64::new(0),
            config,
            table,
            prefix,
            built: AtomicU64::new(0),
        }
    }

    /// A new breaker for a key named `key`.
    fn new_breaker(&self, key: &K) -> Anchor<Shared>
    where
        K: fmt::Debug,
    {
        let built = self.built.fetch_add(1, Ordering::Relaxed) + 1;
        let mut config = self.config.clone();
        config.seed = config.seed.map(|s| s.wrapping_add(built));
        // The name is a metric label: bounded, whatever keys requests bring.
        config.name = self.labels.label(&format!("{}{key:?}", self.prefix));
        Anchor::new(Arc::new(Shared::new(config)))
    }

    /// The breaker of `key`, made if need be; the overflow breaker when the table is full
    /// and none of its breakers may be forgotten. A known key costs one shard's read lock
    /// and an `Arc` clone.
    #[inline]
    pub(crate) fn breaker(&self, key: &K) -> Arc<Anchor<Shared>>
    where
        K: fmt::Debug,
    {
        match self
            .table
            .get_or_insert_with(key, |key| self.new_breaker(key))
        {
            Some(breaker) => breaker,
            None => {
                self.overflowed.fetch_add(1, Ordering::Relaxed);
                self.overflow.events.overflow(self.overflow.state());
                self.overflow.clone()
            }
        }
    }

    pub(crate) fn handle(&self, key: &K) -> Option<BreakerHandle> {
        self.table.peek(key).map(BreakerHandle::anchored)
    }

    pub(crate) fn overflow_handle(&self) -> BreakerHandle {
        BreakerHandle::anchored(self.overflow.clone())
    }

    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn max_keys(&self) -> usize {
        self.table.max_keys()
    }
}
