//! The brownout scenario: errors from 1% to 20% and a tenth of the calls slow, from 20 s to
//! 40 s. What a breaker does there, with and without a slow-call rate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

#[test]
fn only_a_slow_call_rate_trips_in_a_brownout_and_it_trades_successes_for_latency() {
    let report = seawall_lab::run(&["brownout".to_string()], 1).unwrap();
    let s = &report.scenarios[0];
    let get = |name: &str| s.results.iter().find(|r| r.stack == name).unwrap();
    let none = get("none");
    let defaults = get("Seawall breaker (defaults)");
    let slow = get("Seawall breaker + slow calls (≥250 ms, 5%)");

    // Without a breaker the queue builds behind the slow calls: clients time out.
    assert!(none.summary.timed_out > 100, "{:?}", none.summary.timed_out);
    assert!(none.summary.latency_ms.p99 >= 1900.0);

    // Errors never reach half of the calls nor 20 in a row: the default breaker never
    // trips, and the run is the same as without it.
    assert!(defaults.breaker.is_empty(), "{:?}", defaults.breaker);
    assert_eq!(defaults.summary, none.summary);

    // The slow-call rate trips within about a second of the brownout's start, and closes
    // within a few seconds of its end.
    let trip = slow.first_after("open", Duration::from_secs(20)).unwrap();
    assert!(trip < 2.0, "tripped {trip} s after the start");
    let heal = slow.first_after("closed", Duration::from_secs(40)).unwrap();
    assert!(heal < 5.0, "closed {heal} s after the end");
    // No request waits for its timeout, and the tail falls under the slow calls' second…
    assert_eq!(slow.summary.timed_out, 0);
    assert!(slow.summary.latency_ms.p99 < 1100.0);
    // …at the cost of the calls refused while open: fewer successes than no breaker.
    assert!(slow.summary.success_rate < none.summary.success_rate - 0.1);
    assert!(slow.summary.upstream_attempts < none.summary.upstream_attempts);
}
