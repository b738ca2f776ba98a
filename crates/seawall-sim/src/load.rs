use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_core::rng::Rng;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use crate::summary::{Record, RequestOutcome, Summary};
use crate::{ConfigError, Upstream};

/// How requests arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    /// Evenly spaced: one every `1 / rate` seconds.
    Constant,
    /// A Poisson process: exponentially distributed gaps with mean `1 / rate`, as from many
    /// independent clients.
    Poisson,
}

/// One request sent by the [`Load`] driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The request's number, from 0 in order of sending.
    pub id: u64,
}

/// An open-loop load: requests arrive on schedule whether or not earlier ones have finished,
/// as they do from real clients (a closed loop that waits for each reply hides overload by
/// slowing down with the server).
///
/// Build one with [`Load::builder`], then [`run`](Self::run) it against a service stacked on
/// an [`Upstream`]. Run it in paused time (see [`crate::run_paused`]) and a minute of load
/// takes a fraction of a second.
///
/// ```
/// use std::time::Duration;
/// use seawall_sim::{run_paused, Latency, Load, Upstream};
///
/// let summary = run_paused(async {
///     let upstream = Upstream::builder()
///         .latency(Latency::constant(Duration::from_millis(5)))
///         .build()
///         .unwrap();
///     let load = Load::builder()
///         .rate(200.0)
///         .duration(Duration::from_secs(5))
///         .build()
///         .unwrap();
///     load.run(&upstream, upstream.clone()).await
/// });
/// assert_eq!(summary.requests, 1000);
/// assert_eq!(summary.success_rate, 1.0);
/// assert_eq!(summary.amplification, 1.0);
/// ```
#[derive(Clone, Debug)]
pub struct Load {
    rate: f64,
    duration: Duration,
    arrivals: Arrivals,
    timeout: Option<Duration>,
    seed: u64,
}

/// Builds a [`Load`].
#[derive(Clone, Debug)]
pub struct LoadBuilder {
    load: Load,
}

impl LoadBuilder {
    /// Requests per second (default 100).
    pub fn rate(mut self, per_second: f64) -> Self {
        self.load.rate = per_second;
        self
    }

    /// How long requests keep arriving (default 10 s). The run lasts until the last one ends.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.load.duration = duration;
        self
    }

    /// How requests arrive (default [`Arrivals::Constant`]).
    pub fn arrivals(mut self, arrivals: Arrivals) -> Self {
        self.load.arrivals = arrivals;
        self
    }

    /// The client gives up on a request after `timeout` (default: never).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.load.timeout = Some(timeout);
        self
    }

    /// Seeds the arrival times (only Poisson arrivals are random).
    pub fn seed(mut self, seed: u64) -> Self {
        self.load.seed = seed;
        self
    }

    /// Checks the load and builds it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: the rate must be finite and in (0, 1,000,000],
    /// the duration at most a day, a timeout more than zero.
    pub fn build(self) -> Result<Load, ConfigError> {
        let l = &self.load;
        if !(l.rate.is_finite() && l.rate > 0.0 && l.rate <= 1e6) {
            return Err(ConfigError::new(format!(
                "rate must be in (0, 1000000] requests per second, got {}",
                l.rate
            )));
        }
        if l.duration > Duration::from_secs(86_400) {
            return Err(ConfigError::new(format!(
                "duration must be at most a day, got {:?}",
                l.duration
            )));
        }
        if l.timeout == Some(Duration::ZERO) {
            return Err(ConfigError::new("timeout must be more than zero"));
        }
        Ok(self.load)
    }
}

impl Load {
    /// Starts building a load: 100 requests/s for 10 s, evenly spaced, no client timeout.
    pub fn builder() -> LoadBuilder {
        LoadBuilder {
            load: Load {
                rate: 100.0,
                duration: Duration::from_secs(10),
                arrivals: Arrivals::Constant,
                timeout: None,
                seed: 0,
            },
        }
    }

    /// The arrival times, as offsets from the start.
    fn schedule(&self) -> Vec<Duration> {
        let end = self.duration.as_secs_f64();
        let mut times = Vec::with_capacity((end * self.rate) as usize + 1);
        match self.arrivals {
            Arrivals::Constant => {
                let n = (end * self.rate).round() as u64;
                times.extend((0..n).map(|i| Duration::from_secs_f64(i as f64 / self.rate)));
            }
            Arrivals::Poisson => {
                let mut rng = Rng::from_seed(self.seed);
                let mut t = 0.0;
                loop {
                    let gap = rng.exponential();
                    t += gap / self.rate;
                    if t >= end {
                        break;
                    }
                    times.push(Duration::from_secs_f64(t));
                }
            }
        }
        times
    }

    /// Sends the load through `service`, which must end in `upstream`, and summarises what
    /// the client saw and what reached the upstream.
    ///
    /// Every request runs in its own task, as it would in a server: `service` is cloned for
    /// each, driven to readiness, and called, all under the client timeout if there is one.
    /// The run returns when every request has finished.
    pub async fn run<S>(&self, upstream: &Upstream, service: S) -> Summary
    where
        S: Service<Request> + Clone + Send + 'static,
        S::Future: Send,
        S::Response: Send,
        S::Error: Send,
    {
        self.run_with(upstream, service, |id| Request { id }).await
    }

    /// Like [`run`](Self::run), with requests of any type made by `make` from the request
    /// number.
    pub async fn run_with<S, R, M>(&self, upstream: &Upstream, service: S, mut make: M) -> Summary
    where
        S: Service<R> + Clone + Send + 'static,
        S::Future: Send,
        S::Response: Send,
        S::Error: Send,
        R: Send + 'static,
        M: FnMut(u64) -> R,
    {
        let schedule = self.schedule();
        let records = Arc::new(Mutex::new(Vec::with_capacity(schedule.len())));
        let attempts_before = upstream.attempt_times().len();
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(schedule.len());
        for (id, at) in schedule.into_iter().enumerate() {
            tokio::time::sleep_until(start + at).await;
            let svc = service.clone();
            let request = make(id as u64);
            let records = records.clone();
            let timeout = self.timeout;
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let call = svc.oneshot(request);
                let outcome = match timeout {
                    Some(limit) => match tokio::time::timeout(limit, call).await {
                        Ok(Ok(_)) => RequestOutcome::Succeeded,
                        Ok(Err(_)) => RequestOutcome::Failed,
                        Err(_) => RequestOutcome::TimedOut,
                    },
                    None => match call.await {
                        Ok(_) => RequestOutcome::Succeeded,
                        Err(_) => RequestOutcome::Failed,
                    },
                };
                let record = Record {
                    id: id as u64,
                    sent: sent - start,
                    latency: sent.elapsed(),
                    outcome,
                };
                records
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(record);
            }));
        }
        for task in tasks {
            // A panic in the service under test is a bug in it: let it surface.
            if let Err(e) = task.await {
                if e.is_panic() {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
        let mut records = std::mem::take(
            &mut *records
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        records.sort_by_key(|r| r.id);
        let attempts: Vec<Duration> = upstream.attempt_times()[attempts_before..]
            .iter()
            .map(|t| t.saturating_duration_since(start))
            .collect();
        Summary::new(self.duration, &records, &attempts, self.rate)
    }
}
