//! Feeds a limit one aggregated sample per window, as Netflix's `WindowedLimit`.

use std::time::Duration;

use tokio::time::Instant;

use super::{Limit, Sample};

/// The aggregation itself: the mean latency of a window, the most requests in flight, and a
/// drop if any request dropped. Used by [`Windowed`] and by the shedding layer for a limit
/// whose [`Limit::sample_window`] is not zero.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    length: Duration,
    next_update: Option<Instant>,
    sum: Duration,
    count: u32,
    /// Samples added, those under 100 µs included.
    seen: u32,
    max_in_flight: usize,
    dropped: bool,
}

/// A window that closed: its aggregate, if it held enough samples, and how many samples
/// were added to it in all.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Closed {
    pub(crate) aggregate: Option<Sample>,
    pub(crate) seen: u32,
}

/// A window is handed on only if it holds at least this many samples (Netflix's default).
const MIN_SAMPLES: u32 = 10;
/// Samples faster than this are left out of the mean (Netflix's default): they say nothing
/// of a queue.
const MIN_RTT: Duration = Duration::from_micros(100);

impl Window {
    /// Windows of `length` (at least 1 ms).
    pub(crate) fn new(length: Duration) -> Self {
        Self {
            length: length.max(Duration::from_millis(1)),
            next_update: None,
            sum: Duration::ZERO,
            count: 0,
            seen: 0,
            max_in_flight: 0,
            dropped: false,
        }
    }

    /// Counts a drop whose latency was not measured.
    pub(crate) fn mark_dropped(&mut self) {
        self.dropped = true;
    }

    /// Adds one request's sample; returns the window it closes, if it closes one.
    pub(crate) fn add(&mut self, sample: Sample) -> Option<Closed> {
        self.seen += 1;
        if sample.rtt >= MIN_RTT {
            self.sum += sample.rtt;
            self.count += 1;
            self.dropped |= sample.dropped;
            self.max_in_flight = self.max_in_flight.max(sample.in_flight);
        }
        if self.next_update.is_some_and(|at| sample.now <= at) {
            return None;
        }
        self.next_update = Some(sample.now + self.length);
        let closed = Closed {
            aggregate: (self.count >= MIN_SAMPLES).then(|| Sample {
                now: sample.now,
                rtt: self.sum / self.count,
                in_flight: self.max_in_flight,
                dropped: self.dropped,
            }),
            seen: self.seen,
        };
        self.sum = Duration::ZERO;
        self.count = 0;
        self.seen = 0;
        self.max_in_flight = 0;
        self.dropped = false;
        Some(closed)
    }
}

/// Wraps a limit so it sees one sample per window instead of one per request: the mean
/// latency of the window, the most requests in flight, and a drop if any request dropped.
///
/// [`Aimd`](super::Aimd), [`Vegas`](super::Vegas) and [`Gradient2`](super::Gradient2) need
/// no wrapper: the shedding layer already feeds them windows of their own
/// [`sample_window`](Limit::sample_window). `Windowed` is for a limit of your own (or for calling
/// [`Limit::update`] by hand); wrapped, a limit is fed by `Windowed` alone, never twice.
///
/// As Netflix's `WindowedLimit`, with its defaults: a window closes on the first sample
/// after its end, and is passed on only if it holds at least 10 samples (otherwise it is
/// dropped); samples under 100 µs are left out of it. The very first sample closes an empty first
/// window, as in Netflix (whose first update time is 0).
///
/// Differences from Netflix: a window lasts a fixed time (default 1 s; Netflix's lasts twice
/// the lowest latency seen in the last one, clamped to a minimum and a maximum that are both
/// 1 s by default, so the same by default); the mean is taken here rather than through a
/// pluggable sample window.
#[derive(Clone, Debug)]
pub struct Windowed<L> {
    inner: L,
    window: Window,
}

impl<L: Limit> Windowed<L> {
    /// Wraps `inner` with the defaults (1 s windows of at least 10 samples).
    pub fn new(inner: L) -> Self {
        Self {
            inner,
            window: Window::new(Duration::from_secs(1)),
        }
    }

    /// Sets the window's length (default 1 s, at least 1 ms).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = Window::new(window);
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

    /// Zero: `Windowed` aggregates the samples itself.
    fn sample_window(&self) -> Duration {
        Duration::ZERO
    }

    fn update(&mut self, sample: Sample) {
        if let Some(aggregate) = self.window.add(sample).and_then(|c| c.aggregate) {
            self.inner.update(aggregate);
        }
    }
}
