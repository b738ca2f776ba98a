//! A bounded table of per-key state, with idle eviction: the building block of per-key
//! layers (a breaker per host or route, and later a rate limit or a concurrency limit per
//! tenant).
//!
//! # Why a table of its own
//!
//! Keys come from requests, and requests may come from anyone: a layer that keeps state per
//! key must not let a flood of made-up keys exhaust memory, must not forget the state of a
//! key that is still in use, and must not slow every request down with a lock around the
//! whole table. [`KeyedTable`] does all three:
//!
//! - **Bounded.** At most [`max_keys`](KeyedTable::max_keys) keys have a value. A new key that
//!   finds the table full looks at a bounded number of entries (16) for one that may be
//!   forgotten; if none may, [`get_or_insert_with`](KeyedTable::get_or_insert_with) returns
//!   `None` and the caller falls back to something shared (the keyed breaker's overflow
//!   breaker). The bound holds exactly, however many threads insert at once.
//! - **Idle eviction.** An entry may be forgotten only when nothing outside the table holds
//!   its value (no call in flight), no request has used its key for the idle timeout, and
//!   the value itself agrees ([`Retain`]: an open breaker keeps itself until its open time
//!   ends).
//! - **No global lock, no allocation per call.** The table is split into 16 shards, each
//!   behind a read-write lock; finding an existing key takes one shard's read lock for a hash
//!   lookup and returns an `Arc` clone. The last-use time is an atomic, written at most once
//!   a millisecond per key. Only a new key takes a shard's write lock.
//!
//! [`Labels`] is the other half: metric labels derived from keys, bounded, so that
//! attacker-chosen keys cannot create unlimited metric series.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::keyed::{KeyedTable, Retain};
//!
//! struct Count(std::sync::atomic::AtomicU32);
//! impl Retain for Count {}
//!
//! let table = KeyedTable::new(2, Duration::from_secs(60)).unwrap();
//! let a = table.get_or_insert_with(&"a", |_| Count(0.into())).unwrap();
//! table.get_or_insert_with(&"b", |_| Count(0.into())).unwrap();
//! // Full, and "a" is held: "c" gets no entry of its own.
//! assert!(table.get_or_insert_with(&"c", |_| Count(0.into())).is_none());
//! drop(a);
//! tokio::time::advance(Duration::from_secs(60)).await;
//! // "a" and "b" sat idle for the idle timeout: "c" takes the room (the sweep forgets every
//! // idle entry it looks at, so "b" may go too, depending on where the keys hash).
//! assert!(table.get_or_insert_with(&"c", |_| Count(0.into())).is_some());
//! assert!(table.len() <= 2);
//! # }
//! ```

mod labels;
mod shard;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::stripe::Padded;
use crate::ConfigError;

pub use labels::Labels;

impl<T: Retain> Retain for crate::stripe::Anchor<T> {
    fn retain(&self, now: Instant) -> Retention {
        (**self).retain(now)
    }
}
use shard::Shard;

/// How many shards a table has.
const SHARDS: usize = 16;
/// How many entries a new key that finds the table full looks at, at most.
const SWEEP: usize = 16;
/// The largest `max_keys` a table accepts.
pub const MAX_KEYS: usize = 1_000_000;

/// Whether an entry may be forgotten, in the value's own view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Only the table's rule applies: forgotten once idle for the idle timeout and not held.
    WhenIdle,
    /// Not before this instant (an open breaker until its open time ends); after it, the
    /// table's rule applies.
    Until(Instant),
    /// Never forgotten while this holds (state set by hand, say).
    Always,
}

/// What a value says about being forgotten; the default is [`Retention::WhenIdle`].
pub trait Retain {
    /// Whether this value may be forgotten at `now`, as far as it is concerned. Called only
    /// on the eviction path (a new key finding the table full), with a shard's write lock
    /// held: keep it cheap.
    fn retain(&self, now: Instant) -> Retention {
        let _ = now;
        Retention::WhenIdle
    }
}

/// One shard behind its lock, on cache lines of its own.
type PaddedShard<K, V> = Padded<RwLock<Shard<K, V>>>;

/// A bounded map from keys to shared values (`Arc<V>`), with idle eviction. See the
/// [module docs](self).
pub struct KeyedTable<K, V> {
    /// Each on cache lines of its own: a read lock is a write to its shard's lock word,
    /// which must not slow down readers of the neighbouring shards.
    shards: Box<[PaddedShard<K, V>]>,
    /// Seeds the shard choice, so that it differs from one table to the next.
    seed: u64,
    max_keys: usize,
    idle_timeout: Duration,
    /// Entries in all shards; never above `max_keys` (a slot is reserved before an insert).
    len: AtomicUsize,
    /// The shard the next sweep looks at.
    sweep: AtomicUsize,
    origin: Instant,
}

