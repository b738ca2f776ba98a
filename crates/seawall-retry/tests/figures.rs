//! The retry budget's figures in the simulator, second by second: a total outage at three
//! rates, a burst of transient errors, a steady 1% of errors, and two tiers that both retry.
//! Paused time, fixed seeds: the runs are exact. Print them with
//! `cargo test -p seawall-retry --test figures -- --nocapture --test-threads 1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::{ready, Ready};
use std::sync::Arc;
use std::time::Duration;

use seawall_core::BoxError;
use seawall_retry::{RetryBudget, RetryErrors, RetryLayer};
use seawall_sim::scenarios::Outage;
use seawall_sim::{run_paused, Arrivals, Load, Second, Summary, Upstream};
use tower::{Layer, Service, ServiceExt};

/// Healthy for 30 s, then failing every call for `length`, then healthy again; 10 ms per
/// call: the simulator's one outage upstream.
fn outage(length: Duration) -> Upstream {
    let from = Duration::from_secs(30);
    Outage::new(from, from + length).seed(1).build().unwrap()
}

fn load(rate: f64, seconds: u64) -> Load {
    Load::builder()
        .rate(rate)
        .duration(Duration::from_secs(seconds))
        .build()
        .unwrap()
}

/// The upstream as a service with `BoxError`s, as a real client's errors are.
fn boxed(
    upstream: &Upstream,
) -> impl Service<seawall_sim::Request, Response = seawall_sim::Reply, Error = BoxError, Future: Send>
       + Clone
       + Send
       + 'static {
    ServiceExt::<seawall_sim::Request>::map_err(upstream.clone(), BoxError::from)
}

/// The default layer over `budget`.
fn layer(budget: &Arc<RetryBudget>, seed: u64) -> RetryLayer {
    RetryLayer::builder()
        .budget(budget.clone())
        .seed(seed)
        .build()
        .unwrap()
}

/// Upstream attempts per request sent, in one second.
fn ratio(s: &Second) -> f64 {
    s.upstream_attempts as f64 / s.sent as f64
}

/// The worst second of `seconds` (by attempts per request) and the average over them.
fn worst_and_average(seconds: &[Second]) -> (Second, f64) {
    let worst = *seconds
        .iter()
        .max_by(|a, b| ratio(a).total_cmp(&ratio(b)))
        .unwrap();
    let attempts: u64 = seconds.iter().map(|s| s.upstream_attempts).sum();
    let sent: u64 = seconds.iter().map(|s| s.sent).sum();
    (worst, attempts as f64 / sent as f64)
}

/// The seconds from 30 s to 30 s + `length`.
fn window(summary: &Summary, length: u64) -> &[Second] {
    &summary.series[30..30 + length as usize]
}

#[test]
fn a_total_outage_is_amplified_by_the_share_in_every_second_the_first_included() {
    for rate in [100.0, 1_000.0, 5_000.0] {
        let budget = Arc::new(RetryBudget::default());
        let summary = run_paused({
            let budget = budget.clone();
            async move {
                let upstream = outage(Duration::from_secs(10));
                let service = layer(&budget, 3).layer(boxed(&upstream));
                load(rate, 45).run(&upstream, service).await
            }
        });
        let outage = window(&summary, 10);
        let (worst, average) = worst_and_average(outage);
        let per_second: Vec<_> = summary.series[29..41]
            .iter()
            .map(|s| s.upstream_attempts)
            .collect();
        println!(
            "outage at {rate} req/s: worst second {:.3}× (t = {} s: {} attempts for {} requests), \
             average over the outage {average:.3}×, whole run {:.3}×; attempts per second from \
             29 s to 40 s: {per_second:?}",
            ratio(&worst),
            worst.t,
            worst.upstream_attempts,
            worst.sent,
            summary.amplification,
        );
        for s in &summary.series {
            let bound = (1.2 * s.sent as f64 + 10.0) * 1.02;
            assert!(
                s.upstream_attempts as f64 <= bound,
                "{rate} req/s, second {}: {} attempts for {} requests (bound {bound:.0})",
                s.t,
                s.upstream_attempts,
                s.sent
            );
        }
        // The budget is spent, not merely respected: the outage's seconds retry at the cap.
        let first = &summary.series[30];
        assert!(
            first.upstream_attempts as f64 >= (1.2 * first.sent as f64 + 10.0) * 0.95,
            "{rate} req/s: the first second of the outage sent only {}",
            first.upstream_attempts
        );
        assert!(budget.refused() > 0);
    }
}

