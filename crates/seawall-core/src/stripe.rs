//! Per-thread stripes: state that every call writes, split so that threads on different
//! cores write different cache lines.
//!
//! A value that every call writes (a counter, a reference count) is one cache line the cores
//! take turns owning: two threads hammering it each go slower than one alone. Striping gives
//! each thread a copy of its own (threads are numbered in the order they first ask, and take
//! stripes round-robin), and whoever reads sums the stripes.
//!
//! - [`Stripes`] holds one value per stripe, each on cache lines of its own: the retry
//!   budget's deposit windows, a shedder's admission ticks.
//! - [`Handles`] hands out owned handles to one shared value from per-stripe reference
//!   counts: a response future that must own a handle to its layer's state (it outlives the
//!   call) clones the calling thread's handle, not one `Arc` every thread clones. A
//!   [`Handle`] is one pointer either way, from [`Handles`] or from a lone [`Anchor`].
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use seawall_core::stripe::Stripes;
//!
//! let calls = Stripes::new(|| AtomicU64::new(0));
//! calls.mine().fetch_add(1, Ordering::Relaxed);
//! let total: u64 = calls.iter().map(|c| c.load(Ordering::Relaxed)).sum();
//! assert_eq!(total, 1);
//! ```

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// At most this many stripes, whatever the machine.
const MAX_STRIPES: usize = 64;

/// The number of stripes: four per core, so that two busy threads rarely share one, rounded
/// up to a power of two, at most 64.
pub fn count() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores
        .saturating_mul(4)
        .next_power_of_two()
        .clamp(1, MAX_STRIPES)
}

thread_local! {
    /// This thread's number, from 1; 0 until it first asks for its stripe.
    static THREAD: Cell<usize> = const { Cell::new(0) };
}

/// Numbers threads in the order they first ask for a stripe.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's stripe among `len`, a power of two.
#[inline]
fn index(len: usize) -> usize {
    let number = match THREAD.get() {
        0 => first_use(),
        n => n,
    };
    number & (len - 1)
}

/// Numbers the calling thread, once.
#[cold]
#[inline(never)]
fn first_use() -> usize {
    let n = NEXT_THREAD
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(1)
        .max(1);
    THREAD.set(n);
    n
}

/// A value aligned to a cache-line pair (adjacent-line prefetching pulls lines in pairs), so
/// that two of them never share one.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct Padded<T>(pub(crate) T);

/// One value per stripe ([`count`] of them), each on cache lines of its own.
pub struct Stripes<T> {
    stripes: Box<[Padded<T>]>,
}

impl<T> Stripes<T> {
    /// One value per stripe, each made by `make`.
    pub fn new(mut make: impl FnMut() -> T) -> Self {
        Self {
            stripes: (0..count()).map(|_| Padded(make())).collect(),
        }
    }

    /// One value per stripe, each made by `make`; the first error if one fails.
    pub fn try_new<E>(mut make: impl FnMut() -> Result<T, E>) -> Result<Self, E> {
        let stripes = (0..count())
            .map(|_| make().map(Padded))
            .collect::<Result<_, E>>()?;
        Ok(Self { stripes })
    }

    /// The calling thread's value.
    #[inline]
    pub fn mine(&self) -> &T {
        &self.stripes[index(self.stripes.len())].0
    }

    /// Every stripe's value, for a reader that sums them.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter().map(|s| &s.0)
    }

    /// How many stripes there are (a power of two).
    pub fn len(&self) -> usize {
        self.stripes.len()
    }

    /// Always false: there is at least one stripe.
    pub fn is_empty(&self) -> bool {
        self.stripes.is_empty()
    }
}

impl<T: fmt::Debug> fmt::Debug for Stripes<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One shared value, and one reference-counted handle to it per stripe.
///
/// [`handle`](Self::handle) clones the calling thread's handle: its reference count is
/// written by the threads of that stripe only, where cloning one `Arc` would have every
/// thread write the same count. Each stripe's handle is an [`Anchor`] of its own, made here
/// (no allocation per handle), so that its count has cache lines of its own.
pub struct Handles<T> {
    shared: Arc<T>,
    stripes: Box<[Arc<Anchor<T>>]>,
}

impl<T> Handles<T> {
    /// Handles to `shared`, one per stripe.
    pub fn new(shared: Arc<T>) -> Self {
        let stripes = (0..count())
            .map(|_| Arc::new(Anchor::new(shared.clone())))
            .collect();
        Self { shared, stripes }
    }

    /// An owned handle from the calling thread's stripe.
    #[inline]
    pub fn handle(&self) -> Handle<T> {
        Handle(self.stripes[index(self.stripes.len())].clone())
    }

    /// The shared value's own `Arc`.
    pub fn shared(&self) -> &Arc<T> {
        &self.shared
    }
}

