use std::time::Duration;

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
}

/// How an upstream behaves for a stretch of time: its latency, how often it fails, and its
/// capacity.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub(super) latency: Latency,
    pub(super) failure_rate: f64,
    pub(super) capacity: Capacity,
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

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
