//! governor's clock over tokio's, so that paused time controls every rate limit.

use std::time::Duration;

use governor::clock::Clock;
use governor::nanos::Nanos;
use tokio::time::Instant;

/// A [`governor::clock::Clock`] that reads [`tokio::time::Instant`].
///
/// governor reads its own clock (quanta's or std's by default), which `tokio::time::pause`
/// does not stop: a rate limit on it cannot be tested in paused time, and a simulation that
/// advances tokio's clock would not refill it. This clock counts the nanoseconds since it
/// was made, on tokio's clock, so `tokio::time::advance` refills a limiter exactly.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use governor::{Quota, RateLimiter};
/// use seawall_ratelimit::TokioClock;
///
/// let quota = Quota::with_period(Duration::from_secs(1)).unwrap();
/// let limiter = RateLimiter::direct_with_clock(quota, TokioClock::new());
/// assert!(limiter.check().is_ok());
/// assert!(limiter.check().is_err());
/// tokio::time::advance(Duration::from_secs(1)).await;
/// assert!(limiter.check().is_ok());
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin: Instant,
}

impl TokioClock {
    /// A clock whose zero is now, on tokio's clock.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// The time since this clock's zero.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        // Saturates instead of governor's panic past 584 years of uptime.
        let nanos = u64::try_from(self.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Nanos::from(Duration::from_nanos(nanos))
    }
}
