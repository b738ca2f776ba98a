//! The state every clone of a shedding service shares: the count in flight, the limit, the
//! algorithm that learns it, and the optional wait queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use seawall_core::permit::{End, Permit};
use seawall_core::{Calls, Events};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::limit::{Limit, Sample, Window};
use crate::priority::Priority;

/// A bounded wait queue in front of the limit.
#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) capacity: usize,
    pub(crate) max_wait: Duration,
    /// `(target, interval)`: once the queue has not been empty for `interval`, a request
    /// waits at most `target`, and the newest is served first.
    pub(crate) codel: Option<(Duration, Duration)>,
    waiting: AtomicUsize,
    next_id: AtomicU64,
    waiters: Mutex<Waiters>,
}

#[derive(Debug)]
struct Waiters {
    classes: [VecDeque<Waiter>; 3],
    last_empty: Instant,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    grant: oneshot::Sender<()>,
}

/// How a request joined the queue.
pub(crate) enum Enqueued {
    /// A slot was free after all.
    Admitted(usize),
    /// It waits for a grant on `rx`, for at most `wait`.
    Waiting {
        id: u64,
        rx: oneshot::Receiver<()>,
        wait: Duration,
    },
    /// The queue is full of requests at least as important.
    Full,
}

impl Queue {
    pub(crate) fn new(
        capacity: usize,
        max_wait: Duration,
        codel: Option<(Duration, Duration)>,
    ) -> Self {
        let empty = || VecDeque::with_capacity(capacity.min(1024));
        Self {
            capacity,
            max_wait,
            codel,
            waiting: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            waiters: Mutex::new(Waiters {
                classes: [empty(), empty(), empty()],
                last_empty: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        self.waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn overloaded(&self, waiters: &Waiters, now: Instant) -> bool {
        match self.codel {
            Some((_, interval)) => {
                waiters.classes.iter().any(|c| !c.is_empty())
                    && now.saturating_duration_since(waiters.last_empty) > interval
            }
            None => false,
        }
    }
}

/// The shared state of one shedding layer.
#[derive(Debug)]
pub(crate) struct Controller {
    in_flight: AtomicUsize,
    limit: AtomicUsize,
    /// Whether the algorithm learns; if not, no clock is read and no lock taken.
    learns: bool,
    algorithm: Mutex<Learner>,
    /// The share of the limit each priority may fill.
    ceilings: [f64; 3],
    pub(crate) queue: Option<Queue>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) events: Events,
    /// `seawall_calls_total`: each admitted call's outcome, each refusal.
    pub(crate) calls: Calls,
    meters: Meters,
}

/// The algorithm, and the window that aggregates its samples if it asks for one
/// ([`Limit::sample_window`]).
#[derive(Debug)]
struct Learner {
    limit: Box<dyn Limit>,
    window: Option<Window>,
}

impl Learner {
    /// Learns from one request; returns the limit.
    fn learn(&mut self, sample: Sample) -> usize {
        match &mut self.window {
            Some(window) => {
                if let Some(window) = window.add(sample) {
                    self.limit.update(window);
                }
            }
            None => self.limit.update(sample),
        }
        self.limit.limit().max(1)
    }
}

/// The shedder's own metrics, with the `metrics` feature: the counter
/// `seawall_shed_admitted_total{name}` and the gauge `seawall_shed_limit{name}`, their
/// handles taken when the layer is built. Without the feature, empty.
#[derive(Debug)]
struct Meters {
    #[cfg(feature = "metrics")]
    admitted: metrics::Counter,
    #[cfg(feature = "metrics")]
    limit: metrics::Gauge,
}

impl Meters {
    fn new(events: &Events, limit: usize) -> Self {
        #[cfg(feature = "metrics")]
        {
            let name = events.name().to_owned();
            let meters = Self {
                admitted: metrics::counter!("seawall_shed_admitted_total", "name" => name.clone()),
                limit: metrics::gauge!("seawall_shed_limit", "name" => name),
            };
            meters.limit(limit);
            meters
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = (events, limit);
            Self {}
        }
    }

    /// A request was admitted (at once or from the queue).
    #[inline]
    fn admitted(&self) {
        #[cfg(feature = "metrics")]
        self.admitted.increment(1);
    }

    /// The limit is now `limit`.
    fn limit(&self, limit: usize) {
        #[cfg(feature = "metrics")]
        self.limit.set(limit as f64);
        #[cfg(not(feature = "metrics"))]
        let _ = limit;
    }
}

impl Controller {
    pub(crate) fn new(
        algorithm: Box<dyn Limit>,
        ceilings: [f64; 3],
        queue: Option<Queue>,
        retry_after: Option<Duration>,
        events: Events,
    ) -> Self {
        let limit = algorithm.limit().max(1);
        let window = algorithm.sample_window();
        Self {
            in_flight: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
            meters: Meters::new(&events, limit),
            learns: algorithm.learns(),
            algorithm: Mutex::new(Learner {
                window: (!window.is_zero()).then(|| Window::new(window)),
                limit: algorithm,
            }),
            ceilings,
            queue,
            retry_after,
            calls: Calls::new(&events),
            events,
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Takes a slot for a request of `priority` if one is free under its ceiling; returns
    /// the count in flight with it.
    pub(crate) fn try_acquire(&self, priority: Priority) -> Option<usize> {
        let limit = self.limit.load(Ordering::Relaxed);
        let cap = ((limit as f64 * self.ceilings[priority.index()]) as usize).max(1);
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()
            .map(|n| n + 1)
    }

    /// Whether admission must go through the queue (others are waiting already).
    pub(crate) fn must_queue(&self) -> bool {
        self.queue
            .as_ref()
            .is_some_and(|q| q.waiting.load(Ordering::SeqCst) > 0)
    }

    /// Joins the queue, or takes a slot if one is free, or evicts a less important waiter.
    pub(crate) fn enqueue(&self, priority: Priority, now: Instant) -> Enqueued {
        let Some(queue) = &self.queue else {
            return Enqueued::Full;
        };
        let mut waiters = queue.lock();
        queue.waiting.fetch_add(1, Ordering::SeqCst);
        // Tried under the lock, after counting itself as waiting: a slot freed since the
        // caller's own attempt is either seen here or handed over by `free_slot`.
        if let Some(n) = self.try_acquire(priority) {
            queue.waiting.fetch_sub(1, Ordering::SeqCst);
            return Enqueued::Admitted(n);
        }
        if waiters.classes.iter().all(VecDeque::is_empty) {
            waiters.last_empty = now;
        }
        let queued: usize = waiters.classes.iter().map(VecDeque::len).sum();
        if queued >= queue.capacity {
            // Make room by refusing the newest waiter of the least important class below
            // this one; dropping its sender wakes it with a rejection.
            let lower = (priority.index() + 1..3)
                .rev()
                .find(|&c| !waiters.classes[c].is_empty());
            match lower {
                Some(c) => {
                    waiters.classes[c].pop_back();
                    queue.waiting.fetch_sub(1, Ordering::SeqCst);
                }
                None => {
                    queue.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Enqueued::Full;
                }
            }
        }
        let wait = match queue.codel {
            Some((target, _)) if queue.overloaded(&waiters, now) => target.min(queue.max_wait),
            _ => queue.max_wait,
        };
        let id = queue.next_id.fetch_add(1, Ordering::Relaxed);
        let (grant, rx) = oneshot::channel();
        waiters.classes[priority.index()].push_back(Waiter { id, grant });
        Enqueued::Waiting { id, rx, wait }
    }

    /// Takes a waiter out of the queue (it gave up); whether it was still there.
    pub(crate) fn leave(&self, priority: Priority, id: u64) -> bool {
        let Some(queue) = &self.queue else {
            return false;
        };
        let mut waiters = queue.lock();
        let class = &mut waiters.classes[priority.index()];
        match class.iter().position(|w| w.id == id) {
            Some(at) => {
                class.remove(at);
                queue.waiting.fetch_sub(1, Ordering::SeqCst);
                if waiters.classes.iter().all(VecDeque::is_empty) {
                    waiters.last_empty = Instant::now();
                }
                true
            }
            None => false,
        }
    }

    /// Frees a slot, and hands free slots to waiters, most important first.
    pub(crate) fn free_slot(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let Some(queue) = &self.queue else {
            return;
        };
        if queue.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let now = Instant::now();
        let mut waiters = queue.lock();
        let lifo = queue.overloaded(&waiters, now);
        'classes: for class in Priority::ALL {
            loop {
                if waiters.classes[class.index()].is_empty() {
                    continue 'classes;
                }
                if self.try_acquire(class).is_none() {
                    break 'classes;
                }
                let deque = &mut waiters.classes[class.index()];
                let waiter = if lifo {
                    deque.pop_back()
                } else {
                    deque.pop_front()
                };
                queue.waiting.fetch_sub(1, Ordering::SeqCst);
                let granted = waiter.is_some_and(|w| w.grant.send(()).is_ok());
                if !granted {
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        if waiters.classes.iter().all(VecDeque::is_empty) {
            waiters.last_empty = now;
        }
    }

    /// Learns from a finished request and frees its slot.
    fn finish(&self, sample: Option<Sample>) {
        if let Some(sample) = sample {
            let limit = self
                .algorithm
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .learn(sample);
            // The gauge moves only when the limit does: most samples leave it where it was.
            if self.limit.swap(limit, Ordering::Relaxed) != limit {
                self.meters.limit(limit);
            }
        }
        self.free_slot();
    }
}

/// The slot a request holds while in flight; released once, through a
/// [`PermitGuard`](seawall_core::permit::PermitGuard).
///
/// [`End::Complete`] feeds the limit a latency sample, [`End::Error`] a drop, and
/// [`End::Cancelled`] (the caller went away, or the outcome said nothing) no sample.
#[derive(Debug)]
pub struct ShedPermit {
    controller: Arc<Controller>,
    /// When it was admitted, if the limit learns.
    admitted: Option<Instant>,
    in_flight: usize,
}

impl ShedPermit {
    pub(crate) fn new(controller: Arc<Controller>, in_flight: usize) -> Self {
        let admitted = controller.learns.then(Instant::now);
        controller.meters.admitted();
        Self {
            controller,
            admitted,
            in_flight,
        }
    }
}

impl ShedPermit {
    /// The shedder's `seawall_calls_total` counters.
    pub(crate) fn calls(&self) -> &Calls {
        &self.controller.calls
    }
}

impl Permit for ShedPermit {
    fn release(self, end: End) {
        let sample = match self.admitted {
            Some(admitted) if end != End::Cancelled => {
                let now = Instant::now();
                Some(Sample {
                    now,
                    rtt: now.saturating_duration_since(admitted),
                    in_flight: self.in_flight,
                    dropped: end == End::Error,
                })
            }
            _ => None,
        };
        self.controller.finish(sample);
    }
}
