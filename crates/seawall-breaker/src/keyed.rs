//! One breaker per key, with a bound on the number of keys.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use seawall_core::rejection::CircuitOpen;
use seawall_core::{BoxError, Classify, ErrorsAreFailures};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use crate::config::{Builder, Config};
use crate::error::ConfigError;
use crate::future::{Guard, ResponseFuture};
use crate::handle::BreakerHandle;
use crate::shared::{Admit, Shared};

struct Entry {
    breaker: Arc<Shared>,
    last_used: Instant,
}

/// How many keys a new key that finds the table full looks at, at most, for an idle
/// breaker to forget.
const SWEEP: usize = 16;

struct Table<K> {
    map: HashMap<K, Entry>,
    /// Every key of `map` once, in the order the sweep looks at them: a key looked at and
    /// kept goes to the back.
    queue: VecDeque<K>,
}

struct Keys<K> {
    config: Config,
    max_keys: usize,
    idle_timeout: Duration,
    table: Mutex<Table<K>>,
    overflow: Arc<Shared>,
    built: Mutex<u64>,
}

impl<K: Hash + Eq + Clone> Keys<K> {
    fn lock(&self) -> MutexGuard<'_, Table<K>> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn new_breaker(&self, key_name: String) -> Arc<Shared> {
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        *built += 1;
        let mut config = self.config.clone();
        config.seed = config.seed.map(|s| s.wrapping_add(*built));
        config.name = if self.config.name.is_empty() {
            Arc::from(key_name)
        } else {
            Arc::from(format!("{}/{key_name}", self.config.name))
        };
        Arc::new(Shared::new(config))
    }

    /// Whether the breaker may be forgotten: nothing but the table holds it (no call in
    /// flight, no handle) and no request has used its key for the idle timeout. Its state
    /// does not matter: a key nobody uses has no outage left to protect anyone from.
    fn idle(&self, entry: &Entry, now: Instant) -> bool {
        Arc::strong_count(&entry.breaker) == 1
            && now.saturating_duration_since(entry.last_used) >= self.idle_timeout
    }

    /// Looks at up to [`SWEEP`] keys, oldest-looked-at first, and forgets the idle ones.
    /// Returns whether the table has room now.
    fn make_room(&self, table: &mut Table<K>, now: Instant) -> bool {
        for _ in 0..SWEEP.min(table.queue.len()) {
            let Some(key) = table.queue.pop_front() else {
                break;
            };
            match table.map.get(&key) {
                Some(entry) if !self.idle(entry, now) => table.queue.push_back(key),
                _ => {
                    table.map.remove(&key);
                }
            }
        }
        table.map.len() < self.max_keys
    }

    /// The breaker of `key`, made if need be; the overflow breaker when the table is full
    /// and no breaker in it can be forgotten.
    fn breaker(&self, key: &K) -> Arc<Shared>
    where
        K: fmt::Debug,
    {
        let now = Instant::now();
        let mut table = self.lock();
        if let Some(entry) = table.map.get_mut(key) {
            entry.last_used = now;
            return entry.breaker.clone();
        }
        if table.map.len() >= self.max_keys && !self.make_room(&mut table, now) {
            return self.overflow.clone();
        }
        let breaker = self.new_breaker(format!("{key:?}"));
        table.map.insert(
            key.clone(),
            Entry {
                breaker: breaker.clone(),
                last_used: now,
            },
        );
        table.queue.push_back(key.clone());
        breaker
    }
}

/// Builds a [`KeyedCircuitBreakerLayer`]: the breaker settings of [`Builder`] plus the
/// key function and the bound on keys.
#[derive(Clone, Debug)]
pub struct KeyedBuilder<F, C = ErrorsAreFailures> {
    breaker: Builder<C>,
    key: F,
    max_keys: usize,
    idle_timeout: Duration,
}

impl<F> KeyedBuilder<F> {
    /// Keys requests with `key` (a host, a route, a tenant), with the default breaker
    /// settings, at most 1,024 keys, and idle breakers forgotten after 10 minutes.
    pub fn new(key: F) -> Self {
        Self {
            breaker: Builder::default(),
            key,
            max_keys: 1024,
            idle_timeout: Duration::from_secs(600),
        }
    }
}

