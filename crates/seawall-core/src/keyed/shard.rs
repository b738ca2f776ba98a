//! One shard of a [`KeyedTable`](super::KeyedTable): a map from keys to slots, and the slots
//! in a vector that the sweep walks with a cursor, so that looking for room costs a bounded
//! number of steps however large the shard.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A use less than this long after the last one noted is not written again (so the idle
/// clock may start up to this much early): a hot key's
/// entry is not a cache line that every core writes on every call.
const TOUCH_NANOS: u64 = 1_000_000;

struct Slot<K, V> {
    key: K,
    value: Arc<V>,
    /// When the key was last used, in nanoseconds since the table's origin.
    last_used: AtomicU64,
}

pub(super) struct Shard<K, V> {
    index: HashMap<K, usize>,
    slots: Vec<Slot<K, V>>,
    /// The slot the next sweep starts at.
    cursor: usize,
}

impl<K: Hash + Eq + Clone, V> Shard<K, V> {
    pub(super) fn new() -> Self {
        Self {
            index: HashMap::new(),
            slots: Vec::new(),
            cursor: 0,
        }
    }

    /// The value of `key`; notes a use at `now` when given.
    pub(super) fn get(&self, key: &K, now: Option<u64>) -> Option<Arc<V>> {
        let slot = self.slots.get(*self.index.get(key)?)?;
        if let Some(now) = now {
            let last = slot.last_used.load(Ordering::Relaxed);
            if now >= last.saturating_add(TOUCH_NANOS) {
                slot.last_used.store(now, Ordering::Relaxed);
            }
        }
        Some(slot.value.clone())
    }

    /// Adds `key` (which must not be in the shard), used at `now`.
    pub(super) fn insert(&mut self, key: K, value: Arc<V>, now: u64) -> Arc<V> {
        self.index.insert(key.clone(), self.slots.len());
        self.slots.push(Slot {
            key,
            value: value.clone(),
            last_used: AtomicU64::new(now),
        });
        value
    }

    /// Looks at up to `budget` slots from the cursor on and removes those that nothing else
    /// holds and `may_go(value, last_used)` lets go. Returns how many it looked at and how
    /// many it removed.
    pub(super) fn sweep(
        &mut self,
        budget: usize,
        may_go: impl Fn(&V, u64) -> bool,
    ) -> (usize, usize) {
        let looks = budget.min(self.slots.len());
        let mut removed = 0;
        for _ in 0..looks {
            if self.cursor >= self.slots.len() {
                self.cursor = 0;
            }
            let i = self.cursor;
            let slot = &self.slots[i];
            let held = Arc::strong_count(&slot.value) > 1;
            if !held && may_go(&slot.value, slot.last_used.load(Ordering::Relaxed)) {
                // The last slot moves into slot i, which the cursor looks at next.
                let gone = self.slots.swap_remove(i);
                self.index.remove(&gone.key);
                if let Some(moved) = self.slots.get(i) {
                    if let Some(index) = self.index.get_mut(&moved.key) {
                        *index = i;
                    }
                }
                removed += 1;
            } else {
                self.cursor += 1;
            }
        }
        (looks, removed)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }
}
