use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::{ConfigError, Latency};

mod future;
mod model;
mod phase;

pub use future::UpstreamFuture;
pub use phase::{Capacity, Phase};

use model::Model;

/// What a server does with a request whose client has gone (timed out, was cancelled, or
/// lost a hedge race).
///
/// Abandoned work is what makes overload collapse or not: a server that serves every request
/// it queued, wanted or not, spends its capacity on answers nobody reads. Which policy fits
/// depends on the protocol: an HTTP/1.1 server rarely hears that a client left, an HTTP/2
/// server receives a stream reset, gRPC propagates cancellation. Every lab scenario names its
/// policy, in its description and its JSON (as `"never"`, `"when-dequeued"` or
/// `"immediately"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Abandonment {
    /// The server never learns the client left: the request keeps its queue slot and is
    /// served in full. The default, and the worst case.
    #[default]
    Never,
    /// The server checks that the request is still wanted before starting it, and skips it
    /// if not; a request already being served runs to the end.
    WhenDequeued,
    /// The server hears at once (an HTTP/2 reset, a gRPC cancellation): the request leaves
    /// the queue, or its worker stops and takes the next one.
    Immediately,
}

impl fmt::Display for Abandonment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Never => "never",
            Self::WhenDequeued => "when-dequeued",
            Self::Immediately => "immediately",
        })
    }
}

/// The shortest service time the simulator resolves well: tokio's paused timer fires on
/// whole milliseconds, so a service time is seen rounded up to the next millisecond tick,
/// and below this the rounding is more than a fifth of the value.
pub const RESOLUTION_FLOOR: Duration = Duration::from_millis(5);

/// The share of a distribution's draws that the millisecond clock cannot resolve: those under
/// [`RESOLUTION_FLOOR`], except whole-millisecond constants, which are exact.
pub fn unresolved_share(latency: &Latency) -> f64 {
    fn constant(d: Duration) -> f64 {
        let whole_ms = d.subsec_nanos() % 1_000_000 == 0;
        f64::from(u8::from(d < RESOLUTION_FLOOR && !whole_ms))
    }
    match latency {
        Latency::Constant(d) => constant(*d),
        Latency::Uniform { low, high } if low == high => constant(*low),
        Latency::LogNormal { median, sigma } if *sigma == 0.0 => constant(*median),
        Latency::Mixture(parts) => {
            let total: f64 = parts.iter().map(|(w, _)| w).sum();
            if total <= 0.0 {
                return 0.0;
            }
            parts
                .iter()
                .map(|(w, p)| w * unresolved_share(p))
                .sum::<f64>()
                / total
        }
        // Draws exactly at the floor are resolved well enough.
        continuous => continuous.cdf(RESOLUTION_FLOOR.saturating_sub(Duration::from_nanos(1))),
    }
}

/// Builds an [`Upstream`]: a first phase, then phases that start at given times.
#[derive(Clone, Debug)]
pub struct UpstreamBuilder {
    seed: u64,
    phases: Vec<(Duration, Phase)>,
    abandonment: Abandonment,
    refuse_unresolved: bool,
}

impl UpstreamBuilder {
    /// Seeds the upstream's random draws (latency and failures). The same seed and the same
    /// sequence of calls give the same results.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// What the server does with requests whose client has gone (default
    /// [`Abandonment::Never`]).
    pub fn abandonment(mut self, abandonment: Abandonment) -> Self {
        self.abandonment = abandonment;
        self
    }

    /// Refuses to build (instead of warning) when a phase's latency has more than 1% of its
    /// draws under [`RESOLUTION_FLOOR`] (see [`unresolved_share`]).
    pub fn refuse_unresolved(mut self, refuse: bool) -> Self {
        self.refuse_unresolved = refuse;
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
    /// A phase whose latency has more than 1% of its draws under [`RESOLUTION_FLOOR`] gets a
    /// warning ([`Upstream::warnings`], and a `WARN` event at the target `seawall::sim`), or
    /// is refused with [`refuse_unresolved`](Self::refuse_unresolved).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a phase has a bad value or the phases are out
    /// of order.
    pub fn build(self) -> Result<Upstream, ConfigError> {
        let mut warnings = Vec::new();
        for (i, (offset, phase)) in self.phases.iter().enumerate() {
            phase
                .validate()
                .map_err(|e| ConfigError::new(format!("phase {i} (at {offset:?}): {e}")))?;
            if i > 0 && *offset < self.phases[i - 1].0 {
                return Err(ConfigError::new(format!(
                    "phase {i} starts at {offset:?}, before the phase ahead of it"
                )));
            }
            let share = unresolved_share(&phase.latency);
            if share > 0.01 {
                let message = format!(
                    "phase {i} (at {offset:?}): latency: {:.1}% of service times are under \
                     {RESOLUTION_FLOOR:?}, which tokio's millisecond timer cannot resolve \
                     (each is seen rounded up to a whole millisecond)",
                    share * 100.0
                );
                if self.refuse_unresolved {
                    return Err(ConfigError::new(message));
                }
                tracing::warn!(target: "seawall::sim", "{message}");
                warnings.push(message);
            }
        }
        let origin = Instant::now();
        Ok(Upstream {
            shared: Arc::new(Shared {
                origin,
                abandonment: self.abandonment,
                warnings,
                model: Mutex::new(Model::new(self.seed, self.phases, origin, self.abandonment)),
            }),
        })
    }
}

/// What an upstream counted. Outcomes count when the work completes, so a reading during a
/// run leaves out work still in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpstreamStats {
    /// Every call that reached the upstream (was polled), hedge losers and calls whose
    /// client later left included.
    pub attempts: u64,
    /// Calls served successfully.
    pub succeeded: u64,
    /// Calls served with a failure.
    pub failed: u64,
    /// Calls refused at once because the queue was full.
    pub rejected: u64,
    /// Calls that gave up waiting in the queue.
    pub queue_timeouts: u64,
    /// Calls dropped by the server because their client had gone (see [`Abandonment`]).
    pub abandoned: u64,
    /// The longest the queue got.
    pub max_queue: u64,
}

