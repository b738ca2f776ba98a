//! The heavy-tail scenario's hedge columns: Seawall's defaults beside tower's `Hedge` and a
//! hand-picked fixed delay, in one lab run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn untuned_seawall_matches_the_hand_picked_delay_and_tower_misses_its_first_period() {
    let report = seawall_lab::run(&["heavy-tail".to_string()], 1).unwrap();
    let scenario = &report.scenarios[0];
    let get = |name: &str| {
        let found = scenario.results.iter().find(|r| r.stack == name);
        found.unwrap().summary.clone()
    };
    let none = get("none");
    let seawall = get("Seawall hedge (defaults)");
    let picked = get("fixed delay 12 ms (hand-picked)");
    let tower = get("tower Hedge (p95, 1000 samples, 10 s)");
    let cut = none.latency_ms.p999 / seawall.latency_ms.p999;
    assert!(cut >= 40.0, "p99.9 cut {cut:.1}×");
    assert!(seawall.latency_ms.p999 <= picked.latency_ms.p999 + 1.0);
    // The slow calls of tower's first 10 s period are never hedged.
    assert!(tower.latency_ms.p999 > 500.0, "{:?}", tower.latency_ms);
    // The extra load is the share of slow calls drawn: 2% ± 0.17% (3σ over 60,000).
    assert!(
        seawall.amplification - 1.0 <= 0.0217,
        "{}",
        seawall.amplification
    );
}
