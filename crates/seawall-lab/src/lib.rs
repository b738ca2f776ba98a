//! The Seawall lab: every resilience claim, reproduced in simulated time.
//!
//! Each [`Scenario`] pairs a simulated upstream (healthy, failing, heavy-tailed, overloaded)
//! with an open-loop load, and runs it through several stacks side by side: no resilience
//! layer, tower's built-in pieces, and Seawall's. Everything runs in tokio's paused time on
//! one thread, so a minute of traffic at a thousand requests a second takes well under a
//! second, and the same seed prints the same bytes.
//!
//! `cargo run --release -p seawall-lab` runs them all; see `--help` for the options.

use std::time::Duration;

use seawall_sim::{run_paused, ConfigError, Load, Request, Summary, Upstream};
use serde::Serialize;
use tower::util::BoxCloneService;
use tower::{BoxError, Service, ServiceExt};

mod scenarios;
mod table;

pub use scenarios::all as scenarios;
pub use table::render as render_table;

/// The service type every stack in the lab is erased to.
pub type LabService = BoxCloneService<Request, (), BoxError>;

/// Erases a stack ending in the upstream to a [`LabService`]: responses become `()`, errors
/// `BoxError`.
pub fn erase<S>(service: S) -> LabService
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    BoxCloneService::new(ServiceExt::<Request>::map_response(service, |_| ()).map_err(Into::into))
}

/// A way of calling the upstream: a column in the lab's tables.
#[derive(Clone, Copy)]
pub struct Stack {
    /// The column's heading.
    pub name: &'static str,
    /// Builds the stack in front of the upstream.
    pub build: fn(Upstream) -> LabService,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("name", &self.name).finish()
    }
}

/// A situation the upstream is in, with the load sent to it and the stacks compared.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The name `--scenario` selects it by.
    pub name: &'static str,
    /// One line on what happens.
    pub about: &'static str,
    /// Builds the upstream from the seed.
    pub upstream: fn(u64) -> Result<Upstream, ConfigError>,
    /// Builds the load from the seed.
    pub load: fn(u64) -> Result<Load, ConfigError>,
    /// The stacks compared, first the baseline.
    pub stacks: Vec<Stack>,
}

/// One stack's figures in one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct StackResult {
    /// The stack's name.
    pub stack: &'static str,
    /// What the run saw.
    pub summary: Summary,
}

/// One scenario's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: &'static str,
    /// One line on what happens.
    pub about: &'static str,
    /// One entry per stack, in the scenario's order.
    pub results: Vec<StackResult>,
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
    /// upstream built from `seed`.
    ///
    /// # Errors
    ///
    /// When the scenario's upstream or load is misconfigured.
    pub fn run(&self, seed: u64) -> Result<ScenarioResult, ConfigError> {
        let mut results = Vec::with_capacity(self.stacks.len());
        for stack in &self.stacks {
            let summary = run_paused(async {
                let upstream = (self.upstream)(seed)?;
                let load = (self.load)(seed)?;
                let service = (stack.build)(upstream.clone());
                Ok::<_, ConfigError>(load.run(&upstream, service).await)
            })?;
            results.push(StackResult {
                stack: stack.name,
                summary,
            });
        }
        Ok(ScenarioResult {
            name: self.name,
            about: self.about,
            results,
        })
    }
}

/// Runs the named scenarios (all of them when `names` is empty) with `seed`.
///
/// # Errors
///
/// When a name matches no scenario (the message lists the known ones), or a scenario is
/// misconfigured.
pub fn run(names: &[String], seed: u64) -> Result<LabReport, BoxError> {
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
    for scenario in all
        .iter()
        .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name))
    {
        report.scenarios.push(scenario.run(seed)?);
    }
    Ok(report)
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