impl<F, C> KeyedBuilder<F, C> {
    /// Sets the settings every key's breaker is built with.
    pub fn breaker<C2>(self, breaker: Builder<C2>) -> KeyedBuilder<F, C2> {
        KeyedBuilder {
            breaker,
            key: self.key,
            max_keys: self.max_keys,
            idle_timeout: self.idle_timeout,
        }
    }

    /// The most keys that get a breaker of their own (default 1,024; 1 to 1,000,000).
    pub fn max_keys(mut self, max: usize) -> Self {
        self.max_keys = max;
        self
    }

    /// A breaker whose key no request has used for this long, with no call in flight and
    /// no [`BreakerHandle`] held, may be forgotten when a new key needs room, whatever its
    /// state (default 10 minutes). Keep it longer than the longest open time, so that a
    /// breaker is forgotten only once its key has been quiet for longer than any outage it
    /// remembers; while requests keep coming for a key, rejected ones included, it stays.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Checks the settings and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a bad breaker setting (see [`Builder::build`]) or `max_keys`
    /// outside 1..=1,000,000.
    pub fn build<K>(self) -> Result<KeyedCircuitBreakerLayer<K, F, C>, ConfigError>
    where
        K: Hash + Eq + Clone,
    {
        self.breaker.config.validate()?;
        if !(1..=1_000_000).contains(&self.max_keys) {
            return Err(ConfigError::new(format!(
                "max_keys must be in 1..=1000000, got {}",
                self.max_keys
            )));
        }
        let mut overflow = self.breaker.config.clone();
        overflow.name = Arc::from(format!("{}/overflow", self.breaker.config.name));
        Ok(KeyedCircuitBreakerLayer {
            keys: Arc::new(Keys {
                config: self.breaker.config,
                max_keys: self.max_keys,
                idle_timeout: self.idle_timeout,
                table: Mutex::new(Table {
                    map: HashMap::new(),
                    queue: VecDeque::new(),
                }),
                overflow: Arc::new(Shared::new(overflow)),
                built: Mutex::new(0),
            }),
            key: self.key,
            classify: self.breaker.classify,
        })
    }
}

/// One circuit breaker per key, so that one failing host (or route, or tenant) does not
/// open the breaker for the healthy ones.
///
/// # Bounded memory
///
/// Keys come from requests, and requests may come from anyone: a breaker per key must not
/// let a flood of made-up keys exhaust memory. At most `max_keys` keys get a breaker of
/// their own. A breaker is forgotten only when it is **idle**: no request has used its key
/// for the [idle timeout](KeyedBuilder::idle_timeout) and nothing holds it (no call in
/// flight, no [`BreakerHandle`]), whatever its state. A breaker in use is never forgotten
/// to make room, so a flood of new keys cannot wipe an outage a key's breaker is counting
/// towards (19 failures of 20, say) or is in the middle of (open or half-open).
///
/// When a new key arrives and the table is full, it looks at up to 16 of the table's keys,
/// in turn (each key looked at and kept goes to the back of the line), and forgets the idle
/// ones among them; if that made room, the new key gets its own breaker. Otherwise it
/// shares one **overflow breaker** with the other keys that found no room, until room
/// frees up. Finding a key's breaker takes a mutex over the table, held for a hash lookup,
/// plus that bounded look at 16 keys when the table is full: the cost per request does not
/// grow with `max_keys`.
///
/// Memory is bounded by `max_keys` breakers (plus the overflow one): each costs two copies
/// of its key, about a kilobyte of fixed state (the breaker, its name, its watch channel)
/// and its window, which is one byte per call of a [count window](Builder::count_window)
/// or three 8-byte counters per bucket of a [time window](Builder::time_window). With the
/// defaults (1,024 keys, the last 100 calls) that is about a megabyte.
///
/// Because the key is known only in `call`, `poll_ready` waits for the inner service
/// whatever the breakers' states, and `call` rejects a key whose breaker is open without
/// calling the inner service.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use seawall_breaker::{CircuitBreakerLayer, KeyedBuilder, State};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let layer = KeyedBuilder::new(|req: &(&'static str, bool)| req.0)
///     .breaker(CircuitBreakerLayer::builder().consecutive_failures(2))
///     .build()
///     .unwrap();
/// let svc = layer.layer(service_fn(|(_, fail): (&'static str, bool)| async move {
///     if fail { Err("down") } else { Ok(()) }
/// }));
/// for _ in 0..2 {
///     let _ = svc.clone().oneshot(("a.example", true)).await;
/// }
/// assert_eq!(layer.handle(&"a.example").unwrap().state(), State::Open);
/// assert!(svc.clone().oneshot(("b.example", false)).await.is_ok(), "b has its own breaker");
/// # }
/// ```
pub struct KeyedCircuitBreakerLayer<K, F, C = ErrorsAreFailures> {
    keys: Arc<Keys<K>>,
    key: F,
    classify: C,
}

