//! The readers of a replayable body that wait for its source, and waking them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Wake, Waker};

/// The readers waiting for the source.
#[derive(Default)]
pub(super) struct Waiters {
    /// Bumped by every wake from the source, so that a reader registering after its poll of
    /// the source returned `Pending` can tell whether it missed a wake in between.
    wakes: AtomicU64,
    /// Whether `wakers` may hold any waker, so that a ready frame with nobody waiting
    /// takes no lock. Only changed with `wakers` locked.
    waiting: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    /// Registers a reader whose poll of the source returned `Pending`; `seen` is the count
    /// of wakes read before that poll.
    pub(super) fn register(&self, waker: &Waker, seen: u64) {
        {
            let mut wakers = lock(&self.wakers);
            if !wakers.iter().any(|w| w.will_wake(waker)) {
                wakers.push(waker.clone());
            }
            self.waiting.store(true, Ordering::SeqCst);
        }
        if self.wakes.load(Ordering::SeqCst) != seen {
            // The source woke us between the poll and the registration: the wake took a
            // list we were not in yet.
            waker.wake_by_ref();
        }
    }

    pub(super) fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::SeqCst)
    }

    fn take(&self) -> Vec<Waker> {
        let mut wakers = lock(&self.wakers);
        self.waiting.store(false, Ordering::SeqCst);
        std::mem::take(&mut *wakers)
    }

    /// After a reader's poll of the source returned a frame (or its end): wakes the other
    /// readers waiting for the source, which can now make progress. The reader itself is
    /// being answered, so it is not woken.
    ///
    /// Called with the body's state locked, which every registration also holds: a reader
    /// cannot register between the check of `waiting` and the wakes.
    pub(super) fn wake_others(&self, me: &Waker) {
        if !self.waiting.load(Ordering::SeqCst) {
            return;
        }
        for waker in self.take() {
            if !waker.will_wake(me) {
                waker.wake();
            }
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        for waker in self.take() {
            waker.wake();
        }
    }
}

/// Locks `mutex`, recovering from poisoning.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held (inside the source's `poll_frame`) leaves the state
    // consistent: every update happens after the source returned.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