#[test]
fn a_burst_of_transient_errors_is_retried_in_full() {
    let budget = Arc::new(RetryBudget::default());
    let (summary, stats) = run_paused({
        let budget = budget.clone();
        async move {
            // Healthy for 30 s, then 30% of calls fail for 2 s.
            let upstream = Upstream::builder()
                .at(Duration::from_secs(30), |p| p.failure_rate(0.3))
                .at(Duration::from_secs(32), |p| p.failure_rate(0.0))
                .seed(1)
                .build()
                .unwrap();
            let service = layer(&budget, 4).layer(boxed(&upstream));
            let summary = load(1_000.0, 40).run(&upstream, service).await;
            (summary, upstream.stats())
        }
    });
    let burst = window(&summary, 2);
    let (worst, average) = worst_and_average(burst);
    let burst_requests: u64 = burst.iter().map(|s| s.sent).sum();
    let failed_share = summary.failed as f64 / burst_requests as f64;
    println!(
        "30% burst for 2 s at 1000 req/s: refused {}, failed {} of the burst's {burst_requests} \
         requests ({:.2}%; 0.3³ = 2.7%), worst second {:.3}× (t = {} s), burst average \
         {average:.3}×, withdrawals {}, refunds {}",
        budget.refused(),
        summary.failed,
        failed_share * 100.0,
        ratio(&worst),
        worst.t,
        budget.withdrawals(),
        budget.refunds(),
    );
    assert_eq!(budget.refused(), 0, "the budget refused a retry");
    // Every failed attempt was retried except a request's third: the failed requests are
    // exactly the failed attempts that no retry followed.
    let retries = stats.attempts - summary.requests;
    assert_eq!(summary.failed, stats.failed - retries);
    assert!((0.015..0.04).contains(&failed_share), "{failed_share}");
}

#[test]
fn one_percent_of_errors_for_a_minute_all_succeed_and_nothing_is_refused() {
    let budget = Arc::new(RetryBudget::default());
    let summary = run_paused({
        let budget = budget.clone();
        async move {
            let upstream = Upstream::builder()
                .failure_rate(0.01)
                .seed(5)
                .build()
                .unwrap();
            let load = Load::builder()
                .rate(1_000.0)
                .duration(Duration::from_secs(60))
                .arrivals(Arrivals::Poisson)
                .seed(5)
                .build()
                .unwrap();
            load.run(&upstream, layer(&budget, 5).layer(boxed(&upstream)))
                .await
        }
    });
    let (worst, _) = worst_and_average(&summary.series[..60]);
    println!(
        "1% errors for 60 s at 1000 req/s: success {:.5}, refused {}, amplification {:.4}, \
         worst second {:.3}× (t = {} s)",
        summary.success_rate,
        budget.refused(),
        summary.amplification,
        ratio(&worst),
        worst.t,
    );
    assert_eq!(summary.succeeded, summary.requests);
    assert_eq!(budget.refused(), 0, "the budget refused a retry");
}

#[test]
fn two_tiers_in_an_outage_retry_once_not_twice() {
    // client → gateway → upstream, each tier with a Seawall retry layer and its own default
    // budget. The gateway marks the failures it gives up on; the client honours the mark.
    let two_tiers = |mark: bool| {
        run_paused(async move {
            let upstream = outage(Duration::from_secs(10));
            let gateway = RetryLayer::builder()
                .policy(RetryErrors::new().mark_give_ups(mark))
                .seed(1)
                .build()
                .unwrap()
                .layer(boxed(&upstream));
            let client = RetryLayer::builder()
                .seed(2)
                .build()
                .unwrap()
                .layer(gateway);
            load(1_000.0, 45).run(&upstream, client).await
        })
    };
    let marked = two_tiers(true);
    let unmarked = two_tiers(false);
    let (worst, average) = worst_and_average(window(&marked, 10));
    let (worst_unmarked, _) = worst_and_average(window(&unmarked, 10));
    println!(
        "two tiers, outage at 1000 req/s: worst second {:.3}× (t = {} s), outage average \
         {average:.3}× with the do-not-retry mark; worst second {:.3}× without it",
        ratio(&worst),
        worst.t,
        ratio(&worst_unmarked),
    );
    for s in &marked.series {
        assert!(
            ratio(s) <= 1.3,
            "second {}: {} attempts for {} requests",
            s.t,
            s.upstream_attempts,
            s.sent
        );
    }
    assert!(
        ratio(&worst_unmarked) > ratio(&worst) + 0.15,
        "without the mark the tiers multiply"
    );
}

/// tower's `Retry` with a policy that knows only a number of attempts.
#[derive(Clone)]
struct Attempts(usize);

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for Attempts {
    type Future = Ready<()>;
    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        if result.is_err() && self.0 > 0 {
            self.0 -= 1;
            Some(ready(()))
        } else {
            None
        }
    }
    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

#[test]
fn retries_bounded_by_attempts_only_quadruple_an_outage() {
    let naive = run_paused(async {
        let upstream = outage(Duration::from_secs(10));
        let service = tower::retry::RetryLayer::new(Attempts(3)).layer(boxed(&upstream));
        load(1_000.0, 45).run(&upstream, service).await
    });
    let (worst, average) = worst_and_average(window(&naive, 10));
    println!(
        "tower attempts-only (3 retries), outage at 1000 req/s: worst second {:.3}×, outage \
         average {average:.3}×",
        ratio(&worst)
    );
    // The seconds inside the outage (at its edges, a request's retries can fall in the
    // next second).
    for s in &naive.series[31..39] {
        assert_eq!(
            ratio(s),
            4.0,
            "three retries per request: four times the load"
        );
    }
}
