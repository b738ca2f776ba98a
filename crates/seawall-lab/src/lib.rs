//! The Seawall lab: the figures Seawall publishes from simulated time, reproduced.
//!
//! Each [`Scenario`] pairs a simulated upstream (healthy, failing, heavy-tailed, overloaded)
//! with an open-loop load, and runs it through several stacks side by side: no resilience
//! layer, tower's built-in pieces, tower-resilience's where they read only tokio's clock
//! (the others are listed as not meaningful in simulated time), and Seawall's. Everything runs in tokio's paused time on
//! one thread, so a minute of traffic at a thousand requests a second takes well under a
//! second, and the same seed prints the same bytes: every layer is seeded from the
//! scenario's seed, and a run in which anything seeds itself from entropy is refused.
//!
//! `cargo run --release -p seawall-lab` runs them all; see `--help` for the options.
//! `seawall-lab live` plays the outage or the brownout against real axum upstreams on
//! 127.0.0.1 and compares it with its simulated twin. What the simulator can and cannot
//! resolve is in `docs/lab.md`.

use std::time::Duration;

use seawall_sim::{run_deterministic, Abandonment, ConfigError, EventLog, Load, Summary, Upstream};
use serde::Serialize;
use tower::BoxError;

mod charts;
pub mod live;
pub mod report;
mod scenarios;
pub mod stacks;
mod table;

pub use scenarios::all as scenarios;
pub use stacks::{erase, wall_clock_peers, LabService, Stack, WallClockPeer};
pub use table::render as render_table;

/// A situation the upstream is in, with the load sent to it and the stacks compared.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The name `--scenario` selects it by.
    pub name: &'static str,
    /// One line on what happens (the abandonment policy is added from the upstream).
    pub about: &'static str,
    /// Builds the upstream from the seed.
    pub upstream: fn(u64) -> Result<Upstream, ConfigError>,
    /// Builds the load from the seed.
    pub load: fn(u64) -> Result<Load, ConfigError>,
    /// The fault window, if the upstream has one: when it fails every call (an outage) or
    /// some of them (a brownout). The times to trip and recover are measured from its start
    /// and end.
    pub outage: Option<(Duration, Duration)>,
    /// The upstream's capacity in requests per second at second `t`, when it has one, so
    /// goodput can be read as a share of it.
    pub capacity: Option<fn(u64) -> f64>,
    /// The stacks compared, first the baseline.
    pub stacks: Vec<Stack>,
}

/// A circuit breaker's state change during a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transition {
    /// Seconds since the start of the run.
    pub t_s: f64,
    /// The state entered (`"open"`, `"half_open"`, `"closed"`, …).
    pub state: String,
}

/// One stack's figures in one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct StackResult {
    /// The stack's name.
    pub stack: &'static str,
    /// What the run saw.
    pub summary: Summary,
    /// The circuit breaker's state changes, if the stack has one.
    pub breaker: Vec<Transition>,
    /// The concurrency limit in force at each second's last request, if the stack sheds
    /// load with an adaptive limit (see [`record_limit`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limit_series: Vec<f64>,
}

thread_local! {
    static LIMITS: std::cell::RefCell<Vec<(tokio::time::Instant, usize)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Records a stack's concurrency limit now, for the report's limit chart: a stack with an
/// adaptive limit calls it as each request arrives. Each run collects only its own.
pub fn record_limit(limit: usize) {
    LIMITS.with(|l| l.borrow_mut().push((tokio::time::Instant::now(), limit)));
}

impl StackResult {
    /// How long after `at` the breaker first entered `state`, in seconds.
    pub fn first_after(&self, state: &str, at: Duration) -> Option<f64> {
        let at = at.as_secs_f64();
        self.breaker
            .iter()
            .find(|t| t.state == state && t.t_s >= at)
            .map(|t| t.t_s - at)
    }
}

/// One scenario's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: &'static str,
    /// What happens, ending with what the server does when a client leaves.
    pub about: String,
    /// What the server does with requests whose client has gone.
    pub abandonment: Abandonment,
    /// The fault window (outage or brownout), in seconds from the start, if there is one.
    pub outage_s: Option<(f64, f64)>,
    /// The upstream's capacity at the start, requests per second, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_rps: Option<f64>,
    /// The capacity in each second of the run, when it changes during the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_series: Vec<f64>,
    /// One entry per stack, in the scenario's order.
    pub results: Vec<StackResult>,
    /// Peers this scenario would compare but cannot simulate, because they read the wall
    /// clock: columns marked "not meaningful in simulated time", with no figures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_simulated: Vec<WallClockPeer>,
}

/// Everything the lab measured: what `--json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct LabReport {
    /// The seed every scenario ran with.
    pub seed: u64,
    /// The scenarios, in the order run.
    pub scenarios: Vec<ScenarioResult>,
}

