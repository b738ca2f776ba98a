//! The end-to-end scenario: the facade's client standard stack calling a service that runs
//! the server standard stack, in front of an upstream that is overloaded (15–30 s) and then
//! down (35–45 s); what a user of the two services would notice, against no layer and
//! against the same shape hand-built from tower's pieces. Runs in paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall_lab::StackResult;

#[test]
fn the_standard_stacks_keep_answering_through_overload_and_outage_without_a_retry_storm() {
    let report = seawall_lab::run(&["end-to-end".to_string()], 1).unwrap();
    let s = &report.scenarios[0];
    let get = |name: &str| -> &StackResult {
        s.results
            .iter()
            .find(|r| r.stack == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let none = get("none");
    let tower = get("tower by hand (retry 2, limit 25)");
    let seawall = get("Seawall standard stacks");

    // Without layers the overload builds a queue that outlives it: callers time out.
    assert!(none.summary.timed_out > 1000, "{}", none.summary.timed_out);
    assert!(none.summary.success_latency_ms.p99 > 1000.0);
    // With the stacks nobody waits for the 2 s timeout, successes stay fast, and more
    // requests succeed.
    assert_eq!(seawall.summary.timed_out, 0);
    assert!(
        seawall.summary.success_latency_ms.p99 < 250.0,
        "{:?}",
        seawall.summary.success_latency_ms
    );
    assert!(
        seawall.summary.success_rate > none.summary.success_rate + 0.1,
        "{} vs {}",
        seawall.summary.success_rate,
        none.summary.success_rate
    );

    // Every whole second of the overload, the stacks serve what the halved upstream can
    // (at most 478 of 700 req/s); without them, almost nothing succeeds once the queue has
    // built.
    let share = |r: &StackResult, t: usize| {
        let x = r.summary.series[t];
        x.succeeded as f64 / x.sent.max(1) as f64
    };
    for t in 16..30 {
        assert!(
            share(seawall, t) > 0.55,
            "second {t}: {}",
            share(seawall, t)
        );
    }
    assert!((20..30).all(|t| share(none, t) < 0.1));

    // The outage: retries without a budget triple the load on the failing upstream in its
    // worst second; the budget and the breaker keep it at the requests' own.
    assert!(
        tower.summary.worst_second.load > 2.5,
        "{:?}",
        tower.summary.worst_second
    );
    assert!(
        seawall.summary.worst_second.load <= 1.2,
        "{:?}",
        seawall.summary.worst_second
    );

    // The client's breaker trips within a second of the outage and closes within two of its
    // end.
    let trip = seawall
        .first_after("open", Duration::from_secs(35))
        .unwrap();
    assert!(trip < 1.0, "tripped {trip} s after the outage began");
    let heal = seawall
        .first_after("closed", Duration::from_secs(45))
        .unwrap();
    assert!(heal < 2.0, "closed {heal} s after the outage ended");
}
