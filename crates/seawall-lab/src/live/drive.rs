//! The open-loop driver shared by the live run and its simulated twin: the same seeded
//! arrival times, each request in its own task under the client timeout, one record per
//! request. It reads only tokio's clock, so in paused time it drives the simulator and in
//! real time a real client.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_core::rng::Rng;
use tokio::time::Instant;

/// How a request ended, as the caller saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Succeeded,
    /// An error status, or an error (a refusal by a layer, a connection error).
    Failed,
    /// No answer within the client timeout.
    TimedOut,
}

/// One request: when it was sent and when it ended, from the start of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Record {
    /// When it was sent.
    pub sent: Duration,
    /// When it ended (answered, failed or timed out).
    pub done: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl Record {
    /// How long the caller waited.
    pub fn latency(&self) -> Duration {
        self.done.saturating_sub(self.sent)
    }
}

/// Times the upstream was reached or requests ended, shared between the tasks that push
/// them and the reader of a run in progress.
#[derive(Clone, Debug, Default)]
pub struct Log<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T: Clone> Log<T> {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            items: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Adds one entry.
    pub fn push(&self, item: T) {
        self.items
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(item);
    }

    /// A copy of every entry so far.
    pub fn snapshot(&self) -> Vec<T> {
        self.items
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Poisson arrival times at `rate` per second over `duration`, from `seed`: as from many
/// independent clients, and the same for every stack and for the simulated twin.
pub fn arrivals(rate: f64, duration: Duration, seed: u64) -> Vec<Duration> {
    let mut rng = Rng::from_seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let end = duration.as_secs_f64();
    let mut times = Vec::with_capacity((end * rate) as usize + 1);
    let mut t = 0.0;
    loop {
        t += rng.exponential() / rate;
        if t >= end {
            return times;
        }
        times.push(Duration::from_secs_f64(t));
    }
}

/// Sends one request at each of `arrivals` after `start` with `call`, which answers whether
/// it succeeded, under `timeout`; pushes one [`Record`] per request into `records` as each
/// ends, and returns when all have.
pub async fn drive<F, Fut>(
    arrivals: &[Duration],
    start: Instant,
    timeout: Duration,
    call: F,
    records: Log<Record>,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let mut tasks = Vec::with_capacity(arrivals.len());
    for &at in arrivals {
        tokio::time::sleep_until(start + at).await;
        let request = call();
        let records = records.clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let outcome = match tokio::time::timeout(timeout, request).await {
                Ok(true) => Outcome::Succeeded,
                Ok(false) => Outcome::Failed,
                Err(_) => Outcome::TimedOut,
            };
            records.push(Record {
                sent: sent.saturating_duration_since(start),
                done: Instant::now().saturating_duration_since(start),
                outcome,
            });
        }));
    }
    for task in tasks {
        // A request task ends by itself within the timeout; one that panicked has no record.
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn arrivals_are_poisson_at_the_rate_and_repeat() {
        let a = arrivals(200.0, Duration::from_secs(50), 7);
        // 10,000 expected, σ = 100.
        assert!((9_600..10_400).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.last().unwrap() < &Duration::from_secs(50));
        assert_eq!(a, arrivals(200.0, Duration::from_secs(50), 7));
        assert_ne!(a, arrivals(200.0, Duration::from_secs(50), 8));
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_is_recorded_by_how_it_ended() {
        let records = Log::new();
        let start = Instant::now();
        let times = [10, 20, 30].map(Duration::from_millis);
        let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
        drive(
            &times,
            start,
            Duration::from_millis(100),
            || {
                let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async move {
                    // The first answers in 5 ms, the second fails, the third hangs.
                    tokio::time::sleep(Duration::from_millis(if i == 2 { 500 } else { 5 })).await;
                    i == 0
                }
            },
            records.clone(),
        )
        .await;
        let mut got = records.snapshot();
        got.sort_by_key(|r| r.sent);
        let ms = Duration::from_millis;
        assert_eq!(
            got,
            [
                Record {
                    sent: ms(10),
                    done: ms(15),
                    outcome: Outcome::Succeeded
                },
                Record {
                    sent: ms(20),
                    done: ms(25),
                    outcome: Outcome::Failed
                },
                Record {
                    sent: ms(30),
                    done: ms(130),
                    outcome: Outcome::TimedOut
                },
            ]
        );
    }
}
