//! Feeds a limit one aggregated sample per window, as Netflix's `WindowedLimit`.

use std::time::Duration;

use tokio::time::Instant;

use super::{Limit, Sample};

/// Wraps a limit so it sees one sample per window instead of one per request: the mean
/// latency of the window, the most requests in flight, and a drop if any request dropped.
///
/// Per-request latencies are noisy, and a delay-based limit that compares single samples
/// with the lowest one ever seen ([`Vegas`](super::Vegas)) mistakes that noise for a queue.
/// Averaging over a window removes most of it.
///
/// Defaults, as Netflix's `WindowedLimit`: a window closes once it is at least 1 s old
/// and has at least 10 samples, or is 1 s old with any samples; samples under 100 µs are
/// left out of the mean.
///
/// Differences from Netflix: a window's time is read from the samples' clock (tokio's), and
/// the window closes on the first sample at or after its end rather than on a timer.
#[derive(Clone, Debug)]
pub struct Windowed<L> {
    inner: L,
    min_window: Duration,
    max_window: Duration,
    window_size: u32,
    min_rtt: Duration,
    start: Option<Instant>,
    sum: Duration,
    count: u32,
    max_in_flight: usize,
    dropped: bool,
}

impl<L: Limit> Windowed<L> {
    /// Wraps `inner` with the defaults (1 s windows of at least 10 samples).
    pub fn new(inner: L) -> Self {
        Self {
            inner,
            min_window: Duration::from_secs(1),
            max_window: Duration::from_secs(1),
            window_size: 10,
            min_rtt: Duration::from_micros(100),
            start: None,
            sum: Duration::ZERO,
            count: 0,
            max_in_flight: 0,
            dropped: false,
        }
    }

    /// Sets the window's length (min and max both; default 1 s, at least 1 ms).
    pub fn window(mut self, window: Duration) -> Self {
        let window = window.max(Duration::from_millis(1));
        self.min_window = window;
        self.max_window = window;
        self
    }

    /// The wrapped limit.
    pub fn get_ref(&self) -> &L {
        &self.inner
    }
}

impl<L: Limit> Limit for Windowed<L> {
    fn limit(&self) -> usize {
        self.inner.limit()
    }

    fn update(&mut self, sample: Sample) {
        let start = *self.start.get_or_insert(sample.now);
        if sample.dropped {
            self.dropped = true;
        } else if sample.rtt >= self.min_rtt {
            self.sum += sample.rtt;
            self.count += 1;
        }
        self.max_in_flight = self.max_in_flight.max(sample.in_flight);
        let age = sample.now.saturating_duration_since(start);
        let full = age >= self.min_window && self.count >= self.window_size;
        if !(full || (age >= self.max_window && (self.count > 0 || self.dropped))) {
            return;
        }
        let rtt = if self.count > 0 {
            self.sum / self.count
        } else {
            sample.rtt
        };
        self.inner.update(Sample {
            now: sample.now,
            rtt,
            in_flight: self.max_in_flight,
            dropped: self.dropped,
        });
        self.start = Some(sample.now);
        self.sum = Duration::ZERO;
        self.count = 0;
        self.max_in_flight = 0;
        self.dropped = false;
    }
}