/// A simulated upstream service, driven by tokio's clock.
///
/// It accepts any request type. With [`Capacity::Limited`] it is a FIFO queue in front of
/// `c` workers: a request reaches it when its future is first polled, waits in the queue
/// until a worker is free, and is then served for a time drawn, at that moment, from the
/// phase then in force. Offered load above capacity shows up as growing latency, then as
/// queue-full rejections or queue timeouts, exactly as a real overloaded server's would. A
/// scripted change of capacity takes effect on the queue at once: new workers start on the
/// oldest waiting requests; removed workers finish what they hold and take no more. What
/// happens to a request whose client has gone is the [`Abandonment`] policy.
///
/// Events are computed at exact (nanosecond) times; tokio's timer wakes the waiting futures
/// on the first millisecond tick at or after, so a client sees a service time rounded up to
/// the next millisecond (see [`RESOLUTION_FLOOR`] and `docs/lab.md`).
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
    abandonment: Abandonment,
    warnings: Vec<String>,
    model: Mutex<Model>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Model> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters to a simulation, so a poisoned lock is used as it is.
        self.model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the model, makes sure a driver will wake the futures at the next event,
    /// and wakes the futures `f` finished once the lock is released.
    fn with_model<T>(self: &Arc<Self>, f: impl FnOnce(&mut Model) -> T) -> T {
        let (out, wake) = {
            let mut model = self.lock();
            let out = f(&mut model);
            if let Some(next) = model.next_event() {
                if !model.driver.running {
                    model.driver.generation += 1;
                    model.driver.running = future::spawn_driver(self, model.driver.generation);
                } else if model.driver.at.is_some_and(|at| next < at) {
                    if let Some(waker) = model.driver.waker.take() {
                        model.driver.at = None;
                        model.wake.push(waker);
                    }
                }
            }
            (out, std::mem::take(&mut model.wake))
        };
        wake.into_iter().for_each(std::task::Waker::wake);
        out
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
    /// Starts building an upstream: healthy, 10 ms, unlimited capacity, seed 0, abandoned
    /// requests served in full ([`Abandonment::Never`]).
    pub fn builder() -> UpstreamBuilder {
        UpstreamBuilder {
            seed: 0,
            phases: vec![(Duration::ZERO, Phase::default())],
            abandonment: Abandonment::Never,
            refuse_unresolved: false,
        }
    }

    /// When the upstream's clock started (phase offsets count from here).
    pub fn origin(&self) -> Instant {
        self.shared.origin
    }

    /// What the server does with requests whose client has gone.
    pub fn abandonment(&self) -> Abandonment {
        self.shared.abandonment
    }

    /// Warnings raised when the upstream was built (latencies the clock cannot resolve).
    pub fn warnings(&self) -> &[String] {
        &self.shared.warnings
    }

    /// What the upstream has counted up to now.
    pub fn stats(&self) -> UpstreamStats {
        let now = Instant::now();
        self.shared.with_model(|m| {
            m.advance(now);
            m.stats
        })
    }

    /// When each call reached the upstream, in order.
    pub fn attempt_times(&self) -> Vec<Instant> {
        self.shared.lock().attempts.clone()
    }

    /// Requests accepted and not yet finished (queued or being served), those whose client
    /// has gone included.
    pub fn in_system(&self) -> usize {
        let now = Instant::now();
        self.shared.with_model(|m| {
            m.advance(now);
            m.in_system()
        })
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("abandonment", &self.shared.abandonment)
            .field("stats", &self.shared.lock().stats)
            .finish_non_exhaustive()
    }
}

impl<R> tower::Service<R> for Upstream {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = UpstreamFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    /// Returns a future that admits the request when first polled.
    fn call(&mut self, _request: R) -> Self::Future {
        UpstreamFuture::new(self.shared.clone())
    }
}
