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
/// As Netflix's `WindowedLimit`, with its defaults: a window closes on the first sample
/// after its end, and is passed on only if it holds at least 10 samples (otherwise it is
/// dropped); the next window lasts twice the closed window's lowest latency, clamped to
/// 1 s..=1 s; samples under 100 µs are left out. The very first sample closes an empty first
/// window, as in Netflix (whose first update time is 0).
///
/// Differences from Netflix: the mean is taken here rather than through a pluggable sample
/// window.
#[derive(Clone, Debug)]
pub struct Windowed<L> {
    inner: L,
    min_window: Duration,
    max_window: Duration,
    window_size: u32,
    min_rtt: Duration,
    next_update: Option<Instant>,
    sum: Duration,
    min: Duration,
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
            next_update: None,
            sum: Duration::ZERO,
            min: Duration::MAX,
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

    fn learns(&self) -> bool {
        self.inner.learns()
    }

    fn update(&mut self, sample: Sample) {
        if sample.rtt < self.min_rtt {
            return;
        }
        self.sum += sample.rtt;
        self.min = self.min.min(sample.rtt);
        self.count += 1;
        self.dropped |= sample.dropped;
        self.max_in_flight = self.max_in_flight.max(sample.in_flight);
        if self.next_update.is_some_and(|at| sample.now <= at) {
            return;
        }
        // The window closes: it is handed on only if it holds enough samples.
        let mean = self.sum / self.count;
        let length = (self.min * 2).clamp(self.min_window, self.max_window);
        self.next_update = Some(sample.now + length);
        if self.count >= self.window_size {
            self.inner.update(Sample {
                now: sample.now,
                rtt: mean,
                in_flight: self.max_in_flight,
                dropped: self.dropped,
            });
        }
        self.sum = Duration::ZERO;
        self.min = Duration::MAX;
        self.count = 0;
        self.max_in_flight = 0;
        self.dropped = false;
    }
}
