//! What a server does when its client has gone: goodput at 150 req/s offered on 100 req/s of
//! capacity with a 200 ms client timeout, under each abandonment policy, beside the
//! no-shedding baselines with an unbounded queue, a bounded queue and a queue timeout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::ms;
use seawall_sim::{
    run_paused, Abandonment, Arrivals, Capacity, Latency, Load, Summary, Upstream, UpstreamStats,
};

fn overload(capacity: Capacity, abandonment: Abandonment) -> (Summary, UpstreamStats) {
    run_paused(async move {
        // One worker at 10 ms: 100 req/s of capacity.
        let upstream = Upstream::builder()
            .latency(Latency::constant(ms(10)))
            .capacity(capacity)
            .abandonment(abandonment)
            .seed(1)
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(150.0)
            .duration(Duration::from_secs(60))
            .arrivals(Arrivals::Poisson)
            .timeout(ms(200))
            .seed(2)
            .build()
            .unwrap();
        let summary = load.run(&upstream, upstream.clone()).await;
        (summary, upstream.stats())
    })
}

#[test]
fn goodput_under_each_abandonment_policy() {
    let unbounded = Capacity::workers(1);
    let cases = [
        ("never, unbounded queue", unbounded.clone(), Abandonment::Never),
        ("never, queue(10)", unbounded.clone().queue(10), Abandonment::Never),
        (
            "never, queue_timeout(150ms)",
            unbounded.clone().queue_timeout(ms(150)),
            Abandonment::Never,
        ),
        ("when-dequeued, unbounded", unbounded.clone(), Abandonment::WhenDequeued),
        ("immediately, unbounded", unbounded.clone(), Abandonment::Immediately),
    ];
    for (name, capacity, abandonment) in cases {
        let (s, stats) = overload(capacity, abandonment);
        println!(
            "{name:32} goodput {:6.1} req/s, p99 {:6.1} ms, timed out {:5}, abandoned {:5}, served {:5}",
            s.goodput_rps, s.latency_ms.p99, s.timed_out, stats.abandoned, stats.succeeded
        );
    }
}
