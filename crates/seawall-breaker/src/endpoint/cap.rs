//! The ejection cap: how many of a balancer's endpoints may be ejected at once.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

/// The endpoints of one [`EndpointBreakerLayer`](super::EndpointBreakerLayer) and how many
/// of them are ejected, shared by all of them. Cheap to clone; every clone is the same cap.
///
/// An endpoint is *ejected* while its breaker holds one of the cap's slots: from the first
/// time its `poll_ready` finds the breaker rejecting and the cap has room, until its breaker
/// admits an ordinary (closed) call again or the endpoint is dropped. At most
/// `floor(max_ejected × endpoints)` endpoints hold a slot at once.
#[derive(Clone)]
pub struct EjectionCap {
    inner: Arc<Inner>,
}

struct Inner {
    max_ejected: f64,
    endpoints: AtomicUsize,
    ejected: AtomicUsize,
    /// Endpoints made so far: numbers each endpoint's breaker in its events.
    made: AtomicUsize,
}

impl EjectionCap {
    pub(super) fn new(max_ejected: f64) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_ejected,
                endpoints: AtomicUsize::new(0),
                ejected: AtomicUsize::new(0),
                made: AtomicUsize::new(0),
            }),
        }
    }

    /// The largest share of the endpoints that may be ejected at once (0..=1).
    pub fn max_ejected(&self) -> f64 {
        self.inner.max_ejected
    }

    /// How many endpoints exist now (services made by the layer and not yet dropped).
    pub fn endpoints(&self) -> usize {
        self.inner.endpoints.load(Ordering::Acquire)
    }

    /// How many endpoints are ejected now.
    pub fn ejected(&self) -> usize {
        self.inner.ejected.load(Ordering::Acquire)
    }

    /// How many endpoints may be ejected at once with the endpoints there are now.
    pub fn limit(&self) -> usize {
        limit(self.inner.max_ejected, self.endpoints())
    }

    /// A new endpoint: counted until the returned member is dropped.
    pub(super) fn join(&self) -> (Arc<Member>, usize) {
        self.inner.endpoints.fetch_add(1, Ordering::AcqRel);
        let index = self.inner.made.fetch_add(1, Ordering::Relaxed);
        let member = Member {
            cap: self.clone(),
            holds_slot: AtomicBool::new(false),
            waiter: Mutex::new(None),
        };
        (Arc::new(member), index)
    }

    /// Takes a slot if the cap has room.
    fn try_take(&self) -> bool {
        let ejected = &self.inner.ejected;
        let mut current = ejected.load(Ordering::Acquire);
        loop {
            if current + 1 > self.limit() {
                return false;
            }
            match ejected.compare_exchange(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }

    fn give_back(&self) {
        self.inner.ejected.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `floor(share × endpoints)`, forgiving the rounding of `share` (0.29 × 100 is 28.999…).
fn limit(share: f64, endpoints: usize) -> usize {
    let exact = share * endpoints as f64 + 1e-9;
    // In 0..=endpoints, as share is in 0..=1.
    (exact.floor() as usize).min(endpoints)
}

impl fmt::Debug for EjectionCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EjectionCap")
            .field("max_ejected", &self.max_ejected())
            .field("endpoints", &self.endpoints())
            .field("ejected", &self.ejected())
            .finish()
    }
}

/// One endpoint's place in the cap, shared by the clones of its service and by its probes'
/// futures: whether it holds a slot, and the task to wake when a probe finishes.
pub(super) struct Member {
    cap: EjectionCap,
    holds_slot: AtomicBool,
    waiter: Mutex<Option<Waker>>,
}

impl Member {
    /// Whether this endpoint is ejected: it holds a slot, or just took one.
    pub(super) fn eject(&self) -> bool {
        if self.holds_slot.load(Ordering::Acquire) {
            return true;
        }
        if !self.cap.try_take() {
            return false;
        }
        if self.holds_slot.swap(true, Ordering::AcqRel) {
            // Another clone took one for this endpoint meanwhile: one is enough.
            self.cap.give_back();
        }
        true
    }

    /// The endpoint's breaker admits ordinary calls again: gives its slot back.
    pub(super) fn readmit(&self) {
        if self.holds_slot.load(Ordering::Acquire) && self.holds_slot.swap(false, Ordering::AcqRel)
        {
            self.cap.give_back();
        }
    }

    pub(super) fn is_ejected(&self) -> bool {
        self.holds_slot.load(Ordering::Acquire)
    }

    /// Wakes the task waiting for a probe of this endpoint to finish.
    pub(super) fn wait_for_probe(&self, waker: &Waker) {
        let mut waiter = self.lock();
        match &*waiter {
            Some(w) if w.will_wake(waker) => {}
            _ => *waiter = Some(waker.clone()),
        }
    }

    /// A probe finished (or was dropped): the endpoint may be ready again.
    pub(super) fn probe_done(&self) {
        if let Some(waker) = self.lock().take() {
            waker.wake();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.waiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.readmit();
        self.cap.inner.endpoints.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("ejected", &self.is_ejected())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::limit;

    #[test]
    fn the_limit_rounds_down_but_forgives_float_error() {
        assert_eq!(limit(0.34, 3), 1);
        assert_eq!(limit(0.5, 3), 1);
        assert_eq!(limit(0.5, 2), 1);
        assert_eq!(limit(0.5, 1), 0);
        assert_eq!(limit(0.29, 100), 29);
        assert_eq!(limit(1.0, 4), 4);
        assert_eq!(limit(0.0, 4), 0);
    }
}
