//! The facade's modules working together: core's vocabulary on the simulator's clock.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use seawall::core::{Classify, ErrorsAreFailures, Outcome, RollingCounter};
use seawall::sim::{run_paused, Latency, Load, Request, Upstream};
use tower::ServiceExt;

#[test]
fn a_rolling_window_on_simulated_time_sees_only_the_recent_outage() {
    let (in_window_after_outage, later, failed) = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::constant(Duration::from_millis(5)))
            .at(Duration::from_secs(10), |p| p.failure_rate(1.0))
            .at(Duration::from_secs(15), |p| p.failure_rate(0.0))
            .build()
            .unwrap();
        let failures = Arc::new(RollingCounter::new(Duration::from_secs(10), 100).unwrap());
        // Count each result the way a breaker would: classify it, count the failures.
        let counted = {
            let failures = failures.clone();
            ServiceExt::<Request>::map_result(upstream.clone(), move |result| {
                if ErrorsAreFailures.classify(&result) == Outcome::Failure {
                    failures.add(1);
                }
                result
            })
        };
        let load = Load::builder()
            .rate(100.0)
            .duration(Duration::from_secs(20))
            .build()
            .unwrap();
        let summary = load.run(&upstream, counted).await;
        // The run ends at 20 s: the window (10 s..20 s) holds the whole 5-second outage.
        let in_window = failures.sum();
        tokio::time::advance(Duration::from_secs(6)).await;
        (in_window, failures.sum(), summary.failed)
    });
    assert_eq!(failed, 500, "five seconds of outage at 100 req/s");
    assert_eq!(in_window_after_outage, 500);
    assert_eq!(later, 0, "the outage has left the window");
}