impl<T> Deref for Handles<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.shared
    }
}

impl<T: fmt::Debug> fmt::Debug for Handles<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Handles").field(&self.shared).finish()
    }
}

/// What a [`Handle`] counts on: an `Arc` to the shared value, on cache lines of its own.
///
/// [`Handles`] makes one per stripe. A value that is one of many and short-lived (a keyed
/// breaker's) can keep one `Arc<Anchor<T>>` instead of an `Arc<T>` and hand it out as a
/// [`Handle`] with no allocation and no stripes: cloning it writes one count, as cloning an
/// `Arc<T>` would.
#[repr(align(128))]
pub struct Anchor<T>(Arc<T>);

impl<T> Anchor<T> {
    /// An anchor for `shared`.
    pub fn new(shared: Arc<T>) -> Self {
        Self(shared)
    }

    /// The shared value's own `Arc`.
    pub fn shared(&self) -> &Arc<T> {
        &self.0
    }
}

impl<T> Deref for Anchor<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Anchor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Anchor").field(&self.0).finish()
    }
}

/// An owned handle to a value shared through [`Handles`] or an [`Anchor`]. One pointer;
/// reaching the value is two loads, with no branch.
pub struct Handle<T>(Arc<Anchor<T>>);

impl<T> Handle<T> {
    /// A handle that counts on `anchor` (no allocation).
    #[inline]
    pub fn anchored(anchor: Arc<Anchor<T>>) -> Self {
        Self(anchor)
    }
}

impl<T> From<Arc<T>> for Handle<T> {
    /// A handle of its own for `shared`: allocates an [`Anchor`], so it is for the paths
    /// that are not hot (a request taken from a queue, a test).
    fn from(shared: Arc<T>) -> Self {
        Self(Arc::new(Anchor::new(shared)))
    }
}

impl<T> Clone for Handle<T> {
    #[inline]
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Deref for Handle<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0 .0
    }
}

impl<T: fmt::Debug> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Handle").field(&**self).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn stripes_are_apart_and_threads_spread_over_them() {
        let stripes = Arc::new(Stripes::new(|| AtomicU64::new(0)));
        assert!(stripes.len().is_power_of_two() && stripes.len() >= 4);
        let a = stripes.iter().next().map(|s| s as *const _ as usize);
        let b = stripes.iter().nth(1).map(|s| s as *const _ as usize);
        assert!(
            b.zip(a).is_some_and(|(b, a)| b - a >= 128),
            "two stripes share a line"
        );
        // More threads than stripes, so that some share one.
        let threads: Vec<_> = (0..stripes.len() + 3)
            .map(|_| {
                let stripes = stripes.clone();
                std::thread::spawn(move || {
                    for _ in 0..1_000 {
                        stripes.mine().fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let counts: Vec<u64> = stripes.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        let expected = (stripes.len() as u64 + 3) * 1_000;
        assert_eq!(counts.iter().sum::<u64>(), expected, "a count was lost");
        assert!(
            counts.iter().all(|&c| c < expected),
            "one stripe took every thread: {counts:?}"
        );
    }

    #[test]
    fn handles_keep_the_value_alive_and_count_apart_from_its_arc() {
        let shared = Arc::new(String::from("state"));
        let handles = Handles::new(shared.clone());
        let handle = handles.handle();
        // On any thread, every handle comes from the thread's one stripe.
        let other = std::thread::spawn({
            let handles = Arc::new(Handles::new(shared.clone()));
            move || {
                let h = handles.handle();
                let mine = handles.handle();
                // The same thread gets the same stripe every time.
                Arc::ptr_eq(&h.0, &mine.0)
            }
        });
        assert!(other.join().unwrap());
        let strong = Arc::strong_count(&shared);
        let clones: Vec<_> = (0..100).map(|_| handles.handle()).collect();
        assert_eq!(
            Arc::strong_count(&shared),
            strong,
            "a handle wrote the shared Arc's count"
        );
        assert!(clones.iter().all(|h| **h == "state"));
        drop(handles);
        // The handles outlive the `Handles` that made them.
        assert_eq!(*handle, "state");
        assert_eq!(*clones[99].clone(), "state");
        let plain = Handle::from(shared.clone());
        assert_eq!(*plain.clone(), "state");
        let anchor = Arc::new(Anchor::new(shared.clone()));
        let anchored = Handle::anchored(anchor.clone());
        assert_eq!(*anchored.clone(), "state");
        assert_eq!(
            Arc::strong_count(&anchor),
            2,
            "the handle counts on the anchor"
        );
        drop((anchor, anchored));
        drop((handle, clones, plain));
        assert_eq!(Arc::strong_count(&shared), 1, "a handle leaked its value");
    }
}
