//! The lab's human-readable output: one table per scenario, one column per stack.

use std::fmt::Write as _;

use seawall_sim::Summary;

use crate::LabReport;

/// A table row: its label and how to read the figure from a summary.
type Row = (&'static str, fn(&Summary) -> String);

/// The rows of every table.
const ROWS: &[Row] = &[
    ("requests", |s| s.requests.to_string()),
    ("success rate", |s| {
        format!("{:.2}%", s.success_rate * 100.0)
    }),
    ("goodput (req/s)", |s| format!("{:.1}", s.goodput_rps)),
    ("failed", |s| s.failed.to_string()),
    ("timed out", |s| s.timed_out.to_string()),
    ("latency p50 (ms)", |s| format!("{:.1}", s.latency_ms.p50)),
    ("latency p90 (ms)", |s| format!("{:.1}", s.latency_ms.p90)),
    ("latency p99 (ms)", |s| format!("{:.1}", s.latency_ms.p99)),
    ("latency p99.9 (ms)", |s| {
        format!("{:.1}", s.latency_ms.p999)
    }),
    ("latency max (ms)", |s| format!("{:.1}", s.latency_ms.max)),
    ("upstream attempts", |s| s.upstream_attempts.to_string()),
    ("upstream load (x)", |s| format!("{:.2}", s.amplification)),
];

/// Renders the report as plain-text tables.
pub fn render(report: &LabReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Seawall lab, seed {}", report.seed);
    for scenario in &report.scenarios {
        let _ = writeln!(out, "\n## {} — {}", scenario.name, scenario.about);
        let label_width = ROWS.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let widths: Vec<usize> = scenario
            .results
            .iter()
            .map(|r| {
                ROWS.iter()
                    .map(|(_, f)| f(&r.summary).len())
                    .chain([r.stack.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let _ = write!(out, "{:label_width$}", "");
        for (r, w) in scenario.results.iter().zip(&widths) {
            let _ = write!(out, "  {:>w$}", r.stack);
        }
        out.push('\n');
        for (label, figure) in ROWS {
            let _ = write!(out, "{label:label_width$}");
            for (r, w) in scenario.results.iter().zip(&widths) {
                let _ = write!(out, "  {:>w$}", figure(&r.summary));
            }
            out.push('\n');
        }
    }
    out
}