impl<K: Hash + Eq + Clone, F, C> KeyedCircuitBreakerLayer<K, F, C> {
    /// The handle of `key`'s breaker, if it has one of its own.
    ///
    /// While the handle lives, the breaker is held and never forgotten.
    pub fn handle(&self, key: &K) -> Option<BreakerHandle> {
        self.keys
            .lock()
            .map
            .get(key)
            .map(|e| BreakerHandle::new(e.breaker.clone()))
    }

    /// The handle of the breaker that keys share when the table is full.
    pub fn overflow_handle(&self) -> BreakerHandle {
        BreakerHandle::new(self.keys.overflow.clone())
    }

    /// How many keys have a breaker of their own.
    pub fn len(&self) -> usize {
        self.keys.lock().map.len()
    }

    /// Whether no key has a breaker yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S, K, F: Clone, C: Clone> Layer<S> for KeyedCircuitBreakerLayer<K, F, C> {
    type Service = KeyedCircuitBreaker<S, K, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedCircuitBreaker {
            inner,
            keys: self.keys.clone(),
            key: self.key.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<K, F: Clone, C: Clone> Clone for KeyedCircuitBreakerLayer<K, F, C> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            key: self.key.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<K, F, C> fmt::Debug for KeyedCircuitBreakerLayer<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerLayer")
            .field("max_keys", &self.keys.max_keys)
            .finish_non_exhaustive()
    }
}

/// A breaker per key in front of a service; built by [`KeyedCircuitBreakerLayer`].
///
/// # Clone
///
/// Every clone shares the layer's table of breakers (and its overflow breaker) and clones
/// the inner service, the key function and the classifier. A keyed breaker holds no
/// reservation between `poll_ready` and `call` (the key is known only in `call`), so
/// cloning per request, as axum does, is right.
pub struct KeyedCircuitBreaker<S, K, F, C = ErrorsAreFailures> {
    inner: S,
    keys: Arc<Keys<K>>,
    key: F,
    classify: C,
}

impl<S, K, F, C> KeyedCircuitBreaker<S, K, F, C> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, K, F, C, Req> Service<Req> for KeyedCircuitBreaker<S, K, F, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Hash + Eq + Clone + fmt::Debug,
    F: Fn(&Req) -> K,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let breaker = self.keys.breaker(&(self.key)(&request));
        match breaker.admit() {
            Admit::Call(ticket) => {
                let mut guard = Guard::new(breaker, ticket);
                guard.started();
                ResponseFuture::called(self.inner.call(request), guard, self.classify.clone())
            }
            Admit::Reject(after) => {
                breaker.rejected();
                ResponseFuture::rejected(CircuitOpen::new(after))
            }
        }
    }
}

impl<S: Clone, K, F: Clone, C: Clone> Clone for KeyedCircuitBreaker<S, K, F, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            keys: self.keys.clone(),
            key: self.key.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<S: fmt::Debug, K, F, C> fmt::Debug for KeyedCircuitBreaker<S, K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreaker")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
