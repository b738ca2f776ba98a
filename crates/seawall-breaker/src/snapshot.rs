//! [`Metrics`]: a snapshot of a breaker's state and counters.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::state::State;

/// A snapshot of a breaker's state and counters, from
/// [`BreakerHandle::metrics`](crate::BreakerHandle::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// The state the next call would find (see [`BreakerHandle::state`](crate::BreakerHandle::state)).
    pub state: State,
    /// Failures in a row so far (0 when the condition is off).
    pub consecutive_failures: u32,
    /// Calls in the rate window (0 when neither rate condition is on).
    pub window_calls: u64,
    /// Failed calls in the rate window.
    pub window_failures: u64,
    /// Slow calls in the rate window.
    pub window_slow_calls: u64,
    /// Failures counted since the breaker was built (probes included).
    pub failures: u64,
    /// Slow calls counted since the breaker was built.
    pub slow_calls: u64,
    /// Results the classifier ignored.
    pub ignored: u64,
    /// Calls rejected because the breaker was open, half-open without a free probe, or
    /// forced open.
    pub rejected: u64,
    /// Times the breaker opened (trips and failed half-opens; not forced opens).
    pub trips: u64,
    /// Probe calls admitted in half-open, since the breaker was built.
    pub probes: u64,
    /// Probe permits taken in the current half-open phase: probes in flight and probes
    /// that succeeded (a probe dropped unfinished, or whose result was ignored, gives its
    /// permit back). 0 when the breaker is not half-open.
    pub probe_permits: u32,
    /// Probes that succeeded in the current half-open phase; the breaker closes when this
    /// reaches [`probes`](crate::CircuitBreakerBuilder::probes). 0 when the breaker is not half-open.
    pub probe_successes: u32,
}

/// The counters since the breaker was built.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) failures: AtomicU64,
    pub(crate) slow: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) trips: AtomicU64,
    pub(crate) probes: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
