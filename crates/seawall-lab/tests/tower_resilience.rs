//! tower-resilience's columns: the peers that read only tokio's clock are simulated; those
//! that read the wall clock are listed, marked "not meaningful in simulated time", and given
//! no figure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn the_outage_runs_tower_resilience_retries_and_marks_its_breaker_not_meaningful() {
    let report = seawall_lab::run(&["outage".to_string()], 1).unwrap();
    let s = &report.scenarios[0];
    let get = |name: &str| {
        s.results
            .iter()
            .find(|r| r.stack == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let plain = get("tower-resilience retry (3 attempts)");
    let aimd = get("tower-resilience retry + AIMD budget");
    // Without a budget, two retries of every failure in the outage: three times the load in
    // its worst second, as tower's own `Retry`; the AIMD budget (1,000 tokens) is spent in
    // the outage's first second, then only a success buys a retry.
    assert!(plain.summary.worst_second.load > 2.5, "{:?}", plain.summary);
    assert!(aimd.summary.worst_second.load < 2.5, "{:?}", aimd.summary);
    assert!(aimd.summary.amplification < plain.summary.amplification - 0.2);
    // Its backoff sleeps on tokio's clock: the retries of a failure wait 100 + 200 ms.
    assert!(plain.summary.latency_ms.p99 >= 300.0, "{:?}", plain.summary);

    // The peers that read the wall clock are named, with why, and never run.
    let marked: Vec<_> = s.not_simulated.iter().map(|p| p.stack).collect();
    assert_eq!(
        marked,
        [
            "tower-resilience retry + token-bucket budget",
            "tower-resilience circuit breaker"
        ]
    );
    for peer in &s.not_simulated {
        assert!(peer.why.contains("std::time::Instant"), "{peer:?}");
        assert!(s.results.iter().all(|r| r.stack != peer.stack));
    }
    let table = seawall_lab::render_table(&report);
    assert!(
        table.contains("n/m: tower-resilience circuit breaker is not meaningful in simulated time")
    );
    let header = table
        .lines()
        .find(|l| l.contains("tower-resilience circuit breaker") && !l.starts_with("n/m"))
        .unwrap();
    let requests = table.lines().find(|l| l.starts_with("requests")).unwrap();
    assert_eq!(header.len(), requests.len(), "the marked columns line up");
    assert_eq!(requests.matches("n/m").count(), 2, "{requests}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["scenarios"][0]["not_simulated"][1]["stack"],
        "tower-resilience circuit breaker"
    );
}

#[test]
fn every_overload_scenario_has_the_bulkhead_and_marks_the_adaptive_limiter() {
    let bulkhead = "tower-resilience bulkhead(25), reject when full";
    let overloads: Vec<_> = seawall_lab::scenarios()
        .into_iter()
        .filter(|s| s.stacks.iter().any(|stack| stack.name == bulkhead))
        .map(|s| s.name)
        .collect();
    assert_eq!(
        overloads,
        [
            "overload-2x",
            "overload-5x",
            "capacity-halves",
            "capacity-doubles"
        ]
    );
    for name in overloads {
        let peers = seawall_lab::wall_clock_peers(name);
        let marked: Vec<_> = peers.iter().map(|p| p.stack).collect();
        assert_eq!(marked, ["tower-resilience adaptive limiter"], "{name}");
    }
}
