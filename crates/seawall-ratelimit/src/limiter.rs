//! The limiters a [`RateLimit`](crate::RateLimit) asks: one for everyone, or one per key.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use seawall_core::keyed::{KeyedTable, Retain};
use seawall_core::rejection::RateLimited;

use crate::clock::TokioClock;
use crate::key::{ExtractKey, KeyExtractor};

/// One GCRA cell: governor's direct limiter on tokio's clock.
type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// Decides whether a request may go now.
pub trait Admit<Req> {
    /// `Ok` to let `request` through (and count it); otherwise the rejection, with how long
    /// until a request would be let through.
    fn admit(&self, request: &Req) -> Result<(), RateLimited>;
}

/// A limiter: governor's GCRA state (one atomic word) on tokio's clock.
pub struct Limiter {
    gcra: Gcra,
}

impl Limiter {
    pub(crate) fn new(quota: Quota, clock: TokioClock) -> Self {
        Self {
            gcra: RateLimiter::direct_with_clock(quota, clock),
        }
    }

    /// Counts one request if the quota allows it now; otherwise the exact wait governor
    /// computes until it would.
    #[inline]
    pub fn check(&self) -> Result<(), RateLimited> {
        self.gcra.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.gcra.clock().now());
            RateLimited::new(Some(wait))
        })
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

/// Forgetting a key's limiter is allowed once the key has been idle for the idle timeout,
/// which the builder makes at least the time a burst takes to refill: by then the limiter
/// is full again, exactly what a new one would be, so forgetting it gives the key nothing.
impl Retain for Limiter {}

/// One limiter for every request.
#[derive(Debug)]
pub struct GlobalLimit {
    limiter: Limiter,
}

impl GlobalLimit {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            limiter: Limiter::new(quota, TokioClock::new()),
        }
    }
}

impl<Req> Admit<Req> for GlobalLimit {
    #[inline]
    fn admit(&self, _request: &Req) -> Result<(), RateLimited> {
        self.limiter.check()
    }
}

/// One limiter per key, in a bounded [`KeyedTable`], and one overflow limiter shared by the
/// keys that find the table full. See [bounded memory](crate#bounded-memory).
pub struct KeyedLimit<E: KeyExtractor> {
    extractor: E,
    table: KeyedTable<E::Key, Limiter>,
    overflow: Limiter,
    overflowed: AtomicU64,
    quota: Quota,
    clock: TokioClock,
}

impl<E: KeyExtractor> KeyedLimit<E> {
    pub(crate) fn new(extractor: E, table: KeyedTable<E::Key, Limiter>, quota: Quota) -> Self {
        let clock = TokioClock::new();
        Self {
            extractor,
            table,
            overflow: Limiter::new(quota, clock),
            overflowed: AtomicU64::new(0),
            quota,
            clock,
        }
    }

    /// Counts one request of `key` if its quota allows it now.
    pub fn check_key(&self, key: &E::Key) -> Result<(), RateLimited> {
        let (quota, clock) = (self.quota, self.clock);
        match self
            .table
            .get_or_insert_with(key, |_| Limiter::new(quota, clock))
        {
            Some(limiter) => limiter.check(),
            None => {
                self.overflowed.fetch_add(1, Ordering::Relaxed);
                self.overflow.check()
            }
        }
    }

    /// How many keys have a limiter of their own now; never more than
    /// [`max_keys`](Self::max_keys).
    pub fn keys(&self) -> usize {
        self.table.len()
    }

    /// The most keys with a limiter of their own.
    pub fn max_keys(&self) -> usize {
        self.table.max_keys()
    }

    /// How many requests found the table full and were counted by the shared overflow
    /// limiter instead of their key's own.
    pub fn overflow_requests(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

impl<E: KeyExtractor + fmt::Debug> fmt::Debug for KeyedLimit<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimit")
            .field("extractor", &self.extractor)
            .field("table", &self.table)
            .field("overflow_requests", &self.overflow_requests())
            .finish_non_exhaustive()
    }
}

impl<Req, E: ExtractKey<Req>> Admit<Req> for KeyedLimit<E> {
    #[inline]
    fn admit(&self, request: &Req) -> Result<(), RateLimited> {
        self.check_key(&self.extractor.extract(request))
    }
}
