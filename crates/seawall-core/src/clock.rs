//! A coarse clock: one reading of tokio's clock per tick, shared by every caller.
//!
//! Reading [`tokio::time::Instant::now`] costs about 20 ns (a `clock_gettime` through the
//! vDSO, plus a thread-local lookup when tokio's `test-util` is on), which is most of what a
//! per-call counter such as the retry budget's deposit costs. A [`CoarseClock`] reads the
//! clock once per tick, in a task on the runtime, and hands out that reading with one atomic
//! load (about 1 ns).
//!
//! # What it gives up, exactly
//!
//! - A reading is never ahead of tokio's clock, and never further behind it than the tick
//!   plus the time the ticker task waits to be scheduled (on an idle runtime, microseconds;
//!   on a saturated one, as long as the runtime takes to poll it).
//! - Readings only move forward.
//! - In paused time the ticker runs when the runtime runs tasks: after
//!   `tokio::time::advance`, code that has not yielded still sees the old reading. Code
//!   whose tests step time by hand without yielding should read the exact clock.
//!
//! So a counter stamped with it counts each event at most one tick (plus scheduling delay)
//! *earlier* than it happened. For a window of counts that only ever *allows* something
//! (the retry budget's deposits), that errs on the strict side: an event stamped early
//! leaves the window early, and nothing stays in the window longer than it should. Use it
//! only where that direction of error is the safe one, and read the exact clock for the
//! decisions themselves.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::clock::CoarseClock;
//! use tokio::time::Instant;
//!
//! let clock = CoarseClock::start(Duration::from_millis(10)).unwrap();
//! tokio::time::sleep(Duration::from_millis(25)).await;
//! let lag = Instant::now() - clock.now();
//! assert!(lag <= Duration::from_millis(10), "{lag:?}");
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::ConfigError;

/// The shortest tick allowed: shorter ones would keep a core busy for nothing.
const MIN_TICK: Duration = Duration::from_micros(100);
/// The longest tick allowed.
const MAX_TICK: Duration = Duration::from_secs(1);

/// A clock read once per tick by a task on the tokio runtime; see the
/// [module docs](self) for how far behind it may be.
pub struct CoarseClock {
    origin: Instant,
    /// Nanoseconds from `origin` to the ticker's last reading.
    nanos: AtomicU64,
    tick: Duration,
}

impl CoarseClock {
    /// Starts a clock that reads tokio's clock every `tick`, in a task spawned on the
    /// current runtime. The task ends once the last `Arc` of the clock is dropped.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when `tick` is outside 100 µs..=1 s, or when called outside a
    /// tokio runtime.
    pub fn start(tick: Duration) -> Result<Arc<Self>, ConfigError> {
        if !(MIN_TICK..=MAX_TICK).contains(&tick) {
            return Err(ConfigError::new(format!(
                "coarse clock tick must be in 100µs..=1s, got {tick:?}"
            )));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new(
                "coarse clock: CoarseClock::start must be called inside a tokio runtime",
            )
        })?;
        let clock = Arc::new(Self {
            origin: Instant::now(),
            nanos: AtomicU64::new(0),
            tick,
        });
        let weak = Arc::downgrade(&clock);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(tick);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(clock) = weak.upgrade() else {
                    return;
                };
                clock.store(Instant::now());
            }
        });
        Ok(clock)
    }

    /// The ticker's last reading of tokio's clock: never ahead of it, behind by at most
    /// the tick plus the ticker's scheduling delay.
    pub fn now(&self) -> Instant {
        self.origin + Duration::from_nanos(self.nanos())
    }

    /// The instant the clock started at, from which [`RollingCounter`](crate::RollingCounter)s
    /// that count with [`add_coarse`](crate::RollingCounter::add_coarse) should start.
    #[inline]
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Nanoseconds from [`origin`](Self::origin) to the last reading.
    #[inline]
    pub(crate) fn nanos(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }

    /// How often the clock is read.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    fn store(&self, now: Instant) {
        let nanos = u64::try_from(now.saturating_duration_since(self.origin).as_nanos())
            .unwrap_or(u64::MAX);
        self.nanos.fetch_max(nanos, Ordering::AcqRel);
    }
}

