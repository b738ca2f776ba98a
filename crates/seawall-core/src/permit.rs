//! Permits held for as long as the work they admitted is in flight.
//!
//! # Why
//!
//! A layer that admits a call — a half-open breaker handing out one of its probe slots, a
//! concurrency limiter counting calls in flight — has to take the permit back when the call is
//! over. For an HTTP call that is not when the response headers arrive: the upstream is still
//! busy streaming the body, a slow or failing body is part of the call's outcome, and a limiter
//! that frees its slot at the headers lets in far more concurrent work than its limit says.
//! The call is over when the body yields its last frame, fails, or is dropped unfinished.
//!
//! This module is the part of that which knows nothing about HTTP:
//!
//! - [`Permit`]: what a layer does when the work ends, told how it ended ([`End`]). A layer
//!   implements it on a small named struct (its shared state, an epoch, a start time), so the
//!   guarded response type can be named and nothing is boxed.
//! - [`PermitGuard`]: holds a permit and releases it **exactly once**: when
//!   [`release`](PermitGuard::release) is called, or with [`End::Cancelled`] when the guard is
//!   dropped while still holding it. A layer keeps the guard in its response future (dropping
//!   the future gives the permit back) and then moves it into the response body.
//! - [`OnRelease`]: a permit whose release is a closure, for tests and one-off uses.
//!
//! `seawall_http::body::GuardedBody` carries a guard inside a response body and releases it at
//! the body's end.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use seawall_core::permit::{End, OnRelease, PermitGuard};
//!
//! let in_flight = Arc::new(AtomicUsize::new(0));
//! in_flight.fetch_add(1, Ordering::Relaxed);
//! let mut guard = PermitGuard::new(OnRelease::new({
//!     let in_flight = in_flight.clone();
//!     move |_end: End| {
//!         in_flight.fetch_sub(1, Ordering::Relaxed);
//!     }
//! }));
//! assert_eq!(in_flight.load(Ordering::Relaxed), 1);
//! assert!(guard.release(End::Complete));
//! assert!(!guard.release(End::Complete), "a permit is released once");
//! drop(guard);
//! assert_eq!(in_flight.load(Ordering::Relaxed), 0);
//! ```

use std::fmt;

/// How the work a permit admitted ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// It ran to its end: a response body yielded its last frame.
    Complete,
    /// It failed partway: a response body yielded an error.
    Error,
    /// It was given up before its end: the future or the body holding the permit was dropped
    /// unfinished (the caller went away, or stopped reading).
    Cancelled,
}

/// What a layer does when the work it admitted ends: free a slot, record an outcome.
///
/// Held inside a [`PermitGuard`], which calls [`release`](Permit::release) exactly once, so an
/// implementation needs no `Drop` of its own and no "already released" flag.
pub trait Permit {
    /// Gives the permit back; `end` says how the work ended.
    fn release(self, end: End);
}

/// Holds a [`Permit`] and releases it exactly once: on [`release`](Self::release), or with
/// [`End::Cancelled`] when dropped while still holding it.
///
/// # Panics
///
/// Never itself; a permit's own `release` runs inside `drop` when the guard is dropped, so it
/// should not panic either.
pub struct PermitGuard<P: Permit> {
    permit: Option<P>,
}

impl<P: Permit> PermitGuard<P> {
    /// Holds `permit` until released or dropped.
    pub fn new(permit: P) -> Self {
        Self {
            permit: Some(permit),
        }
    }

    /// Releases the permit with `end` if the guard still holds it; returns whether it did.
    pub fn release(&mut self, end: End) -> bool {
        match self.permit.take() {
            Some(permit) => {
                permit.release(end);
                true
            }
            None => false,
        }
    }

    /// Whether the permit is still held (not yet released).
    pub fn is_held(&self) -> bool {
        self.permit.is_some()
    }

    /// The permit, while it is held.
    pub fn get_ref(&self) -> Option<&P> {
        self.permit.as_ref()
    }
}

impl<P: Permit> Drop for PermitGuard<P> {
    fn drop(&mut self) {
        self.release(End::Cancelled);
    }
}

impl<P: Permit> fmt::Debug for PermitGuard<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermitGuard")
            .field("held", &self.is_held())
            .finish()
    }
}

/// A [`Permit`] whose release is a closure, called with how the work ended.
pub struct OnRelease<F> {
    release: F,
}

impl<F: FnOnce(End)> OnRelease<F> {
    /// A permit that calls `release` when released.
    pub fn new(release: F) -> Self {
        Self { release }
    }
}

impl<F: FnOnce(End)> Permit for OnRelease<F> {
    fn release(self, end: End) {
        (self.release)(end);
    }
}

impl<F> fmt::Debug for OnRelease<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnRelease").finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    type Log = Arc<Mutex<Vec<End>>>;

    /// A guard whose releases are recorded in the returned log.
    fn recorded() -> (PermitGuard<OnRelease<impl FnOnce(End)>>, Log) {
        let log = Log::default();
        let guard = PermitGuard::new(OnRelease::new({
            let log = log.clone();
            move |end| log.lock().unwrap().push(end)
        }));
        (guard, log)
    }

    #[test]
    fn an_explicit_release_happens_once_and_the_drop_after_it_does_nothing() {
        let (mut guard, log) = recorded();
        assert!(guard.is_held());
        assert!(log.lock().unwrap().is_empty(), "held until released");
        assert!(guard.release(End::Error));
        assert!(!guard.is_held());
        assert!(!guard.release(End::Complete));
        drop(guard);
        assert_eq!(*log.lock().unwrap(), vec![End::Error]);
    }

    #[test]
    fn a_guard_dropped_while_holding_releases_as_cancelled() {
        let (guard, log) = recorded();
        drop(guard);
        assert_eq!(*log.lock().unwrap(), vec![End::Cancelled]);
    }
}
