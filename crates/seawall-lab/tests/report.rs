//! The lab's output as a user meets it: the HTML report, and a lab piped into a reader that
//! goes away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seawall-lab"))
}

/// A fresh directory under the target directory's temp folder.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The `<figure>`s of the scenario section with this id, each as (kind, its HTML).
fn figures<'a>(page: &'a str, id: &str) -> Vec<(&'a str, &'a str)> {
    let start = page
        .find(&format!("<section class=\"scenario\" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let section = &page[start..];
    let section = &section[..section.find("</section>").unwrap()];
    section
        .split("<figure class=\"chart\" data-kind=\"")
        .skip(1)
        .map(|f| (&f[..f.find('"').unwrap()], f))
        .collect()
}

/// Data lines (the charts draw them 2 px wide; axes, ticks and dashed lines are 1 px) of at
/// least two points in an SVG.
fn lines_drawn(svg: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| p[..p.find('>').unwrap()].contains("stroke-width=\"2\""))
        .filter(|p| {
            let points = &p[p.find("points=\"").unwrap() + 8..];
            points[..points.find('"').unwrap()]
                .split_whitespace()
                .count()
                >= 2
        })
        .count()
}

#[test]
fn the_report_has_every_chart_of_every_scenario_with_the_fault_shaded() {
    let dir = scratch("report");
    let out = lab()
        .args([
            "--scenario",
            "steady",
            "--scenario",
            "outage",
            "--seed",
            "3",
        ])
        .arg("--report")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The table still goes to stdout.
    assert!(String::from_utf8_lossy(&out.stdout).contains("## outage"));
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();

    // The page names the seed, the command and each scenario's abandonment policy.
    assert!(page.contains("Seed <b>3</b>"));
    assert!(page.contains(
        "cargo run --release -p seawall-lab -- --scenario steady --scenario outage --seed 3 --report"
    ));
    assert_eq!(page.matches("Abandonment policy: <b>never</b>").count(), 2);
    // Self-contained: nothing is fetched.
    assert!(!page.contains("src=") && !page.contains("href=\"http"));

    let steady = figures(&page, "steady");
    let kinds: Vec<_> = steady.iter().map(|f| f.0).collect();
    assert_eq!(kinds, ["upstream-load", "success-rate", "latency"]);
    assert!(page.contains("no breaker chart"));

    let outage = figures(&page, "outage");
    let kinds: Vec<_> = outage.iter().map(|f| f.0).collect();
    assert_eq!(
        kinds,
        ["upstream-load", "success-rate", "latency", "breaker"]
    );
    for (kind, svg) in steady.iter().chain(&outage) {
        assert!(svg.contains("<svg"), "{kind}");
        assert!(lines_drawn(svg) >= 1, "{kind} has no line");
    }
    // A line per simulated stack in the load chart (none for a peer marked not meaningful
    // in simulated time).
    let stacks = seawall_lab::scenarios()
        .into_iter()
        .find(|s| s.name == "outage")
        .unwrap()
        .stacks
        .len();
    assert_eq!(lines_drawn(outage[0].1), stacks);
    // The outage (20–30 s) is shaded in every outage chart, and in no steady one.
    let shade = "opacity=\"0.13\" fill=\"#E15759\"";
    for (kind, svg) in &outage {
        assert!(svg.contains(shade), "{kind} is not shaded");
    }
    for (kind, svg) in &steady {
        assert!(!svg.contains(shade), "{kind} is shaded");
    }
    assert!(page.contains("Fault window: 20–30 s."));

    // Beside it, the README's chart: the outage's upstream load with its legend.
    let chart = std::fs::read_to_string(dir.join("outage-upstream-load.svg")).unwrap();
    assert!(chart.contains("tower Retry (attempts only)") && chart.contains("Seawall breaker"));
}

#[test]
fn the_same_seed_writes_the_same_page() {
    let report = seawall_lab::run(&["outage".to_string()], 5).unwrap();
    let again = seawall_lab::run(&["outage".to_string()], 5).unwrap();
    let a = seawall_lab::report::render(&report, "cmd").unwrap();
    assert_eq!(a, seawall_lab::report::render(&again, "cmd").unwrap());
    let other = seawall_lab::run(&["outage".to_string()], 6).unwrap();
    assert_ne!(a, seawall_lab::report::render(&other, "cmd").unwrap());
}

/// Runs the lab with its stdout closed before it writes: a reader that went away.
fn closed_reader(args: &[&str]) -> std::process::Output {
    let mut child = lab()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_reader_that_goes_away_ends_the_lab_quietly() {
    for args in [
        &["--scenario", "steady", "--json"][..],
        &["--scenario", "steady"][..],
        &["--list"][..],
    ] {
        let out = closed_reader(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn piped_the_lab_prints_no_progress() {
    // A run of several seconds, stdout and stderr piped: only the figures, on stdout.
    let out = lab()
        .args(["--scenario", "outage", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["scenarios"][0]["name"], "outage");
}

/// Every field path in `value`, arrays of objects marked `[]` (the union over their items;
/// an empty one names no field).
fn paths(value: &serde_json::Value, at: String, out: &mut std::collections::BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                paths(v, path, out);
            }
        }
        serde_json::Value::Array(items) if items.iter().all(|i| i.is_object()) => {
            for item in items {
                paths(item, format!("{at}[]"), out);
            }
        }
        _ => {
            out.insert(at);
        }
    }
}

#[test]
fn docs_name_every_json_field_and_no_other() {
    let docs = include_str!("../../../docs/lab.md");
    let table = &docs[docs.find("### `--json`: the fields").unwrap()..];
    let documented: std::collections::BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l[..l.find('`').unwrap()].to_string())
        .collect();
    let report = seawall_lab::run(&["outage".to_string()], 1).unwrap();
    let mut printed = std::collections::BTreeSet::new();
    paths(
        &serde_json::to_value(&report).unwrap(),
        String::new(),
        &mut printed,
    );
    let undocumented: Vec<_> = printed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/lab.md: {undocumented:?}"
    );
    // The outage scenario states no capacity and has no adaptive limit, so only those
    // fields are missing.
    let unprinted: Vec<_> = documented.difference(&printed).collect();
    assert_eq!(
        unprinted,
        [
            "scenarios[].capacity_rps",
            "scenarios[].capacity_series",
            "scenarios[].results[].limit_series"
        ]
    );
}

#[test]
fn the_adaptive_limits_are_recorded_and_charted_each_second() {
    let report = seawall_lab::run(&["capacity-halves".to_string()], 1).unwrap();
    let s = &report.scenarios[0];
    let get = |name: &str| s.results.iter().find(|r| r.stack == name).unwrap();
    // Static limits and no limit record nothing.
    assert!(get("none").limit_series.is_empty());
    assert!(get("tower ConcurrencyLimit(25) + LoadShed")
        .limit_series
        .is_empty());
    // Vegas's limit is recorded every second, and moves.
    let vegas = &get("Seawall shed Vegas (default)").limit_series;
    assert!(vegas.len() >= 30, "{vegas:?}");
    assert!(vegas.iter().any(|l| *l != vegas[0]), "{vegas:?}");
    let page = seawall_lab::report::render(&report, "cmd").unwrap();
    let limit = figures(&page, "capacity-halves")
        .into_iter()
        .find(|f| f.0 == "limit")
        .expect("a limit chart");
    // One line per adaptive limit: Vegas, Gradient2, Envoy's gradient, AIMD.
    assert_eq!(lines_drawn(limit.1), 4);
}

/// A scenario with an outage and a capacity drop shades both, in every chart.
#[test]
fn the_end_to_end_charts_shade_the_overload_and_the_outage() {
    let dir = scratch("report-end-to-end");
    let out = lab()
        .args(["--scenario", "end-to-end", "--report"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(page.contains("Fault window: 15–30 s, 35–45 s."));
    let shade = "opacity=\"0.13\" fill=\"#E15759\"";
    for (kind, svg) in figures(&page, "end-to-end") {
        assert_eq!(svg.matches(shade).count(), 2, "{kind}");
    }
}
