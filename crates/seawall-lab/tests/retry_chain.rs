//! The retry-chain scenario: client → gateway → upstream, both tiers retrying through an
//! outage, with and without Seawall's pushback (the "do not retry" mark).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn pushback_keeps_a_two_tier_retry_chain_to_one_tier_of_retries() {
    let report = seawall_lab::run(&["retry-chain".to_string()], 1).unwrap();
    let s = &report.scenarios[0];
    let worst = |name: &str| {
        s.results
            .iter()
            .find(|r| r.stack == name)
            .unwrap()
            .summary
            .worst_second
    };
    // Three retries at each of two tiers: 16 attempts per request while the upstream is down.
    assert!(worst("tower Retry × 2 tiers").load > 15.0);
    // Two budgets stack up without the mark; with it, only the gateway retries, and the
    // worst second is what one tier's budget allows (1.2× + 10/s).
    let unmarked = worst("Seawall retry × 2 tiers");
    let marked = worst("Seawall retry × 2 + pushback");
    assert!((20..30).contains(&marked.t), "{marked:?}");
    assert!(marked.load < 1.25, "{marked:?}");
    assert!(
        unmarked.load > marked.load + 0.15,
        "{unmarked:?} vs {marked:?}"
    );
}
