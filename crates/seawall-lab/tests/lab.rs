//! The lab as a user runs it: the binary's output and the baseline figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_seawall-lab"))
        .args(args)
        .output()
        .expect("the lab binary runs")
}

#[test]
fn json_is_byte_identical_for_a_seed_and_differs_across_seeds() {
    let a = lab(&["--scenario", "steady", "--json", "--seed", "7"]);
    let b = lab(&["--scenario", "steady", "--json", "--seed", "7"]);
    let c = lab(&["--scenario", "steady", "--json", "--seed", "8"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let json: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(json["seed"], 7);
    let steady = &json["scenarios"][0];
    assert_eq!(steady["name"], "steady");
    let summary = &steady["results"][0]["summary"];
    for field in [
        "requests",
        "success_rate",
        "goodput_rps",
        "latency_ms",
        "upstream_attempts",
        "amplification",
        "series",
    ] {
        assert!(!summary[field].is_null(), "missing stable field {field}");
    }
    assert!(summary["latency_ms"]["p999"].as_f64().is_some());
}

#[test]
fn unknown_scenarios_are_refused_with_the_known_names() {
    let out = lab(&["--scenario", "nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown scenario \"nope\""), "{err}");
    assert!(err.contains("outage") && err.contains("steady"), "{err}");
}

#[test]
fn the_table_has_a_column_per_stack() {
    let out = lab(&["--scenario", "outage"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("## outage"), "{text}");
    let header = text
        .lines()
        .skip_while(|l| !l.starts_with("## outage"))
        .nth(1)
        .unwrap();
    assert!(header.split_whitespace().any(|c| c == "none"), "{header}");
    assert!(text.contains("upstream load (x)"));
}

#[test]
fn baseline_figures_match_each_scenario() {
    let report = seawall_lab::run(&[], 1).unwrap();
    let get = |name: &str| {
        let s = report.scenarios.iter().find(|s| s.name == name).unwrap();
        let none = s.results.iter().find(|r| r.stack == "none").unwrap();
        none.summary.clone()
    };
    // No layer: every request reaches the upstream exactly once.
    for s in &report.scenarios {
        let none = s.results.iter().find(|r| r.stack == "none").unwrap();
        assert_eq!(none.summary.amplification, 1.0, "{}", s.name);
    }
    let steady = get("steady");
    assert!(steady.success_rate > 0.995, "{}", steady.success_rate);
    // A 10-second outage in 60 seconds fails a sixth of the requests.
    let outage = get("outage");
    assert!(
        (outage.success_rate - 5.0 / 6.0).abs() < 0.01,
        "{}",
        outage.success_rate
    );
    let heavy = get("heavy-tail");
    assert!(heavy.latency_ms.p50 < 15.0 && heavy.latency_ms.p99 > 900.0);
    // Halving capacity under load: queues fill, requests time out, goodput falls to capacity.
    let overload = get("overload");
    assert!(overload.timed_out > 1000, "{}", overload.timed_out);
    let halved = &overload.series[30];
    assert!(halved.succeeded < 1100, "{halved:?}");
}
