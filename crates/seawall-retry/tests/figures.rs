//! The retry layer's figures in the simulator: amplification under an outage, across two
//! tiers, and under transient faults. Paused time, fixed seeds: the runs are exact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::{ready, Ready};
use std::sync::Arc;
use std::time::Duration;

use seawall_core::BoxError;
use seawall_retry::{RetryBudget, RetryErrors, RetryLayer};
use seawall_sim::{run_paused, Arrivals, Load, Summary, Upstream};
use tower::{Layer, Service, ServiceExt};

const RATE: f64 = 1000.0;

fn failing_upstream() -> Upstream {
    Upstream::builder()
        .failure_rate(1.0)
        .seed(1)
        .build()
        .unwrap()
}

fn load() -> Load {
    Load::builder()
        .rate(RATE)
        .duration(Duration::from_secs(10))
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

fn budget(percent: f64) -> Arc<RetryBudget> {
    Arc::new(
        RetryBudget::builder()
            .percent_can_retry(percent)
            .build()
            .unwrap(),
    )
}

/// Checks every full second after the first against `bound × sent`.
fn assert_per_second(summary: &Summary, bound: f64, what: &str) {
    for s in &summary.series[1..10] {
        let ratio = s.upstream_attempts as f64 / s.sent as f64;
        assert!(
            ratio <= bound,
            "{what}: second {} sent {} and the upstream saw {} ({ratio:.3}×, bound {bound:.3}×)",
            s.t,
            s.sent,
            s.upstream_attempts
        );
    }
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
fn an_outage_is_amplified_by_at_most_the_budget_and_naive_retries_by_four() {
    for percent in [0.2, 0.1] {
        let summary = run_paused(async {
            let upstream = failing_upstream();
            let layer = RetryLayer::builder()
                .budget(budget(percent))
                .seed(3)
                .build()
                .unwrap();
            load().run(&upstream, layer.layer(boxed(&upstream))).await
        });
        // 1 + percent + floor / rate: 1.21× at 20%, 1.11× at 10%.
        let bound = 1.0 + percent + 10.0 / RATE;
        assert_per_second(&summary, bound, &format!("seawall at {percent}"));
        assert_eq!(summary.success_rate, 0.0);
        let per_second: Vec<_> = summary.series[1..10]
            .iter()
            .map(|s| s.upstream_attempts)
            .collect();
        println!(
            "seawall {percent}: amplification {:.3}, per second {per_second:?}",
            summary.amplification
        );
        // The budget is spent, not merely respected: retries run at the allowed rate.
        assert!(
            summary.amplification > 1.0 + percent,
            "{}",
            summary.amplification
        );
        assert!(
            summary.amplification < bound + 0.01,
            "{}",
            summary.amplification
        );
    }

    let naive = run_paused(async {
        let upstream = failing_upstream();
        let service = tower::retry::RetryLayer::new(Attempts(3)).layer(boxed(&upstream));
        load().run(&upstream, service).await
    });
    println!(
        "tower attempts-only: amplification {:.3}",
        naive.amplification
    );
    assert_eq!(
        naive.amplification, 4.0,
        "three retries per request: four times the load"
    );
}

#[test]
fn two_tiers_in_an_outage_retry_once_not_twice() {
    // client → gateway → upstream, each tier with a Seawall retry layer and its own budget.
    // The gateway marks the failures it gives up on; the client honours the mark.
    let two_tiers = |mark: bool| {
        run_paused(async move {
            let upstream = failing_upstream();
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
            load().run(&upstream, client).await
        })
    };
    let marked = two_tiers(true);
    let unmarked = two_tiers(false);
    println!(
        "two tiers: {:.3}× with the do-not-retry mark, {:.3}× without",
        marked.amplification, unmarked.amplification
    );
    assert!(marked.amplification <= 1.3, "{}", marked.amplification);
    assert_per_second(&marked, 1.21, "two tiers");
    assert!(
        unmarked.amplification > marked.amplification + 0.15,
        "without the mark the tiers multiply: {} vs {}",
        unmarked.amplification,
        marked.amplification
    );
}

#[test]
fn transient_faults_are_retried_and_the_budget_never_runs_dry() {
    let budget = budget(0.2);
    let summary = run_paused({
        let budget = budget.clone();
        async move {
            let upstream = Upstream::builder()
                .failure_rate(0.01)
                .seed(5)
                .build()
                .unwrap();
            let layer = RetryLayer::builder()
                .budget(budget)
                .seed(5)
                .build()
                .unwrap();
            let load = Load::builder()
                .rate(RATE)
                .duration(Duration::from_secs(60))
                .arrivals(Arrivals::Poisson)
                .seed(5)
                .build()
                .unwrap();
            load.run(&upstream, layer.layer(boxed(&upstream))).await
        }
    });
    println!(
        "1% faults: success {:.5}, amplification {:.4}, refused {}",
        summary.success_rate,
        summary.amplification,
        budget.refused()
    );
    assert!(summary.success_rate >= 0.999, "{}", summary.success_rate);
    assert_eq!(budget.refused(), 0, "the budget ran dry");
    assert!(summary.amplification < 1.02, "{}", summary.amplification);
}