impl<K: Hash + Eq + Clone, V: Retain> KeyedTable<K, V> {
    /// A table of at most `max_keys` entries whose keys may be forgotten once unused for
    /// `idle_timeout`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when `max_keys` is outside 1..=1,000,000.
    pub fn new(max_keys: usize, idle_timeout: Duration) -> Result<Self, ConfigError> {
        if !(1..=MAX_KEYS).contains(&max_keys) {
            return Err(ConfigError::new(format!(
                "max_keys must be in 1..={MAX_KEYS}, got {max_keys}"
            )));
        }
        Ok(Self {
            shards: (0..SHARDS)
                .map(|_| Padded(RwLock::new(Shard::new())))
                .collect(),
            seed: RandomState::new().hash_one(0x5eed_u64),
            max_keys,
            idle_timeout,
            len: AtomicUsize::new(0),
            sweep: AtomicUsize::new(0),
            origin: Instant::now(),
        })
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The shard of `key`. The shard map hashes keys again with std's DoS-resistant hasher,
    /// so this one only spreads keys over shards and is cheap (a multiply per 8 bytes): a
    /// key set crafted to land in one shard costs lock sharing, never memory or the bound.
    fn shard_of(&self, key: &K) -> usize {
        let mut hasher = ShardHasher(self.seed);
        key.hash(&mut hasher);
        (hasher.finish() >> 60) as usize % SHARDS
    }

    fn read(&self, shard: usize) -> RwLockReadGuard<'_, Shard<K, V>> {
        self.shards[shard % SHARDS]
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self, shard: usize) -> RwLockWriteGuard<'_, Shard<K, V>> {
        self.shards[shard % SHARDS]
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value of `key`, noting the use (the key is not idle now).
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let now = self.nanos(Instant::now());
        self.read(self.shard_of(key)).get(key, Some(now))
    }

    /// The value of `key`, without noting a use (for observers such as handles).
    pub fn peek(&self, key: &K) -> Option<Arc<V>> {
        self.read(self.shard_of(key)).get(key, None)
    }

    /// The value of `key`, made with `make` if it has none. `None` when the table is full
    /// and none of the entries looked at could be forgotten: the caller shares something
    /// instead, until room frees up.
    pub fn get_or_insert_with(&self, key: &K, make: impl FnOnce(&K) -> V) -> Option<Arc<V>> {
        let now = Instant::now();
        let at = self.nanos(now);
        let shard = self.shard_of(key);
        if let Some(value) = self.read(shard).get(key, Some(at)) {
            return Some(value);
        }
        let mut make = Some(make);
        for attempt in 0..2 {
            {
                let mut guard = self.write(shard);
                if let Some(value) = guard.get(key, Some(at)) {
                    return Some(value);
                }
                if self.reserve() {
                    let make = make.take()?;
                    return Some(guard.insert(key.clone(), Arc::new(make(key)), at));
                }
            }
            // Full: look for room with no lock held (the sweep takes shards' locks one at a
            // time), then try once more.
            if attempt == 0 && !self.make_room(now) {
                return None;
            }
        }
        None
    }

    /// Takes one of the `max_keys` places, if one is free.
    fn reserve(&self) -> bool {
        self.len
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |len| {
                (len < self.max_keys).then_some(len + 1)
            })
            .is_ok()
    }

    /// Looks at up to [`SWEEP`] entries, from the next shards in turn, and forgets those that
    /// may be forgotten; returns whether any was.
    fn make_room(&self, now: Instant) -> bool {
        let at = self.nanos(now);
        let idle = u64::try_from(self.idle_timeout.as_nanos()).unwrap_or(u64::MAX);
        let may_go = |value: &V, last_used: u64| {
            let retained = match value.retain(now) {
                Retention::Always => true,
                Retention::Until(until) => now < until,
                Retention::WhenIdle => false,
            };
            !retained && at.saturating_sub(last_used) >= idle
        };
        // Up to SWEEP entries in all, from as many shards in turn as it takes.
        let (mut budget, mut freed) = (SWEEP, 0);
        for _ in 0..SHARDS {
            let shard = self.sweep.fetch_add(1, Ordering::Relaxed);
            let (looked, gone) = self.write(shard).sweep(budget, may_go);
            budget -= looked;
            freed += gone;
            if freed > 0 || budget == 0 {
                break;
            }
        }
        self.len.fetch_sub(freed, Ordering::AcqRel);
        freed > 0
    }

    /// How many keys have a value.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys the table holds.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// How long a key must go unused before its entry may be forgotten.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
}

/// Mixes each word in with a rotate, a xor and a multiply by an odd constant: the high bits
/// of the result depend on every bit written.
struct ShardHasher(u64);

impl ShardHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl Hasher for ShardHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0; 8];
        word[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl<K, V> fmt::Debug for KeyedTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedTable")
            .field("len", &self.len.load(Ordering::Relaxed))
            .field("max_keys", &self.max_keys)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
