//! What the live upstream does when: the simulated scenario of the same name, its times
//! scaled from the simulated 60 s to the live run's length, and the chaos switches that
//! put a real upstream into each phase.

use std::time::Duration;

use seawall_chaos::ChaosHandle;
use tokio::time::Instant;

/// How long the simulated scenarios run; a live schedule scales their times by
/// `duration / SIMULATED`.
pub const SIMULATED: Duration = Duration::from_secs(60);

/// The names [`Schedule::named`] knows.
pub const NAMES: [&str; 2] = ["outage", "brownout"];

/// What the upstream does from `at` until the next phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// When the phase starts, from the start of the run.
    pub at: Duration,
    /// The share of calls that fail at once (503, without reaching the handler).
    pub failure_rate: f64,
    /// The share of the other calls that take about a second instead of about 10 ms.
    pub slow_share: f64,
}

/// A scenario's phases over a run of a given length.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The scenario's name (as `--scenario` of the simulated lab takes it).
    pub name: &'static str,
    /// How long requests are sent for.
    pub duration: Duration,
    /// The fault window: from the first phase that fails calls to the heal.
    pub fault: (Duration, Duration),
    /// The client's timeout, as in the simulated scenario.
    pub timeout: Duration,
    /// The phases, in time order, the first at zero.
    pub phases: Vec<Phase>,
}

