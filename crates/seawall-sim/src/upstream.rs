use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::{ConfigError, Latency};

/// How much work an upstream can do at once.
#[derive(Clone, Debug, PartialEq)]
pub enum Capacity {
    /// Every request is served at once, however many there are.
    Unlimited,
    /// `workers` requests are served at a time; the rest wait in a FIFO queue of at most
    /// `queue` requests, and a request that finds the queue full fails at once. With a
    /// `queue_timeout`, a request that would wait longer fails after waiting that long,
    /// without ever reaching a worker.
    Limited {
        /// Requests served at the same time.
        workers: usize,
        /// Requests that may wait for a worker.
        queue: usize,
        /// The longest a request waits for a worker before it fails.
        queue_timeout: Option<Duration>,
    },
}

impl Capacity {
    /// `workers` workers and an unbounded queue (add a bound with [`queue`](Self::queue)).
    pub fn workers(workers: usize) -> Self {
        Self::Limited {
            workers,
            queue: usize::MAX,
            queue_timeout: None,
        }
    }

    /// Bounds the queue. No effect on [`Capacity::Unlimited`].
    pub fn queue(self, queue: usize) -> Self {
        match self {
            Self::Limited {
                workers,
                queue_timeout,
                ..
            } => Self::Limited {
                workers,
                queue,
                queue_timeout,
            },
            unlimited => unlimited,
        }
    }

    /// Fails requests that wait longer than `timeout` for a worker. No effect on
    /// [`Capacity::Unlimited`].
    pub fn queue_timeout(self, timeout: Duration) -> Self {
        match self {
            Self::Limited { workers, queue, .. } => Self::Limited {
                workers,
                queue,
                queue_timeout: Some(timeout),
            },
            unlimited => unlimited,
        }
    }

    fn workers_count(&self) -> Option<usize> {
        match self {
            Self::Unlimited => None,
            Self::Limited { workers, .. } => Some(*workers),
        }
    }
}

/// How an upstream behaves for a stretch of time: its latency, how often it fails, and its
/// capacity.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    latency: Latency,
    failure_rate: f64,
    capacity: Capacity,
}

impl Default for Phase {
    /// A healthy upstream: 10 ms, no failures, unlimited capacity.
    fn default() -> Self {
        Self {
            latency: Latency::constant(Duration::from_millis(10)),
            failure_rate: 0.0,
            capacity: Capacity::Unlimited,
        }
    }
}

impl Phase {
    /// Sets the service-time distribution (for failures too: a failure takes as long as a
    /// success would have).
    pub fn latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the probability (0..=1) that a served request fails.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// Sets the capacity.
    pub fn capacity(mut self, capacity: Capacity) -> Self {
        self.capacity = capacity;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.latency.validate()?;
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(ConfigError::new(format!(
                "failure_rate must be in 0..=1, got {}",
                self.failure_rate
            )));
        }
        if let Capacity::Limited { workers: 0, .. } = self.capacity {
            return Err(ConfigError::new("capacity: workers must be at least 1"));
        }
        Ok(())
    }
}

/// Builds an [`Upstream`]: a first phase, then phases that start at given times.
#[derive(Clone, Debug)]
pub struct UpstreamBuilder {
    seed: u64,
    phases: Vec<(Duration, Phase)>,
}

impl UpstreamBuilder {
    /// Seeds the upstream's random draws (latency and failures). The same seed and the same
    /// sequence of calls give the same results.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Changes the phase in force at the start (and until the first [`at`](Self::at)).
    pub fn initially(mut self, change: impl FnOnce(Phase) -> Phase) -> Self {
        let first = std::mem::take(&mut self.phases[0].1);
        self.phases[0].1 = change(first);
        self
    }

    /// Sets the starting latency distribution.
    pub fn latency(self, latency: Latency) -> Self {
        self.initially(|p| p.latency(latency))
    }

    /// Sets the starting failure probability.
    pub fn failure_rate(self, rate: f64) -> Self {
        self.initially(|p| p.failure_rate(rate))
    }

    /// Sets the starting capacity.
    pub fn capacity(self, capacity: Capacity) -> Self {
        self.initially(|p| p.capacity(capacity))
    }

    /// From `offset` after the upstream is built, behaves as the phase before, changed by
    /// `change`. Phases must be given in order of time.
    pub fn at(mut self, offset: Duration, change: impl FnOnce(Phase) -> Phase) -> Self {
        let previous = self.phases[self.phases.len() - 1].1.clone();
        self.phases.push((offset, change(previous)));
        self
    }