impl fmt::Debug for CoarseClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoarseClock")
            .field("tick", &self.tick)
            .field(
                "behind",
                &self
                    .origin
                    .elapsed()
                    .saturating_sub(self.now() - self.origin),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_out_of_range_or_no_runtime_is_a_config_error() {
        for tick in [Duration::from_micros(99), Duration::from_millis(1001)] {
            let err = CoarseClock::start(tick).unwrap_err();
            assert!(err.to_string().contains("tick"), "{err}");
        }
        let err = CoarseClock::start(Duration::from_millis(10)).unwrap_err();
        assert!(err.to_string().contains("runtime"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn readings_trail_the_clock_by_at_most_a_tick_and_never_lead_it() {
        let tick = Duration::from_millis(10);
        let clock = CoarseClock::start(tick).unwrap();
        let origin = Instant::now();
        let mut last = clock.now();
        // Steps that do not divide the tick, so that readings fall between ticks.
        for step in [3, 7, 10, 1, 25, 4, 100, 9] {
            tokio::time::sleep(Duration::from_millis(step)).await;
            let now = Instant::now();
            let reading = clock.now();
            assert!(reading <= now, "ahead: {:?}", reading - origin);
            assert!(now - reading <= tick, "behind by {:?}", now - reading);
            assert!(reading >= last, "went back");
            last = reading;
        }
        assert!(last > origin, "the ticker never ran");
    }

    #[tokio::test(start_paused = true)]
    async fn the_ticker_ends_with_the_clock() {
        let clock = CoarseClock::start(Duration::from_millis(1)).unwrap();
        let weak = Arc::downgrade(&clock);
        drop(clock);
        tokio::time::sleep(Duration::from_millis(5)).await;
        // The ticker held only a weak reference between ticks and has returned.
        assert!(weak.upgrade().is_none());
        let metrics = tokio::runtime::Handle::current().metrics();
        assert_eq!(metrics.num_alive_tasks(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_counter_counts_at_the_clocks_reading_whatever_its_origin() {
        use crate::RollingCounter;
        let ms = Duration::from_millis;
        let clock = CoarseClock::start(ms(10)).unwrap();
        let origin = clock.origin();
        // Buckets of 5 ms, half a tick.
        let window = |at| RollingCounter::starting_at(at, ms(50), 10).unwrap();
        let (aligned, at_reading, exact) = (window(origin), window(origin), window(origin));
        tokio::time::sleep(ms(3)).await;
        let other = RollingCounter::new(ms(50), 10).unwrap();
        let other_at_reading = window(other.origin());
        // Adds at 3, 14, 39, 88 and 177 ms, between ticks: the readings are 0, 10, 30, 80
        // and 170 ms.
        for step in [0, 11, 25, 49, 89] {
            tokio::time::sleep(ms(step)).await;
            aligned.add_coarse(&clock, 1);
            other.add_coarse(&clock, 1);
            at_reading.add_at(clock.now(), 1);
            other_at_reading.add_at(clock.now(), 1);
            exact.add(1);
        }
        assert_eq!(clock.now(), origin + ms(170));
        for at in [0, 10, 30, 80, 99, 129, 130, 170, 219, 220] {
            let at = origin + ms(at);
            assert_eq!(aligned.sum_at(at), at_reading.sum_at(at), "{at:?}");
            assert_eq!(other.sum_at(at), other_at_reading.sum_at(at), "{at:?}");
        }
        // At 220 ms the window starts at 175 ms: the last add, made at 177 ms but stamped
        // at 170, has left it.
        assert_eq!(aligned.sum_at(origin + ms(220)), 0);
        assert_eq!(exact.sum_at(origin + ms(220)), 1);
    }
}
