#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::{advance, Instant};

use super::*;

/// A value that can ask to be kept until some instant.
#[derive(Debug)]
struct Value {
    key: u32,
    until: Option<Instant>,
}

impl Retain for Value {
    fn retain(&self, _now: Instant) -> Retention {
        self.until.map_or(Retention::WhenIdle, Retention::Until)
    }
}

fn value(key: &u32) -> Value {
    Value {
        key: *key,
        until: None,
    }
}

#[test]
fn max_keys_out_of_range_is_a_config_error_naming_the_field() {
    for bad in [0, MAX_KEYS + 1] {
        let err = KeyedTable::<u32, Value>::new(bad, Duration::ZERO).unwrap_err();
        assert!(err.message().starts_with("max_keys must be in 1..=1000000"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_value_asking_to_be_kept_outlives_a_short_idle_timeout() {
    let table = KeyedTable::new(1, Duration::from_secs(1)).unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    table.get_or_insert_with(&1, |&key| Value {
        key,
        until: Some(until),
    });
    advance(Duration::from_secs(29)).await;
    assert!(table.get_or_insert_with(&2, value).is_none());
    assert_eq!(table.peek(&1).unwrap().key, 1);
    advance(Duration::from_secs(1)).await;
    assert_eq!(table.get_or_insert_with(&2, value).unwrap().key, 2);
    assert!(table.peek(&1).is_none());
}

#[tokio::test(start_paused = true)]
async fn the_sweep_finds_room_in_another_shard_and_keeps_used_keys() {
    // Many keys, one idle: a new key finds it wherever it lives, within a few tries.
    let table = KeyedTable::new(40, Duration::from_secs(10)).unwrap();
    for key in 0..40 {
        table.get_or_insert_with(&key, value).unwrap();
    }
    advance(Duration::from_secs(10)).await;
    for key in 1..40 {
        table.get(&key).unwrap();
    }
    let mut tries = 0;
    while table.get_or_insert_with(&100, value).is_none() {
        tries += 1;
        assert!(tries < 3, "40 entries are looked at within 3 sweeps");
    }
    assert!(table.peek(&0).is_none(), "the idle key made room");
    assert!((1..40).all(|key| table.peek(&key).is_some()));
    assert_eq!(table.len(), 40);
}

#[test]
fn concurrent_inserts_never_exceed_max_keys() {
    // Eight threads insert distinct keys as fast as they can and hold what they get, so
    // nothing can be forgotten: exactly `max_keys` inserts may succeed, whatever the races.
    let table = Arc::new(KeyedTable::<u32, Value>::new(100, Duration::ZERO).unwrap());
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let table = table.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for i in 0..1_000 {
                    if let Some(v) = table.get_or_insert_with(&(t * 1_000 + i), value) {
                        held.push(v);
                    }
                    assert!(table.len() <= 100);
                }
                held
            })
        })
        .collect();
    let held: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(held.len(), 100);
    assert_eq!(table.len(), 100);
    let shards: usize = table.shards.iter().map(|s| s.0.read().unwrap().len()).sum();
    assert_eq!(shards, 100, "the count matches the entries");

    // With nothing held and a zero idle timeout, threads churn through keys: the bound
    // still holds at every step, and every insert finds room.
    drop(held);
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let table = table.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    let _ = table.get_or_insert_with(&(100_000 + t * 10_000 + i), value);
                    assert!(table.len() <= 100);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let shards: usize = table.shards.iter().map(|s| s.0.read().unwrap().len()).sum();
    assert_eq!(shards, table.len());
    assert!(table.len() <= 100);
}

