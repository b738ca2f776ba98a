//! The live run's simulated twin: the same schedule, arrivals, client timeout and client
//! standard stack (its configuration and retry seed), with `seawall-sim`'s upstream in
//! place of the axum server and tokio's paused clock in place of the real one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use seawall::http::ReplayableBody;
use seawall_core::BoxError;
use seawall_sim::{Abandonment, EventLog, Latency, Request, Upstream};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::drive::{arrivals, drive, Log, Record};
use super::schedule::{Phase, Schedule};
use super::shape::Figures;
use super::Stacks;

/// The simulated upstream's latency in a phase: as the live upstream's, and 1 ms for a
/// call that fails in an outage (the simulated `outage` scenario's failures).
fn latency(phase: &Phase) -> Latency {
    let ms = Duration::from_millis;
    let healthy = Latency::uniform(ms(8), ms(12));
    if phase.failure_rate >= 1.0 {
        Latency::constant(ms(1))
    } else if phase.slow_share > 0.0 {
        Latency::mixture([
            (1.0 - phase.slow_share, healthy),
            (phase.slow_share, Latency::uniform(ms(900), ms(1100))),
        ])
    } else {
        healthy
    }
}

/// The simulated upstream following `schedule`; its clock starts now.
fn upstream(schedule: &Schedule, seed: u64) -> Result<Upstream, BoxError> {
    let first = schedule.phase_at(Duration::ZERO);
    let mut builder = Upstream::builder()
        .latency(latency(&first))
        .failure_rate(first.failure_rate)
        .abandonment(Abandonment::Never)
        .seed(seed);
    for phase in schedule.phases.iter().skip(1) {
        let phase = *phase;
        builder = builder.at(phase.at, move |p| {
            p.latency(latency(&phase)).failure_rate(phase.failure_rate)
        });
    }
    Ok(builder.build()?)
}

/// The simulated upstream as an HTTP service: 200 for a success, 503 for a failure, so the
/// standard stack classifies, retries and counts its answers as it does the live ones.
#[derive(Clone, Debug)]
struct SimHttp(Upstream);

impl<B> Service<http::Request<B>> for SimHttp {
    type Response = http::Response<String>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Service::<Request>::poll_ready(&mut self.0, cx).map_err(BoxError::from)
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        let answer = self.0.call(Request { id: 0 });
        Box::pin(async move {
            let status = match answer.await {
                Ok(_) => http::StatusCode::OK,
                Err(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut response = http::Response::new(String::new());
            *response.status_mut() = status;
            Ok(response)
        })
    }
}

/// Runs `schedule` in paused time at `rate` with `seed`, the bare client and the standard
/// stack side by side, and measures both up to `end` (where the live run stopped).
///
/// Every random draw is seeded (arrivals, upstream, the stack's retry jitter and breaker
/// open-time jitter), so the twin repeats exactly for a seed: it runs under
/// `run_deterministic`, which refuses a run that drew from entropy.
///
/// # Errors
///
/// When the schedule makes an invalid upstream, the stack refuses its configuration, or
/// something in the run seeded itself from entropy.
pub fn simulate(
    schedule: &Schedule,
    rate: f64,
    seed: u64,
    end: Duration,
) -> Result<Stacks<Figures>, BoxError> {
    let log = EventLog::new();
    seawall_sim::run_deterministic(async {
        let _recording = log.install();
        let times = arrivals(rate, schedule.duration, seed);
        let (bare_upstream, stack_upstream) =
            (upstream(schedule, seed)?, upstream(schedule, seed)?);
        let client = super::client_config(seed).service::<_, String, String>(ServiceExt::<
            http::Request<ReplayableBody<String>>,
        >::map_err(
            SimHttp(stack_upstream.clone()),
            BoxError::from,
        ))?;
        let url = "http://upstream.sim/";
        let (bare, stack) = (Log::<Record>::new(), Log::<Record>::new());
        let start = Instant::now();
        let bare_calls = {
            let upstream = bare_upstream.clone();
            move || {
                let upstream = upstream.clone();
                async move {
                    ServiceExt::<Request>::oneshot(upstream, Request { id: 0 })
                        .await
                        .is_ok()
                }
            }
        };
        let stack_calls = move || {
            let client = client.clone();
            async move {
                let request = http::Request::get(url).body(String::new());
                match request {
                    Ok(request) => client
                        .oneshot(request)
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                    Err(_) => false,
                }
            }
        };
        tokio::join!(
            drive(&times, start, schedule.timeout, bare_calls, bare.clone()),
            drive(&times, start, schedule.timeout, stack_calls, stack.clone()),
        );
        let since = |upstream: &Upstream| -> Vec<Duration> {
            upstream
                .attempt_times()
                .iter()
                .map(|t| t.saturating_duration_since(start))
                .collect()
        };
        let opened = super::run::breaker_opens(&log, start);
        Ok(Stacks {
            bare: Figures::measure(schedule, end, &bare.snapshot(), &since(&bare_upstream), &[]),
            stack: Figures::measure(
                schedule,
                end,
                &stack.snapshot(),
                &since(&stack_upstream),
                &opened,
            ),
        })
    })?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_twin_shows_the_outage_and_the_stack_shields_the_upstream() {
        let schedule = Schedule::outage(Duration::from_secs(9));
        let twin = simulate(&schedule, 200.0, 1, schedule.duration).unwrap();
        for f in [&twin.bare, &twin.stack] {
            let (before, during, after) = (f.before.unwrap(), f.during.unwrap(), f.after.unwrap());
            assert!(before > 0.99 && during < 0.05 && after > 0.99, "{f:?}");
        }
        // Every request reaches the bare client's upstream; the stack's breaker keeps most
        // of them away while it is down, and trips within a fraction of a second.
        assert_eq!(twin.bare.load_during, Some(1.0));
        assert!(twin.stack.load_during.unwrap() < 0.3, "{:?}", twin.stack);
        assert!(twin.stack.trip_s.unwrap() < 0.3, "{:?}", twin.stack);
        assert!(twin.bare.recover_s.unwrap() < 0.11, "{:?}", twin.bare);
        assert!(twin.stack.recover_s.unwrap() <= 1.5, "{:?}", twin.stack);
    }

    #[test]
    fn the_twin_repeats_for_a_seed() {
        // Every draw is seeded, the breaker's open-time jitter included: the same seed gives
        // the same figures, to the breaker's trip and recovery.
        let schedule = Schedule::outage(Duration::from_secs(9));
        let first = simulate(&schedule, 200.0, 3, schedule.duration).unwrap();
        let again = simulate(&schedule, 200.0, 3, schedule.duration).unwrap();
        assert_eq!(first, again);
    }
}
