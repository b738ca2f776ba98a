//! The lab's human-readable output: one table per scenario, one column per stack.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{LabReport, ScenarioResult, StackResult};

/// A table row: its label and how to read the figure from a column.
type Row = (&'static str, fn(&ScenarioResult, &StackResult) -> String);

/// A figure to one decimal place.
fn tenths(x: f64) -> String {
    format!("{x:.1}")
}

/// The rows of every table.
const ROWS: &[Row] = &[
    ("requests", |_, r| r.summary.requests.to_string()),
    ("success rate", |_, r| {
        format!("{:.2}%", r.summary.success_rate * 100.0)
    }),
    ("goodput (req/s)", |_, r| tenths(r.summary.goodput_rps)),
    ("failed", |_, r| r.summary.failed.to_string()),
    ("timed out", |_, r| r.summary.timed_out.to_string()),
    ("latency p50 (ms)", |_, r| tenths(r.summary.latency_ms.p50)),
    ("latency p90 (ms)", |_, r| tenths(r.summary.latency_ms.p90)),
    ("latency p99 (ms)", |_, r| tenths(r.summary.latency_ms.p99)),
    ("latency p99, successes only (ms)", |_, r| {
        tenths(r.summary.success_latency_ms.p99)
    }),
    ("latency p99.9 (ms)", |_, r| {
        tenths(r.summary.latency_ms.p999)
    }),
    ("latency max (ms)", |_, r| tenths(r.summary.latency_ms.max)),
    ("upstream attempts", |_, r| {
        r.summary.upstream_attempts.to_string()
    }),
    ("upstream load, whole run (x)", |_, r| {
        format!("{:.2}", r.summary.amplification)
    }),
    ("upstream load, worst second (x)", |_, r| {
        let w = r.summary.worst_second;
        format!(
            "{:.2} (s{}: {}/{})",
            w.load, w.t, w.upstream_attempts, w.requests
        )
    }),
];

/// Rows shown only for scenarios with a fault window in which a breaker changed state.
const OUTAGE_ROWS: &[Row] = &[
    ("breaker: time to trip (ms)", |s, r| {
        match (s.outage_s, r.breaker.is_empty()) {
            (Some((from, _)), false) => r
                .first_after("open", Duration::from_secs_f64(from))
                .map_or("never".into(), |t| format!("{:.0}", t * 1000.0)),
            _ => "–".into(),
        }
    }),
    ("breaker: closed after heal (s)", |s, r| {
        match (s.outage_s, r.breaker.is_empty()) {
            (Some((_, to)), false) => r
                .first_after("closed", Duration::from_secs_f64(to))
                .map_or("never".into(), |t| format!("{t:.2}")),
            _ => "–".into(),
        }
    }),
];

/// Rows shown only for scenarios whose upstream states its capacity.
const CAPACITY_ROWS: &[Row] = &[
    ("goodput / capacity", |s, r| {
        let seconds = &r.summary.series;
        let capacity: f64 = match s.capacity_series.is_empty() {
            true => s.capacity_rps.unwrap_or(0.0) * r.summary.duration_s,
            false => s
                .capacity_series
                .iter()
                .take(r.summary.duration_s as usize)
                .sum(),
        };
        let ok: u64 = seconds.iter().map(|x| x.succeeded).sum();
        format!("{:.1}%", 100.0 * ok as f64 / capacity.max(1.0))
    }),
    ("worst second / capacity", |s, r| {
        let at = |t: usize| {
            s.capacity_series
                .get(t)
                .copied()
                .or(s.capacity_rps)
                .unwrap_or(1.0)
        };
        let worst = r
            .summary
            .series
            .iter()
            .take(r.summary.duration_s as usize)
            .enumerate()
            .map(|(t, x)| x.succeeded as f64 / at(t))
            .fold(f64::INFINITY, f64::min);
        format!("{:.1}%", 100.0 * worst)
    }),
];

/// Renders the report as plain-text tables.
pub fn render(report: &LabReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Seawall lab, seed {}", report.seed);
    for scenario in &report.scenarios {
        let _ = writeln!(out, "\n## {} — {}", scenario.name, scenario.about);
        out.push_str(&scenario_table(scenario));
    }
    out
}

/// One scenario's table: a row per figure, a column per stack.
pub(crate) fn scenario_table(scenario: &ScenarioResult) -> String {
    let mut out = String::new();
    let breakers = scenario.results.iter().any(|r| !r.breaker.is_empty());
    let mut rows: Vec<&Row> = if scenario.outage_s.is_some() && breakers {
        ROWS.iter().chain(OUTAGE_ROWS).collect()
    } else {
        ROWS.iter().collect()
    };
    if scenario.capacity_rps.is_some() {
        rows.extend(CAPACITY_ROWS);
    }
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = scenario
        .results
        .iter()
        .map(|r| {
            rows.iter()
                .map(|(_, f)| f(scenario, r).chars().count())
                .chain([r.stack.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(out, "{:label_width$}", "");
    for (r, w) in scenario.results.iter().zip(&widths) {
        let _ = write!(out, "  {:>w$}", r.stack);
    }
    for peer in &scenario.not_simulated {
        let _ = write!(out, "  {:>w$}", peer.stack, w = unmeasured_width(peer));
    }
    out.push('\n');
    for (label, figure) in rows {
        let _ = write!(out, "{label:label_width$}");
        for (r, w) in scenario.results.iter().zip(&widths) {
            let _ = write!(out, "  {:>w$}", figure(scenario, r));
        }
        for peer in &scenario.not_simulated {
            let _ = write!(out, "  {:>w$}", UNMEASURED, w = unmeasured_width(peer));
        }
        out.push('\n');
    }
    for peer in &scenario.not_simulated {
        let _ = writeln!(
            out,
            "{UNMEASURED}: {} is not meaningful in simulated time: {}",
            peer.stack, peer.why
        );
    }
    out
}

/// The figure of a column the simulator cannot measure (see [`crate::WallClockPeer`]).
const UNMEASURED: &str = "n/m";

fn unmeasured_width(peer: &crate::WallClockPeer) -> usize {
    peer.stack.chars().count().max(UNMEASURED.len())
}
