//! The lab's partial-outage scenario: three replicas behind p2c, one failing for 20 s. A
//! breaker per endpoint keeps the client's success above 99.5% and the failing replica's
//! traffic under 2% after the outage's first second; p2c alone sends it most of the load.
//! `cargo test -p seawall-lab --test balance -- --nocapture` prints the figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seawall_sim::Summary;

fn outage_success(s: &Summary) -> f64 {
    let (sent, ok) = s.series[10..30]
        .iter()
        .fold((0, 0), |(n, k), s| (n + s.sent, k + s.succeeded));
    ok as f64 / sent as f64
}

#[test]
fn endpoint_breakers_route_around_the_failing_replica() {
    let report = seawall_lab::run(&["partial-outage".to_string()], 1).unwrap();
    let scenario = &report.scenarios[0];
    let column = |name: &str| {
        &scenario
            .results
            .iter()
            .find(|r| r.stack == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .summary
    };
    let p2c = column("p2c");
    let guarded = column("p2c + endpoint breakers");
    let (a, b) = (outage_success(guarded), outage_success(p2c));
    // Upstream attempts are the failing replica's (see the lab's `stacks::balance`).
    let most = guarded.series[11..30]
        .iter()
        .map(|s| s.upstream_attempts as f64 / s.sent as f64)
        .fold(0.0, f64::max);
    println!(
        "success during the outage: {:.2}% with endpoint breakers, {:.2}% with p2c alone; \
         most sent to the failing replica in a second after the first: {:.2}%",
        100.0 * a,
        100.0 * b,
        100.0 * most
    );
    assert!(a >= 0.995, "{a}");
    assert!(most < 0.02, "{most}");
    assert!(b < 0.9, "{b}");
}
