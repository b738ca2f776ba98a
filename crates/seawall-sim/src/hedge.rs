//! A check that a hedging layer hedges as often as theory says.
//!
//! A hedge sends a second copy of a request when the first has not answered after a delay
//! `d`. Against an upstream with no queueing, whose service times follow a known
//! distribution `S`, it should therefore hedge a share P(S > d) of requests — no more, no
//! less. The classic bug is a timer and an answer due on the same tick: tokio's timer
//! fires on whole milliseconds, and a hedge that polls its timer before the answer hedges
//! requests whose answer was already there. With log-normal S (median 10 ms, σ 0.5) and
//! d = 12 ms, P(S > d) = 0.358; a hedge that polls the answer first hedges 0.356 of
//! requests, one that polls its timer first 0.421 (`crates/seawall-sim/tests/hedge.rs`).
//! [`hedge_rate`] measures the share through any stack and sets it beside P(S > d), so a
//! hedge layer's test can assert that they agree within 2%.

use std::time::Duration;

use tower::Service;

use crate::{Abandonment, ConfigError, Latency, Load, Request, Upstream};

/// What [`hedge_rate`] measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HedgeRate {
    /// Requests sent.
    pub requests: u64,
    /// Extra calls that reached the upstream: the hedges.
    pub hedges: u64,
    /// `hedges / requests`.
    pub measured: f64,
    /// P(S > d) for the upstream's latency S and the delay d (rounded up to the millisecond
    /// tick its timer fires on).
    pub expected: f64,
}

impl HedgeRate {
    /// `|measured − expected| / expected`.
    pub fn relative_error(&self) -> f64 {
        if self.expected == 0.0 {
            self.measured
        } else {
            (self.measured - self.expected).abs() / self.expected
        }
    }
}

/// Sends `requests` requests, evenly spaced at 1,000 per second, through the stack `stack`
/// builds in front of an upstream with unlimited capacity and service times drawn from
/// `latency` (seeded with `seed`), and compares the share of requests that were hedged with
/// P(S > `delay`).
///
/// The stack must send each request once, plus at most one hedge after `delay`, and
/// nothing else (no retries). Run it in paused time ([`crate::run_paused`]). Choose a
/// latency whose draws are mostly above a few milliseconds (see
/// [`RESOLUTION_FLOOR`](crate::RESOLUTION_FLOOR)), and a whole-millisecond delay.
///
/// ```
/// use std::time::Duration;
/// use seawall_sim::{hedge_rate, run_paused, Latency};
///
/// // No hedging at all: the measured rate is 0, far from P(S > 12 ms).
/// let check = run_paused(hedge_rate(
///     Latency::log_normal(Duration::from_millis(10), 0.5),
///     Duration::from_millis(12),
///     1_000,
///     1,
///     |upstream| upstream,
/// ))
/// .unwrap();
/// assert_eq!(check.hedges, 0);
/// assert!((check.expected - 0.358).abs() < 0.001);
/// ```
///
/// # Errors
///
/// When `latency` does not validate, or `requests` is zero.
pub async fn hedge_rate<S, F>(
    latency: Latency,
    delay: Duration,
    requests: u64,
    seed: u64,
    stack: F,
) -> Result<HedgeRate, ConfigError>
where
    F: FnOnce(Upstream) -> S,
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    S::Error: Send,
{
    if requests == 0 {
        return Err(ConfigError::new("hedge_rate: requests must be at least 1"));
    }
    let upstream = Upstream::builder()
        .latency(latency.clone())
        .abandonment(Abandonment::Immediately)
        .seed(seed)
        .build()?;
    let load = Load::builder()
        .rate(1000.0)
        .duration(Duration::from_millis(requests))
        .build()?;
    let summary = load.run(&upstream, stack(upstream.clone())).await;
    let hedges = summary.upstream_attempts.saturating_sub(summary.requests);
    let tick = Duration::from_millis(delay.as_nanos().div_ceil(1_000_000) as u64);
    Ok(HedgeRate {
        requests: summary.requests,
        hedges,
        measured: hedges as f64 / summary.requests.max(1) as f64,
        expected: latency.exceeds(tick),
    })
}
