//! The state every clone of a shedding service shares: the count in flight, the limit, the
//! algorithm that learns it, and the optional wait queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use seawall_core::permit::{End, Permit};
use seawall_core::stripe::{Handle, Stripes};
use seawall_core::{Calls, Events};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::limit::{Closed, Limit, Sample, Window};
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
    /// One admitted request in `stride_mask + 1` (a power of two) is timed; see [`Learner`].
    stride_mask: AtomicU32,
    /// Admissions, counted per thread (see [`seawall_core::stripe`]) so that admitting
    /// writes no line another core writes, and without a read-modify-write: a lost count
    /// only shifts which request is timed.
    ticks: Stripes<AtomicU32>,
    /// Whether each priority's share of the limit is the whole of it (no reserve).
    whole: [bool; 3],
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
///
/// A windowed limit learns from each window's mean, which a share of the requests measures
/// as well as all of them: at more than [`TIMED_PER_WINDOW`] requests a window, only one
/// admitted request in a stride (a power of two, at most [`MAX_STRIDE`]) is timed, so the
/// others read no clock and take no lock. A drop is always counted. Below that rate (a
/// 1 s window at 1,000 requests a second, a 100 ms window at 10,000) every request is timed.
#[derive(Debug)]
struct Learner {
    limit: Box<dyn Limit>,
    window: Option<Window>,
}

/// Timed requests a window should hold at least, when the rate allows skipping some.
const TIMED_PER_WINDOW: u32 = 1024;
/// The most requests one timed request stands for.
const MAX_STRIDE: u32 = 64;

