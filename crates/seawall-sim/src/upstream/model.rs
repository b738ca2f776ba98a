//! The upstream's event-driven model: a FIFO queue in front of the workers of the phase in
//! force, advanced lazily to "now" in exact event order.
//!
//! Every state change happens at an event time computed exactly (to the nanosecond): a
//! request finishing, a phase starting, a queued request's timeout. [`Model::advance`]
//! processes the events up to a given instant in time order, so the schedule does not depend
//! on when anyone looks; tokio's millisecond ticks only decide when the futures waiting on
//! the results are woken.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::task::Waker;
use std::time::Duration;

use seawall_core::rng::Rng;
use tokio::time::Instant;

use super::{Abandonment, Capacity, Phase, Reply, UpstreamError, UpstreamStats};

/// One admitted request.
struct Req {
    arrived: Instant,
    state: ReqState,
    waker: Option<Waker>,
    /// The client dropped its future.
    gone: bool,
}

enum ReqState {
    Queued,
    Serving {
        start: Instant,
        finish: Instant,
        service: Duration,
        fails: bool,
    },
    Done(Result<Reply, UpstreamError>),
}

/// Where a request stands, as its future's poll finds it.
pub(super) enum Status {
    /// Waiting for a worker: the future is woken when one takes it.
    Queued,
    /// Being served until this instant: the future sleeps until then itself, so that it
    /// wakes on that very tick, in the task that awaits it, and not after a hop through the
    /// driver task (which may run after a timer due on the same tick).
    Serving(Instant),
    /// Done: the request is forgotten.
    Done(Result<Reply, UpstreamError>),
}

/// The driver task's bookkeeping (see `future.rs`).
#[derive(Default)]
pub(super) struct Driver {
    pub(super) running: bool,
    pub(super) generation: u64,
    /// When the running driver will next wake, once it has looked.
    pub(super) at: Option<Instant>,
    pub(super) waker: Option<Waker>,
}

pub(super) struct Model {
    rng: Rng,
    phases: Vec<(Duration, Phase)>,
    origin: Instant,
    current: usize,
    pub(super) abandonment: Abandonment,
    next_id: u64,
    requests: HashMap<u64, Req>,
    /// Waiting requests in arrival order; entries of requests that left the queue another
    /// way (timed out, abandoned) are skipped when they reach the front.
    queue: VecDeque<u64>,
    /// Requests the server counts as waiting.
    waiting: usize,
    /// Requests being served.
    busy: usize,
    finishing: BinaryHeap<Reverse<(Instant, u64)>>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    pub(super) attempts: Vec<Instant>,
    pub(super) stats: UpstreamStats,
    /// Wakers to wake once the lock is released.
    pub(super) wake: Vec<Waker>,
    pub(super) driver: Driver,
}

impl Model {
    pub(super) fn new(
        seed: u64,
        phases: Vec<(Duration, Phase)>,
        origin: Instant,
        abandonment: Abandonment,
    ) -> Self {
        Self {
            rng: Rng::from_seed(seed),
            phases,
            origin,
            current: 0,
            abandonment,
            next_id: 0,
            requests: HashMap::new(),
            queue: VecDeque::new(),
            waiting: 0,
            busy: 0,
            finishing: BinaryHeap::new(),
            deadlines: BinaryHeap::new(),
            attempts: Vec::new(),
            stats: UpstreamStats::default(),
            wake: Vec::new(),
            driver: Driver::default(),
        }
    }

    fn phase(&self) -> &Phase {
        &self.phases[self.current].1
    }

    fn next_phase_at(&self) -> Option<Instant> {
        self.phases
            .get(self.current + 1)
            .map(|(offset, _)| self.origin + *offset)
    }

    fn has_free_worker(&self) -> bool {
        match self.phase().capacity {
            Capacity::Unlimited => true,
            Capacity::Limited { workers, .. } => self.busy < workers,
        }
    }

    /// Drops heap entries that no longer describe a pending event.
    fn prune(&mut self) {
        while let Some(Reverse((at, id))) = self.finishing.peek() {
            match self.requests.get(id).map(|r| &r.state) {
                Some(ReqState::Serving { finish, .. }) if finish == at => break,
                _ => {
                    self.finishing.pop();
                }
            }
        }
        while let Some(Reverse((_, id))) = self.deadlines.peek() {
            match self.requests.get(id).map(|r| &r.state) {
                Some(ReqState::Queued) => break,
                _ => {
                    self.deadlines.pop();
                }
            }
        }
    }

    /// The next instant at which something happens that someone may be waiting for.
    pub(super) fn next_event(&mut self) -> Option<Instant> {
        self.prune();
        let finishing = self.finishing.peek().map(|Reverse((t, _))| *t);
        let deadline = self.deadlines.peek().map(|Reverse((t, _))| *t);
        // A phase change matters to the schedule only when it may start queued work.
        let phase = if self.waiting > 0 {
            self.next_phase_at()
        } else {
            None
        };
        [finishing, deadline, phase].into_iter().flatten().min()
    }

    /// Processes every event up to `now`, in time order. At one instant: completions first,
    /// then a phase change, then starts, then queue timeouts (a request whose wait equals its
    /// queue timeout is served).
    pub(super) fn advance(&mut self, now: Instant) {
        loop {
            self.prune();
            let finishing = self.finishing.peek().map(|Reverse((t, _))| *t);
            let deadline = self.deadlines.peek().map(|Reverse((t, _))| *t);
            let Some(t) = [finishing, deadline, self.next_phase_at()]
                .into_iter()
                .flatten()
                .min()
                .filter(|t| *t <= now)
            else {
                return;
            };
            while let Some(&Reverse((at, id))) = self.finishing.peek() {
                if at != t {
                    break;
                }
                self.finishing.pop();
                self.complete(id);
            }
            while self.next_phase_at().is_some_and(|at| at <= t) {
                self.current += 1;
            }
            self.dispatch(t);
            self.prune();
            while let Some(&Reverse((at, id))) = self.deadlines.peek() {
                if at != t {
                    break;
                }
                self.deadlines.pop();
                self.expire(id);
            }
        }
    }