impl Scenario {
    /// Runs every stack of this scenario, each in a fresh paused-time runtime with a fresh
    /// upstream and stack seeded from `seed`.
    ///
    /// # Errors
    ///
    /// When the scenario's upstream or load is misconfigured, its latency is finer than the
    /// simulated clock resolves, or a layer seeded itself from entropy (the run would not
    /// repeat).
    pub fn run(&self, seed: u64) -> Result<ScenarioResult, BoxError> {
        self.run_observed(seed, &mut |_| {})
    }

    /// [`run`](Self::run), calling `done` with each stack's name once it has run.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub fn run_observed(
        &self,
        seed: u64,
        done: &mut dyn FnMut(&str),
    ) -> Result<ScenarioResult, BoxError> {
        let mut results = Vec::with_capacity(self.stacks.len());
        let mut abandonment = Abandonment::default();
        for stack in &self.stacks {
            let log = EventLog::new();
            LIMITS.with(|l| l.borrow_mut().clear());
            let (summary, origin, policy) = run_deterministic(async {
                let _recording = log.install();
                let upstream = (self.upstream)(seed)?;
                if let Some(warning) = upstream.warnings().first() {
                    return Err(BoxError::from(format!("scenario {}: {warning}", self.name)));
                }
                let load = (self.load)(seed)?;
                let service = (stack.build)(upstream.clone(), seed);
                let summary = load.run(&upstream, service).await;
                Ok::<_, BoxError>((summary, upstream.origin(), upstream.abandonment()))
            })??;
            abandonment = policy;
            let breaker = log
                .events()
                .into_iter()
                .filter(|e| e.layer == "breaker" && e.event != "would_trip")
                .map(|e| Transition {
                    t_s: e.at.saturating_duration_since(origin).as_secs_f64(),
                    state: e.event,
                })
                .collect();
            let mut limit_series: Vec<f64> = Vec::new();
            for (at, limit) in LIMITS.with(|l| std::mem::take(&mut *l.borrow_mut())) {
                let t = at.saturating_duration_since(origin).as_secs() as usize;
                if limit_series.len() <= t {
                    let last = limit_series.last().copied().unwrap_or(limit as f64);
                    limit_series.resize(t + 1, last);
                }
                limit_series[t] = limit as f64;
            }
            results.push(StackResult {
                stack: stack.name,
                summary,
                breaker,
                limit_series,
            });
            done(stack.name);
        }
        let seconds = results.first().map_or(0, |r| r.summary.series.len() as u64);
        let series: Vec<f64> = self
            .capacity
            .map(|c| (0..seconds).map(c).collect())
            .unwrap_or_default();
        let changes = series.windows(2).any(|w| w[0] != w[1]);
        Ok(ScenarioResult {
            name: self.name,
            capacity_rps: self.capacity.map(|c| c(0)),
            capacity_series: if changes { series } else { Vec::new() },
            about: format!(
                "{}; abandonment: {abandonment} ({})",
                self.about,
                describe(abandonment)
            ),
            abandonment,
            outage_s: self
                .outage
                .map(|(from, to)| (from.as_secs_f64(), to.as_secs_f64())),
            results,
            not_simulated: wall_clock_peers(self.name),
        })
    }
}

fn describe(abandonment: Abandonment) -> &'static str {
    match abandonment {
        Abandonment::Never => "the server serves requests whose client has gone",
        Abandonment::WhenDequeued => "the server skips queued requests whose client has gone",
        Abandonment::Immediately => "the server drops a request as soon as its client goes",
    }
}

/// Runs the named scenarios (all of them when `names` is empty) with `seed`.
///
/// # Errors
///
/// When a name matches no scenario (the message lists the known ones), or a scenario is
/// refused (see [`Scenario::run`]).
pub fn run(names: &[String], seed: u64) -> Result<LabReport, BoxError> {
    run_observed(names, seed, &mut |_| {})
}

/// A step of a run, as [`run_observed`] reports it.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// The run will take this many stack runs in all.
    Total(usize),
    /// One stack of the named scenario has run.
    Ran {
        /// The scenario's name.
        scenario: &'a str,
        /// The stack's name.
        stack: &'a str,
    },
}

/// [`run`], telling `progress` how many stack runs there are and when each has run.
///
/// # Errors
///
/// As [`run`].
pub fn run_observed(
    names: &[String],
    seed: u64,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<LabReport, BoxError> {
    let all = scenarios();
    for name in names {
        if !all.iter().any(|s| s.name == name) {
            let known: Vec<_> = all.iter().map(|s| s.name).collect();
            return Err(format!(
                "unknown scenario {name:?}; known scenarios: {}",
                known.join(", ")
            )
            .into());
        }
    }
    let mut report = LabReport {
        seed,
        scenarios: Vec::new(),
    };
    let chosen: Vec<&Scenario> = all
        .iter()
        .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name))
        .collect();
    progress(Progress::Total(chosen.iter().map(|s| s.stacks.len()).sum()));
    for scenario in chosen {
        let result = scenario.run_observed(seed, &mut |stack| {
            progress(Progress::Ran {
                scenario: scenario.name,
                stack,
            })
        })?;
        report.scenarios.push(result);
    }
    Ok(report)
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