    /// Builds the upstream; its clock starts now.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a phase has a bad value or the phases are out
    /// of order.
    pub fn build(self) -> Result<Upstream, ConfigError> {
        for (i, (offset, phase)) in self.phases.iter().enumerate() {
            phase
                .validate()
                .map_err(|e| ConfigError::new(format!("phase {i} (at {offset:?}): {e}")))?;
            if i > 0 && *offset < self.phases[i - 1].0 {
                return Err(ConfigError::new(format!(
                    "phase {i} starts at {offset:?}, before the phase ahead of it"
                )));
            }
        }
        let origin = Instant::now();
        let mut state = State {
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            phases: self.phases,
            current: 0,
            workers: BinaryHeap::new(),
            waiting: BinaryHeap::new(),
            in_system: BinaryHeap::new(),
            attempts: Vec::new(),
            stats: UpstreamStats::default(),
        };
        state.set_workers(origin, state.phases[0].1.capacity.workers_count());
        Ok(Upstream {
            shared: Arc::new(Shared {
                origin,
                state: Mutex::new(state),
            }),
        })
    }
}

/// What an upstream counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamStats {
    /// Every call that reached the upstream.
    pub attempts: u64,
    /// Calls served successfully.
    pub succeeded: u64,
    /// Calls served with a failure.
    pub failed: u64,
    /// Calls refused at once because the queue was full.
    pub rejected: u64,
    /// Calls that gave up waiting in the queue.
    pub queue_timeouts: u64,
    /// The longest the queue got.
    pub max_queue: u64,
}

/// A simulated upstream service, driven by tokio's clock.
///
/// It accepts any request type, and answers after a service time drawn from the phase in
/// force when the request arrives, plus any wait for a free worker: with
/// [`Capacity::Limited`] it is a FIFO queue in front of `c` workers, so offered load above
/// capacity shows up as growing latency, then as queue-full rejections or queue timeouts,
/// exactly as a real overloaded server's would. A request whose caller gives up still
/// occupies its worker, like a real server that never learns the client left.
///
/// Clones share one upstream. Every call is counted; [`stats`](Self::stats) and
/// [`attempt_times`](Self::attempt_times) tell what reached it.
///
/// Because it serves any request type, name the type when you put a `ServiceExt`
/// combinator directly on it: `ServiceExt::<Request>::map_err(upstream, ...)`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use seawall_sim::{Capacity, Latency, Upstream};
/// use tower::ServiceExt;
///
/// let upstream = Upstream::builder()
///     .latency(Latency::constant(Duration::from_millis(20)))
///     .capacity(Capacity::workers(4).queue(100))
///     // Ten seconds in, it fails every request in 1 ms: an outage.
///     .at(Duration::from_secs(10), |p| {
///         p.failure_rate(1.0).latency(Latency::constant(Duration::from_millis(1)))
///     })
///     .build()
///     .unwrap();
///
/// let started = tokio::time::Instant::now();
/// let reply = upstream.clone().oneshot(()).await.unwrap();
/// assert_eq!(started.elapsed(), Duration::from_millis(20));
/// assert_eq!(reply.service, Duration::from_millis(20));
/// assert_eq!(upstream.stats().attempts, 1);
/// # }
/// ```
#[derive(Clone)]
pub struct Upstream {
    shared: Arc<Shared>,
}

struct Shared {
    origin: Instant,
    state: Mutex<State>,
}

struct State {
    rng: ChaCha8Rng,
    phases: Vec<(Duration, Phase)>,
    current: usize,
    /// When each worker is next free (empty when capacity is unlimited).
    workers: BinaryHeap<Reverse<Instant>>,
    /// When each queued request will start (or give up).
    waiting: BinaryHeap<Reverse<Instant>>,
    /// When each accepted request will finish.
    in_system: BinaryHeap<Reverse<Instant>>,
    attempts: Vec<Instant>,
    stats: UpstreamStats,
}

impl State {
    fn set_workers(&mut self, from: Instant, count: Option<usize>) {
        let Some(count) = count else {
            self.workers.clear();
            return;
        };
        let mut free: Vec<Instant> = self.workers.drain().map(|Reverse(t)| t).collect();
        free.sort();
        // New workers are free from the phase's start; removed workers are the busiest ones,
        // which finish what they hold (already accounted for in `in_system`).
        free.resize(count, from);
        self.workers = free.into_iter().map(Reverse).collect();
    }

