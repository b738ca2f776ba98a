//! [`RateLimitBuilder`]: the quota, and for a keyed limit the key and its table's bounds.

use std::sync::Arc;
use std::time::Duration;

use governor::Quota;
use seawall_core::keyed::{KeyedTable, MAX_KEYS};
use seawall_core::ConfigError;

use crate::key::{KeyExtractor, KeyFn};
use crate::layer::RateLimitLayer;
use crate::limiter::{GlobalLimit, KeyedLimit};

/// The longest period, and the longest time a burst may take to refill: a year.
const MAX_SPAN: Duration = Duration::from_secs(365 * 24 * 3600);
/// How much earlier than a key's last use the table may have noted it (it writes the time
/// at most once a millisecond per key).
const TOUCH_SLACK: Duration = Duration::from_millis(1);

/// Builds a [`RateLimitLayer`]; made by [`RateLimitLayer::builder`]. `Key` is `()` for one
/// limit shared by every request, or the [`KeyExtractor`] of a keyed limit.
#[derive(Clone, Debug)]
pub struct RateLimitBuilder<Key = ()> {
    requests: u32,
    per: Duration,
    burst: Option<u32>,
    max_keys: usize,
    idle_timeout: Option<Duration>,
    key: Key,
}

impl RateLimitBuilder {
    pub(crate) fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests,
            per,
            burst: None,
            max_keys: 10_000,
            idle_timeout: None,
            key: (),
        }
    }

    /// One limiter per key, the key found by `extractor`
    /// ([`PeerIp`](crate::PeerIp), [`FromHeader`](crate::FromHeader), …).
    pub fn key_by<E: KeyExtractor>(self, extractor: E) -> RateLimitBuilder<E> {
        RateLimitBuilder {
            requests: self.requests,
            per: self.per,
            burst: self.burst,
            max_keys: self.max_keys,
            idle_timeout: self.idle_timeout,
            key: extractor,
        }
    }

    /// One limiter per key, the key returned by `f` (annotate the request's type on the
    /// closure's argument: `|req: &Request<Body>| …`).
    pub fn key_by_fn<Req, K, F>(self, f: F) -> RateLimitBuilder<KeyFn<F, K>>
    where
        F: Fn(&Req) -> K,
        KeyFn<F, K>: KeyExtractor,
    {
        self.key_by(KeyFn::new(f))
    }

    /// Validates the settings and builds a layer with one limiter that every service it
    /// makes, and every clone of those, shares.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field, as for the keyed [`build`](RateLimitBuilder::build).
    pub fn build(self) -> Result<RateLimitLayer<GlobalLimit>, ConfigError> {
        let quota = self.quota()?;
        Ok(RateLimitLayer::from_limit(Arc::new(GlobalLimit::new(
            quota,
        ))))
    }
}

impl<Key> RateLimitBuilder<Key> {
    /// How many requests may go at once after a quiet spell; the default is `requests`
    /// (the whole quota of one period). A burst of 1 spaces requests evenly, one every
    /// `per / requests`.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Keyed limits: the most keys with a limiter of their own (default 10,000; at most
    /// 1,000,000). Memory is bounded by this many limiters (an atomic word, a clock and the
    /// quota, about 64 bytes) plus twice the size of each key.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Keyed limits: how long a key must go without requests before its limiter may be
    /// forgotten to make room for a new key. The default, and the least allowed, is the
    /// time a burst takes to refill (`burst × per / requests`): a limiter that old is full
    /// again, so forgetting it gives its key nothing.
    pub fn idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = Some(idle_timeout);
        self
    }

    fn quota(&self) -> Result<Quota, ConfigError> {
        if self.requests == 0 {
            return Err(ConfigError::new("requests must be at least 1, got 0"));
        }
        if self.per.is_zero() || self.per > MAX_SPAN {
            return Err(ConfigError::new(format!(
                "per must be in (0s, 365 days], got {:?}",
                self.per
            )));
        }
        let period = self.per / self.requests;
        if period.is_zero() {
            return Err(ConfigError::new(format!(
                "requests must be at most one a nanosecond of per ({} in {:?}), got {}",
                self.per.as_nanos(),
                self.per,
                self.requests
            )));
        }
        let burst = self.burst.unwrap_or(self.requests);
        let Some(nonzero) = std::num::NonZeroU32::new(burst) else {
            return Err(ConfigError::new("burst must be at least 1, got 0"));
        };
        if period.saturating_mul(burst) > MAX_SPAN {
            return Err(ConfigError::new(format!(
                "burst must refill within 365 days (burst × per / requests), got {burst} × {period:?}"
            )));
        }
        let quota = Quota::with_period(period)
            .ok_or_else(|| ConfigError::new("per / requests must be more than zero"))?;
        Ok(quota.allow_burst(nonzero))
    }
}

impl<E: KeyExtractor> RateLimitBuilder<E> {
    /// Validates the settings and builds a layer with one limiter per key, shared by every
    /// service it makes and every clone of those.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when `requests` or `burst` is 0, `per` is zero
    /// or over a year, a burst takes over a year to refill, `max_keys` is outside
    /// 1..=1,000,000, or `idle_timeout` is shorter than a burst's refill time.
    pub fn build(self) -> Result<RateLimitLayer<KeyedLimit<E>>, ConfigError> {
        let quota = self.quota()?;
        ConfigError::check_within("max_keys", self.max_keys, 1..=MAX_KEYS)?;
        let refill = quota.burst_size_replenished_in();
        let idle_timeout = self.idle_timeout.unwrap_or(refill);
        if idle_timeout < refill {
            return Err(ConfigError::new(format!(
                "idle_timeout must be at least the time a burst takes to refill ({refill:?}), got {idle_timeout:?}"
            )));
        }
        let table = KeyedTable::new(self.max_keys, idle_timeout.saturating_add(TOUCH_SLACK))?;
        Ok(RateLimitLayer::from_limit(Arc::new(KeyedLimit::new(
            self.key, table, quota,
        ))))
    }
}