#[derive(Clone, Debug)]
enum Op {
    /// Get or insert a key and hold its value (or not).
    Use {
        key: u8,
        hold: bool,
        keep_ms: Option<u16>,
    },
    /// Drop a held value.
    Release(u8),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..40, any::<bool>(), proptest::option::of(0u16..3_000))
            .prop_map(|(key, hold, keep_ms)| Op::Use { key, hold, keep_ms }),
        1 => (0u8..40).prop_map(Op::Release),
        2 => (0u16..2_000).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Against a record of what each key did: the table never holds more than `max_keys`,
    /// never forgets a held value, a key used within the idle timeout or a value asking to
    /// be kept, and when every entry may go, a new key always gets one.
    #[test]
    fn the_table_keeps_its_bound_and_its_promises(
        max in 1usize..12,
        idle_ms in 0u64..1_500,
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async move {
            let idle = Duration::from_millis(idle_ms);
            let table = KeyedTable::new(max, idle).unwrap();
            let mut held: HashMap<u8, Arc<Value>> = HashMap::new();
            // What the table holds, as far as the record goes: key -> (last use, kept until).
            let mut record: HashMap<u8, (Instant, Option<Instant>)> = HashMap::new();
            for op in ops {
                let now = Instant::now();
                match op {
                    Op::Use { key, hold, keep_ms } => {
                        let until = keep_ms.map(|ms| now + Duration::from_millis(ms.into()));
                        let may_go = |k: &u8, (used, until): &(Instant, Option<Instant>)| {
                            !held.contains_key(k)
                                && until.is_none_or(|u| now >= u)
                                && now.duration_since(*used) >= idle
                        };
                        let anything_may_go = record.iter().any(|(k, r)| may_go(k, r));
                        let had = record.contains_key(&key);
                        let got = table.get_or_insert_with(&u32::from(key), |&k| Value { key: k, until });
                        // Entries the record says must stay are all still there.
                        for (k, r) in &record {
                            if *k != key && !may_go(k, r) {
                                prop_assert!(table.peek(&u32::from(*k)).is_some(), "{k} was forgotten");
                            }
                        }
                        record.retain(|k, _| table.peek(&u32::from(*k)).is_some());
                        match got {
                            Some(v) => {
                                prop_assert_eq!(v.key, u32::from(key));
                                if let Some(h) = held.get(&key) {
                                    prop_assert!(Arc::ptr_eq(h, &v), "a held value was replaced");
                                }
                                let entry = record.entry(key).or_insert((now, v.until));
                                entry.0 = now;
                                if hold {
                                    held.insert(key, v);
                                }
                            }
                            None => {
                                prop_assert!(!had, "a present key got no value");
                                prop_assert_eq!(table.len(), max);
                                prop_assert!(!anything_may_go, "room was there to be had");
                            }
                        }
                    }
                    Op::Release(key) => {
                        held.remove(&key);
                    }
                    Op::Advance(ms) => advance(Duration::from_millis(ms.into())).await,
                }
                prop_assert!(table.len() <= max);
                prop_assert_eq!(table.len(), record.len());
            }
            Ok(())
        })?;
    }
}

#[test]
fn keys_spread_over_every_shard() {
    let table = KeyedTable::<u32, Value>::new(10_000, Duration::ZERO).unwrap();
    let mut per_shard = [0usize; SHARDS];
    for key in 0..1_600u32 {
        per_shard[table.shard_of(&key)] += 1;
    }
    // 100 expected per shard; a cheap hash that ignored some bits would leave shards empty.
    assert!(
        per_shard.iter().all(|&n| (50..=150).contains(&n)),
        "{per_shard:?}"
    );
    let table = KeyedTable::<String, Value>::new(1, Duration::ZERO).unwrap();
    let mut per_shard = [0usize; SHARDS];
    for key in 0..1_600u32 {
        per_shard[table.shard_of(&format!("/users/{key}"))] += 1;
    }
    assert!(
        per_shard.iter().all(|&n| (50..=150).contains(&n)),
        "{per_shard:?}"
    );
}

#[test]
fn shards_do_not_share_cache_lines() {
    // A reader's lock is a write to its shard's lock word: neighbouring shards on one cache
    // line would slow down readers of different keys on different cores.
    let table = KeyedTable::<u64, Value>::new(10, Duration::from_secs(1)).unwrap();
    let addresses: Vec<usize> = table
        .shards
        .iter()
        .map(|s| &s.0 as *const _ as usize)
        .collect();
    assert!(addresses.windows(2).all(|w| w[1] - w[0] >= 128));
}