/// `simulated_s` seconds of the 60 s simulated run, on a run of `duration`.
fn scale(duration: Duration, simulated_s: u64) -> Duration {
    let nanos = duration.as_nanos() * u128::from(simulated_s) / u128::from(SIMULATED.as_secs());
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

fn phase(duration: Duration, simulated_s: u64, failure_rate: f64, slow_share: f64) -> Phase {
    Phase {
        at: scale(duration, simulated_s),
        failure_rate,
        slow_share,
    }
}

impl Schedule {
    /// The lab's `outage`: healthy (8–12 ms), then every call fails at once from 20 s to
    /// 30 s of 60, then healthy again. Client timeout 1 s.
    pub fn outage(duration: Duration) -> Self {
        Self {
            name: "outage",
            duration,
            fault: (scale(duration, 20), scale(duration, 30)),
            timeout: Duration::from_secs(1),
            phases: vec![
                phase(duration, 0, 0.0, 0.0),
                phase(duration, 20, 1.0, 0.0),
                phase(duration, 30, 0.0, 0.0),
            ],
        }
    }

    /// The lab's `brownout`, without its 100-worker queue: 0.1% errors, then from 20 s to
    /// 40 s of 60 errors at 1%, 5% (27 s), 20% (34 s) and a tenth of the calls taking about
    /// a second. Client timeout 2 s.
    pub fn brownout(duration: Duration) -> Self {
        Self {
            name: "brownout",
            duration,
            fault: (scale(duration, 20), scale(duration, 40)),
            timeout: Duration::from_secs(2),
            phases: vec![
                phase(duration, 0, 0.001, 0.0),
                phase(duration, 20, 0.01, 0.1),
                phase(duration, 27, 0.05, 0.1),
                phase(duration, 34, 0.20, 0.1),
                phase(duration, 40, 0.001, 0.0),
            ],
        }
    }

    /// The schedule called `name` over `duration`.
    ///
    /// # Errors
    ///
    /// When no schedule has that name (the message lists those that do).
    pub fn named(name: &str, duration: Duration) -> Result<Self, String> {
        match name {
            "outage" => Ok(Self::outage(duration)),
            "brownout" => Ok(Self::brownout(duration)),
            _ => Err(format!(
                "no live scenario {name:?}; live scenarios: {}",
                NAMES.join(", ")
            )),
        }
    }

    /// The phase in force at `t` from the start.
    pub fn phase_at(&self, t: Duration) -> Phase {
        self.phases
            .iter()
            .take_while(|p| p.at <= t)
            .last()
            .or(self.phases.first())
            .copied()
            .unwrap_or(Phase {
                at: Duration::ZERO,
                failure_rate: 0.0,
                slow_share: 0.0,
            })
    }
}

/// The two chaos switches of one live upstream: its injected failures and its slow calls.
#[derive(Clone, Debug)]
pub struct Switches {
    /// The outcome layer's handle (503 at once).
    pub fail: ChaosHandle,
    /// The slow-call latency layer's handle.
    pub slow: ChaosHandle,
}

impl Switches {
    /// Puts the upstream into `phase`: each injection is on at the phase's rate, or off.
    pub fn apply(&self, phase: &Phase) {
        set(&self.fail, phase.failure_rate);
        set(&self.slow, phase.slow_share);
    }
}

fn set(handle: &ChaosHandle, rate: f64) {
    // The schedules' rates are all in 0..=1; a bad one would leave the rate as it was.
    if rate > 0.0 && handle.set_rate(rate).is_ok() {
        handle.enable();
    } else {
        handle.disable();
    }
}

/// Applies each phase of `schedule` to every upstream's switches at its time after
/// `start`, on tokio's clock, and returns once the last phase is in force.
pub async fn follow(schedule: &Schedule, start: Instant, switches: &[Switches]) {
    for phase in &schedule.phases {
        tokio::time::sleep_until(start + phase.at).await;
        for s in switches {
            s.apply(phase);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use seawall_chaos::Injection;

    use super::*;

    fn switches() -> Switches {
        let off = || {
            Injection::builder()
                .rate(0.0)
                .enabled(false)
                .seed(1)
                .build()
                .unwrap()
                .handle()
        };
        Switches {
            fail: off(),
            slow: off(),
        }
    }

    #[test]
    fn at_full_length_the_windows_are_the_simulated_scenarios() {
        let simulated = crate::scenarios();
        for name in NAMES {
            let live = Schedule::named(name, SIMULATED).unwrap();
            let scenario = simulated.iter().find(|s| s.name == name).unwrap();
            assert_eq!(Some(live.fault), scenario.outage, "{name}");
        }
    }

    #[test]
    fn a_shorter_run_scales_every_phase() {
        let s = Schedule::outage(Duration::from_secs(6));
        assert_eq!(s.fault, (Duration::from_secs(2), Duration::from_secs(3)));
        assert_eq!(s.phase_at(Duration::from_millis(1999)).failure_rate, 0.0);
        assert_eq!(s.phase_at(Duration::from_secs(2)).failure_rate, 1.0);
        assert_eq!(s.phase_at(Duration::from_millis(2999)).failure_rate, 1.0);
        assert_eq!(s.phase_at(Duration::from_secs(3)).failure_rate, 0.0);
        let b = Schedule::brownout(Duration::from_secs(30));
        assert_eq!(b.phase_at(Duration::from_secs(17)).failure_rate, 0.2);
        assert_eq!(b.phase_at(Duration::from_secs(17)).slow_share, 0.1);
        assert_eq!(b.phase_at(Duration::from_secs(20)).slow_share, 0.0);
        assert!(Schedule::named("steady", SIMULATED)
            .unwrap_err()
            .contains("outage, brownout"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_switches_follow_the_schedule_on_time() {
        let schedule = Schedule::outage(Duration::from_secs(6));
        let upstreams = [switches(), switches()];
        let start = Instant::now();
        let follower = {
            let upstreams = upstreams.clone();
            let schedule = schedule.clone();
            tokio::spawn(async move { follow(&schedule, start, &upstreams).await })
        };
        let failing = |at: u64| {
            let upstreams = upstreams.clone();
            async move {
                tokio::time::sleep_until(start + Duration::from_millis(at)).await;
                upstreams
                    .iter()
                    .map(|u| u.fail.is_enabled() && u.fail.rate() == 1.0)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(failing(1999).await, [false, false]);
        assert_eq!(failing(2001).await, [true, true]);
        assert_eq!(failing(2999).await, [true, true]);
        assert_eq!(failing(3001).await, [false, false]);
        assert!(!upstreams[0].slow.is_enabled());
        follower.await.unwrap();
    }
}