impl Learner {
    /// Learns from one timed request; returns the limit, and the new stride mask when a
    /// window closes.
    fn learn(&mut self, sample: Sample, stride: u32) -> (usize, Option<u32>) {
        let mut mask = None;
        match &mut self.window {
            Some(window) => {
                if let Some(Closed { aggregate, seen }) = window.add(sample) {
                    if let Some(aggregate) = aggregate {
                        self.limit.update(aggregate);
                    }
                    let requests = seen.saturating_mul(stride);
                    let next = (requests / TIMED_PER_WINDOW).clamp(1, MAX_STRIDE);
                    // The largest power of two not over `next`.
                    mask = Some((1 << (31 - next.leading_zeros())) - 1);
                }
            }
            None => self.limit.update(sample),
        }
        (self.limit.limit().max(1), mask)
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
            stride_mask: AtomicU32::new(0),
            ticks: Stripes::new(|| AtomicU32::new(0)),
            whole: ceilings.map(|c| c >= 1.0),
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
        let i = priority.index();
        let cap = if self.whole[i] {
            limit
        } else {
            ((limit as f64 * self.ceilings[i]) as usize).max(1)
        };
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

    /// Refuses a request: the `shed` event with `reason` (`over_limit`, `queue_full`,
    /// `queue_timeout`, `displaced`), the refusal counted, and the error to return.
    pub(crate) fn refuse(&self, reason: &'static str) -> seawall_core::rejection::Overloaded {
        seawall_core::event!(shed, DEBUG, &self.events, "shed", reason);
        self.calls.rejected();
        seawall_core::rejection::Overloaded::new(self.retry_after)
    }

    /// Whether to time the request being admitted (see [`Learner`]).
    fn timed(&self) -> bool {
        if !self.learns {
            return false;
        }
        let mask = self.stride_mask.load(Ordering::Relaxed);
        if mask == 0 {
            return true;
        }
        let ticks = self.ticks.mine();
        let n = ticks.load(Ordering::Relaxed).wrapping_add(1);
        ticks.store(n, Ordering::Relaxed);
        n & mask == 0
    }

    fn learner(&self) -> MutexGuard<'_, Learner> {
        self.algorithm
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Learns from a finished request and frees its slot.
    fn finish(&self, sample: Option<Sample>) {
        if let Some(sample) = sample {
            let stride = self.stride_mask.load(Ordering::Relaxed) + 1;
            let (limit, mask) = self.learner().learn(sample, stride);
            if let Some(mask) = mask {
                self.stride_mask.store(mask, Ordering::Relaxed);
            }
            // The gauge moves only when the limit does: most samples leave it where it was.
            if self.limit.load(Ordering::Relaxed) != limit {
                self.limit.store(limit, Ordering::Relaxed);
                self.meters.limit(limit);
            }
        }
        self.free_slot();
    }

    /// Counts the drop of a request that was not timed, and frees its slot.
    fn finish_untimed_drop(&self) {
        if let Some(window) = &mut self.learner().window {
            window.mark_dropped();
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
    /// From the admitting thread's stripe: taking it writes no count another core writes.
    controller: Handle<Controller>,
    /// When it was admitted, if the limit learns and this request is timed.
    admitted: Option<Instant>,
    in_flight: usize,
}

impl ShedPermit {
    pub(crate) fn new(controller: Handle<Controller>, in_flight: usize) -> Self {
        let c: &Controller = &controller;
        let admitted = c.timed().then(Instant::now);
        c.meters.admitted();
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
        let controller: &Controller = &self.controller;
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
            None if end == End::Error && controller.learns => {
                return controller.finish_untimed_drop();
            }
            _ => None,
        };
        controller.finish(sample);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use seawall_core::permit::{End, Permit};
    use seawall_core::Events;

    use super::{Controller, ShedPermit};
    use crate::limit::Aimd;
    use crate::Priority;

    fn controller() -> Arc<Controller> {
        let aimd = Aimd::builder()
            .initial_limit(1000)
            .max_limit(1000)
            .build()
            .unwrap();
        Arc::new(Controller::new(
            Box::new(aimd),
            [1.0; 3],
            None,
            None,
            Events::new("shed"),
        ))
    }

    /// Admits `n` requests, holds them for `hold`, and ends the timed ones as complete and
    /// the others with `untimed`; returns how many were timed.
    async fn batch(c: &Arc<Controller>, n: u32, untimed: End, hold: Duration) -> u32 {
        let permits: Vec<_> = (0..n)
            .map(|_| ShedPermit::new(c.clone().into(), c.try_acquire(Priority::Normal).unwrap()))
            .collect();
        tokio::time::advance(hold).await;
        let mut timed = 0;
        for permit in permits {
            let end = if permit.admitted.is_some() {
                timed += 1;
                End::Complete
            } else {
                untimed
            };
            permit.release(end);
        }
        timed
    }

    #[tokio::test(start_paused = true)]
    async fn at_a_high_rate_one_request_in_a_stride_is_timed_and_drops_still_count() {
        let c = controller();
        let now = Duration::ZERO;
        // The first request closes the empty first window; 20,000 in the next 100 ms.
        assert_eq!(batch(&c, 1, End::Complete, now).await, 1);
        for _ in 0..40 {
            assert_eq!(batch(&c, 500, End::Complete, now).await, 500);
        }
        tokio::time::advance(Duration::from_millis(101)).await;
        batch(&c, 1, End::Complete, now).await;
        // 20,001 requests for 1,024 timed ones: one in 16 is timed from now on.
        let mut timed = 0;
        for _ in 0..4 {
            timed += batch(&c, 400, End::Complete, now).await;
        }
        assert_eq!(timed, 100);
        // Requests of 1 ms; those not timed fail. The window closes with their drops.
        let limit = c.limit();
        let ms = Duration::from_millis(1);
        assert_eq!(batch(&c, 192, End::Error, ms).await, 12);
        tokio::time::advance(Duration::from_millis(101)).await;
        batch(&c, 16, End::Complete, ms).await;
        assert_eq!(c.limit(), limit * 9 / 10, "backs off on the drops");
    }

    #[tokio::test(start_paused = true)]
    async fn at_a_low_rate_every_request_is_timed() {
        let c = controller();
        for _ in 0..20 {
            tokio::time::advance(Duration::from_millis(101)).await;
            let timed = batch(&c, 100, End::Complete, Duration::ZERO).await;
            assert_eq!(timed, 100);
        }
    }
}