    fn finish(&mut self, id: u64, result: Result<Reply, UpstreamError>) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        if req.gone {
            self.requests.remove(&id);
        } else {
            req.state = ReqState::Done(result);
            if let Some(waker) = req.waker.take() {
                self.wake.push(waker);
            }
        }
    }

    fn complete(&mut self, id: u64) {
        let Some(Req {
            arrived,
            state:
                ReqState::Serving {
                    start,
                    service,
                    fails,
                    ..
                },
            ..
        }) = self.requests.get(&id)
        else {
            return;
        };
        let result = if *fails {
            self.stats.failed += 1;
            Err(UpstreamError::Failed)
        } else {
            self.stats.succeeded += 1;
            Ok(Reply {
                queued: *start - *arrived,
                service: *service,
            })
        };
        self.busy -= 1;
        self.finish(id, result);
    }

    fn expire(&mut self, id: u64) {
        self.waiting -= 1;
        self.stats.queue_timeouts += 1;
        self.finish(id, Err(UpstreamError::QueueTimeout));
    }

    /// Starts queued requests, oldest first, while workers are free.
    fn dispatch(&mut self, t: Instant) {
        while self.has_free_worker() {
            let Some(id) = self.queue.pop_front() else {
                return;
            };
            let Some(req) = self.requests.get(&id) else {
                continue;
            };
            if !matches!(req.state, ReqState::Queued) {
                continue;
            }
            self.waiting -= 1;
            if req.gone && self.abandonment == Abandonment::WhenDequeued {
                self.requests.remove(&id);
                self.stats.abandoned += 1;
                continue;
            }
            self.start(id, t);
        }
    }

    /// Starts serving `id` at `t`: its service time and outcome are drawn now, from the
    /// phase in force.
    fn start(&mut self, id: u64, t: Instant) {
        let phase = &self.phases[self.current].1;
        let service = phase.latency.sample(&mut self.rng);
        let fails = self.rng.chance(phase.failure_rate);
        let finish = t + service;
        if let Some(req) = self.requests.get_mut(&id) {
            req.state = ReqState::Serving {
                start: t,
                finish,
                service,
                fails,
            };
            // A queued request's future learns its finish time now, so that it can set its
            // own timer for it (see `Status::Serving`).
            if let Some(waker) = req.waker.take() {
                self.wake.push(waker);
            }
            self.busy += 1;
            self.finishing.push(Reverse((finish, id)));
        }
    }

    /// Admits a request arriving `now`; returns its id.
    pub(super) fn admit(&mut self, now: Instant) -> u64 {
        self.advance(now);
        let id = self.next_id;
        self.next_id += 1;
        self.attempts.push(now);
        self.stats.attempts += 1;
        self.requests.insert(
            id,
            Req {
                arrived: now,
                state: ReqState::Queued,
                waker: None,
                gone: false,
            },
        );
        match self.phase().capacity {
            Capacity::Unlimited => self.start(id, now),
            Capacity::Limited { .. } if self.has_free_worker() && self.waiting == 0 => {
                self.start(id, now)
            }
            Capacity::Limited {
                queue,
                queue_timeout,
                ..
            } => {
                if self.waiting >= queue {
                    self.stats.rejected += 1;
                    self.finish(id, Err(UpstreamError::QueueFull));
                } else {
                    self.queue.push_back(id);
                    self.waiting += 1;
                    self.stats.max_queue = self.stats.max_queue.max(self.waiting as u64);
                    if let Some(limit) = queue_timeout {
                        self.deadlines.push(Reverse((now + limit, id)));
                    }
                }
            }
        }
        // A zero service time or queue timeout ends now.
        self.advance(now);
        id
    }

    /// The result of `id` if it is done (forgetting the request); else registers `waker`,
    /// to be woken when the request starts being served and when it is done, and says
    /// whether it is being served and until when.
    pub(super) fn poll(&mut self, id: u64, now: Instant, waker: &Waker) -> Status {
        self.advance(now);
        let Some(req) = self.requests.get_mut(&id) else {
            // Unreachable: a request is forgotten only once its future is done or dropped.
            return Status::Done(Err(UpstreamError::Failed));
        };
        let finish = match req.state {
            ReqState::Done(result) => {
                self.requests.remove(&id);
                return Status::Done(result);
            }
            ReqState::Serving { finish, .. } => Status::Serving(finish),
            ReqState::Queued => Status::Queued,
        };
        match &mut req.waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        finish
    }

    /// The client of `id` dropped its future at `now`: apply the abandonment policy.
    pub(super) fn abandon(&mut self, id: u64, now: Instant) {
        self.advance(now);
        let immediately = self.abandonment == Abandonment::Immediately;
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        req.waker = None;
        match req.state {
            ReqState::Done(_) => {
                self.requests.remove(&id);
            }
            ReqState::Queued if immediately => {
                self.requests.remove(&id);
                self.waiting -= 1;
                self.stats.abandoned += 1;
            }
            ReqState::Serving { .. } if immediately => {
                self.requests.remove(&id);
                self.busy -= 1;
                self.stats.abandoned += 1;
                self.dispatch(now);
                self.advance(now);
            }
            _ => req.gone = true,
        }
    }

    /// Requests queued or being served, those whose client left included.
    pub(super) fn in_system(&self) -> usize {
        self.waiting + self.busy
    }
}
