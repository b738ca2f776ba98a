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
    assert_eq!(steady["abandonment"], "never");
    assert!(
        steady["about"]
            .as_str()
            .unwrap()
            .contains("abandonment: never"),
        "{}",
        steady["about"]
    );
    let summary = &steady["results"][0]["summary"];
    for field in [
        "requests",
        "success_rate",
        "goodput_rps",
        "latency_ms",
        "upstream_attempts",
        "amplification",
        "worst_second",
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
    assert!(text.contains("upstream load, whole run (x)"));
    assert!(text.contains("upstream load, worst second (x)"));
    assert!(text.contains("breaker: time to trip (ms)"));
}

#[test]
fn baseline_figures_match_each_scenario() {
    let report = seawall_lab::run(&[], 1).unwrap();
    let get = |name: &str| {
        let s = report.scenarios.iter().find(|s| s.name == name).unwrap();
        let none = s.results.iter().find(|r| r.stack == "none").unwrap();
        none.summary.clone()
    };
    // No layer: every request reaches the upstream exactly once. (partial-outage has no
    // "none" column: its upstream is one replica of three and its baseline is p2c alone;
    // see `stacks::balance`.)
    for s in report
        .scenarios
        .iter()
        .filter(|s| s.name != "partial-outage")
    {
        let none = s.results.iter().find(|r| r.stack == "none").unwrap();
        assert_eq!(none.summary.amplification, 1.0, "{}", s.name);
    }
    // Every scenario names what its server does when a client leaves.
    for s in &report.scenarios {
        assert!(s.about.contains("abandonment:"), "{}", s.about);
    }
    // No column's worst second is the partial second some runs end with (a few requests
    // sent at the last instant, whose retries or hedges once showed as 1.50×).
    for s in &report.scenarios {
        for r in &s.results {
            let worst = r.summary.worst_second;
            assert!(
                (worst.t as f64) + 1.0 <= r.summary.duration_s,
                "{} / {}: {worst:?}",
                s.name,
                r.stack
            );
        }
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

#[test]
fn the_worst_second_shows_what_retries_cost_the_failing_upstream() {
    let report = seawall_lab::run(&["outage".to_string()], 1).unwrap();
    let outage = &report.scenarios[0];
    let worst = |name: &str| {
        outage
            .results
            .iter()
            .find(|r| r.stack == name)
            .unwrap()
            .summary
            .worst_second
    };
    // Attempts-only retries send four attempts per request in every outage second.
    let tower = worst("tower Retry (attempts only)");
    assert!((20..30).contains(&tower.t) && tower.load > 3.9, "{tower:?}");
    // The budget's whole-run average hides its first outage second, spent from the savings
    // of the healthy seconds before it; it stays below attempts-only retries.
    let seawall = worst("Seawall retry");
    assert!((20..30).contains(&seawall.t), "{seawall:?}");
    assert!(seawall.load < tower.load, "{seawall:?}");
    // The breaker never sends more than one attempt per request.
    assert!(worst("Seawall breaker").load <= 1.0);
    assert!(worst("none").load <= 1.0);
}
