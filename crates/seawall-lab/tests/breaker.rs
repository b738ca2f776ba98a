//! The circuit breaker's figures in the lab's outage scenario, read from the per-second
//! series of its column: upstream load while open, latency of rejected calls, time to trip
//! and time to recover. `cargo test -p seawall-lab --test breaker -- --nocapture` prints
//! them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall_sim::Second;

#[test]
fn the_breaker_cuts_the_outage_off_the_upstream_and_recovers() {
    let report = seawall_lab::run(&["outage".to_string()], 1).unwrap();
    let outage = &report.scenarios[0];
    let column = |name: &str| {
        &outage
            .results
            .iter()
            .find(|r| r.stack == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .summary
    };
    let none = column("none");
    let breaker = column("Seawall breaker");
    let seconds = |s: &[Second], from: usize, to: usize| s[from..to].to_vec();

    // The outage runs from 20 s to 30 s. In its first second the breaker lets through only
    // the failures it needs to trip (20 in a row at ~1000 req/s: a few tens of ms).
    let first = breaker.series[20];
    let trip_ms = first.upstream_attempts as f64 / first.sent as f64 * 1000.0;
    assert!(first.upstream_attempts < 50, "{first:?}");

    // While open the upstream sees only the probes.
    let open = seconds(&breaker.series, 21, 30);
    let open_load: u64 = open.iter().map(|s| s.upstream_attempts).sum();
    let none_load: u64 = seconds(&none.series, 21, 30)
        .iter()
        .map(|s| s.upstream_attempts)
        .sum();
    assert!(open_load <= 10, "upstream calls while open: {open_load}");
    // Rejected calls come back at once (the series' floor is 1 µs).
    let rejected_mean_ms = open.iter().map(|s| s.mean_ms).fold(0.0, f64::max);
    assert!(rejected_mean_ms < 0.01, "{rejected_mean_ms}");

    // After the heal at 30 s it closes within the open period then in force (5 s doubled
    // once to 10 s, less jitter) plus the probes.
    let recovered = (30..breaker.series.len())
        .find(|&t| breaker.series[t].succeeded > 0)
        .unwrap();
    let full = (30..breaker.series.len())
        .find(|&t| {
            let s = breaker.series[t];
            s.succeeded == s.sent
        })
        .unwrap();
    assert!(
        recovered <= 40,
        "first success after the heal in second {recovered}"
    );
    // The lab's transition record says the same, to the millisecond.
    let column = outage
        .results
        .iter()
        .find(|r| r.stack == "Seawall breaker")
        .unwrap();
    let tripped = column.first_after("open", Duration::from_secs(20)).unwrap();
    assert!(tripped < 0.05, "tripped {tripped} s into the outage");
    let closed = column
        .first_after("closed", Duration::from_secs(30))
        .unwrap();
    assert!(closed <= 10.0, "closed {closed} s after the heal");
    assert_eq!(
        recovered,
        30 + closed as usize,
        "first success in the second it closed"
    );

    println!(
        "time to trip: {:.0} ms ({} upstream calls in second 20, ~{trip_ms:.0} ms of traffic)",
        tripped * 1000.0,
        first.upstream_attempts
    );
    println!("closed {closed:.2} s after the heal");
    println!("upstream calls while open (21-29 s): {open_load} (none: {none_load})");
    println!("mean latency of rejected calls: {rejected_mean_ms:.3} ms (none: the upstream's 1 ms failures)");
    println!(
        "first success after the heal: second {recovered}; all calls succeed from second {full}"
    );
    println!(
        "failed calls: breaker {} (outage {} + open after heal), none {}",
        breaker.failed,
        seconds(&breaker.series, 20, 30)
            .iter()
            .map(|s| s.failed)
            .sum::<u64>(),
        none.failed
    );
}