    fn enter_phase(&mut self, now: Instant, origin: Instant) {
        while self.current + 1 < self.phases.len()
            && origin + self.phases[self.current + 1].0 <= now
        {
            self.current += 1;
            let start = origin + self.phases[self.current].0;
            let workers = self.phases[self.current].1.capacity.workers_count();
            self.set_workers(start, workers);
        }
    }
}

/// A reply from the simulated upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// How long the request waited for a worker.
    pub queued: Duration,
    /// How long the worker took.
    pub service: Duration,
}

/// Why the simulated upstream failed a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// The request was served and failed (the phase's failure rate).
    Failed,
    /// The queue was full; the request was refused at once.
    QueueFull,
    /// The request waited its queue timeout without reaching a worker.
    QueueTimeout,
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Failed => "upstream failed the request",
            Self::QueueFull => "upstream queue full",
            Self::QueueTimeout => "upstream queue timeout",
        })
    }
}

impl std::error::Error for UpstreamError {}

impl Upstream {
    /// Starts building an upstream: healthy, 10 ms, unlimited capacity, seed 0.
    pub fn builder() -> UpstreamBuilder {
        UpstreamBuilder {
            seed: 0,
            phases: vec![(Duration::ZERO, Phase::default())],
        }
    }

    /// When the upstream's clock started (phase offsets count from here).
    pub fn origin(&self) -> Instant {
        self.shared.origin
    }

    /// What the upstream has counted so far.
    pub fn stats(&self) -> UpstreamStats {
        self.lock().stats
    }

    /// When each call reached the upstream, in order.
    pub fn attempt_times(&self) -> Vec<Instant> {
        self.lock().attempts.clone()
    }

    /// Requests accepted and not yet finished, queued ones included.
    pub fn in_system(&self) -> usize {
        let now = Instant::now();
        let mut state = self.lock();
        while matches!(state.in_system.peek(), Some(Reverse(t)) if *t <= now) {
            state.in_system.pop();
        }
        state.in_system.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters to a simulation, so a poisoned lock is used as it is.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Admits one request now: returns when it completes and how.
    fn admit(&self) -> (Instant, Result<Reply, UpstreamError>) {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        state.enter_phase(now, self.shared.origin);
        state.attempts.push(now);
        state.stats.attempts += 1;

        let phase = &state.phases[state.current].1;
        let service = phase.latency.sample(&mut state.rng);
        let fails = phase.failure_rate > 0.0 && state.rng.random::<f64>() < phase.failure_rate;

        let (start, result) = match phase.capacity {
            Capacity::Unlimited => (now, Ok(())),
            Capacity::Limited {
                queue,
                queue_timeout,
                ..
            } => {
                while matches!(state.waiting.peek(), Some(Reverse(t)) if *t <= now) {
                    state.waiting.pop();
                }
                let free_at = state.workers.peek().map_or(now, |Reverse(t)| *t);
                let start = free_at.max(now);
                if start > now && state.waiting.len() >= queue {
                    state.stats.rejected += 1;
                    return (now, Err(UpstreamError::QueueFull));
                }
                match queue_timeout {
                    Some(limit) if start - now > limit => {
                        let gives_up = now + limit;
                        state.waiting.push(Reverse(gives_up));
                        state.stats.max_queue =
                            state.stats.max_queue.max(state.waiting.len() as u64);
                        state.in_system.push(Reverse(gives_up));
                        state.stats.queue_timeouts += 1;
                        return (gives_up, Err(UpstreamError::QueueTimeout));
                    }
                    _ => {}
                }
                if start > now {
                    state.waiting.push(Reverse(start));
                    state.stats.max_queue = state.stats.max_queue.max(state.waiting.len() as u64);
                }
                state.workers.pop();
                state.workers.push(Reverse(start + service));
                (start, Ok(()))
            }
        };
        let done = start + service;
        state.in_system.push(Reverse(done));
        let result = result.and_then(|()| {
            if fails {
                state.stats.failed += 1;
                Err(UpstreamError::Failed)
            } else {
                state.stats.succeeded += 1;
                Ok(Reply {
                    queued: start - now,
                    service,
                })
            }
        });
        (done, result)
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<R> tower::Service<R> for Upstream {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, UpstreamError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: R) -> Self::Future {
        let (done, result) = self.admit();
        Box::pin(async move {
            tokio::time::sleep_until(done).await;
            result
        })
    }
}
