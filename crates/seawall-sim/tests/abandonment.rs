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

fn show(name: &str, s: &Summary, stats: &UpstreamStats) {
    println!(
        "{name:28} goodput {:6.1} req/s, timed out {:5}, abandoned {:5}, served {:5}",
        s.goodput_rps, s.timed_out, stats.abandoned, stats.succeeded
    );
}

#[test]
fn a_server_that_never_hears_collapses_unless_its_queue_is_bounded() {
    // Unbounded queue: after ~0.4 s every request waits more than the client's 200 ms, and
    // the server spends all its capacity on answers nobody reads.
    let (s, stats) = overload(Capacity::workers(1), Abandonment::Never);
    show("never, unbounded queue", &s, &stats);
    assert!(s.goodput_rps < 5.0, "{}", s.goodput_rps);
    assert!(
        stats.succeeded > 5900,
        "the worker was busy throughout: {stats:?}"
    );
    assert_eq!(stats.abandoned, 0);
    // A bounded queue or a queue timeout keeps every wait short: goodput is the capacity.
    for (name, capacity) in [
        ("never, queue(10)", Capacity::workers(1).queue(10)),
        (
            "never, queue_timeout(150ms)",
            Capacity::workers(1).queue_timeout(ms(150)),
        ),
    ] {
        let (s, stats) = overload(capacity, Abandonment::Never);
        show(name, &s, &stats);
        assert!(s.goodput_rps > 99.0, "{name}: {}", s.goodput_rps);
        assert_eq!(s.timed_out, 0, "{name}");
    }
}

#[test]
fn a_server_that_checks_before_serving_skips_the_abandoned_but_still_serves_late() {
    // It skips requests whose client left, so the queue stops growing; but the oldest
    // request still wanted has waited nearly 200 ms, and many of those it serves finish
    // after their client has gone.
    let (s, stats) = overload(Capacity::workers(1), Abandonment::WhenDequeued);
    show("when-dequeued, unbounded", &s, &stats);
    assert!(stats.abandoned > 2000, "{stats:?}");
    assert!(
        stats.succeeded > 5900,
        "the worker was busy throughout: {stats:?}"
    );
    assert!(
        s.goodput_rps > 20.0 && s.goodput_rps < 80.0,
        "{}",
        s.goodput_rps
    );
}

#[test]
fn a_server_that_hears_at_once_stops_the_work_and_recovers_more_goodput() {
    let (dequeued, _) = overload(Capacity::workers(1), Abandonment::WhenDequeued);
    let (s, stats) = overload(Capacity::workers(1), Abandonment::Immediately);
    show("immediately, unbounded", &s, &stats);
    // Every client that timed out was cancelled at the server, queued or in service.
    assert_eq!(stats.abandoned, s.timed_out, "{stats:?}");
    // Served requests all finished in time: nothing served is wasted.
    assert_eq!(stats.succeeded, s.succeeded, "{stats:?}");
    assert!(
        s.goodput_rps > dequeued.goodput_rps + 10.0,
        "{} vs {}",
        s.goodput_rps,
        dequeued.goodput_rps
    );
    assert!(s.goodput_rps < 100.0);
}

/// One worker at 100 ms; A is served from 0 ms, B queues behind it, C arrives at 20 ms. A's
/// client leaves at 10 ms, B's at 15 ms. Returns (whether B was served, C's wait, stats).
fn two_leave(abandonment: Abandonment) -> (bool, Duration, UpstreamStats) {
    run_paused(async move {
        let upstream = Upstream::builder()
            .latency(Latency::constant(ms(100)))
            .capacity(Capacity::workers(1))
            .abandonment(abandonment)
            .build()
            .unwrap();
        let call = |up: &Upstream| tower::ServiceExt::<()>::oneshot(up.clone(), ());
        let a = tokio::time::timeout(ms(10), call(&upstream));
        let b = tokio::time::timeout(ms(15), call(&upstream));
        let (a, b) = tokio::join!(a, b);
        assert!(a.is_err() && b.is_err(), "both clients left");
        tokio::time::sleep(ms(5)).await;
        let c = call(&upstream).await.unwrap();
        tokio::time::sleep(ms(500)).await;
        let stats = upstream.stats();
        (stats.succeeded == 3, c.queued, stats)
    })
}

#[test]
fn each_policy_frees_the_worker_when_it_says() {
    // Never: A and B are served in full; C waits for both (from 20 ms to 200 ms).
    let (b, c, stats) = two_leave(Abandonment::Never);
    assert!(b, "{stats:?}");
    assert_eq!(c, ms(180));
    assert_eq!(stats.abandoned, 0);
    // When dequeued: A runs to 100 ms, B is skipped, C starts at 100 ms.
    let (b, c, stats) = two_leave(Abandonment::WhenDequeued);
    assert!(!b);
    assert_eq!(c, ms(80));
    assert_eq!((stats.abandoned, stats.succeeded), (1, 2), "{stats:?}");
    // Immediately: A stops at 10 ms, B starts then and stops at 15 ms, C starts at once.
    let (b, c, stats) = two_leave(Abandonment::Immediately);
    assert!(!b);
    assert_eq!(c, Duration::ZERO);
    assert_eq!((stats.abandoned, stats.succeeded), (2, 1), "{stats:?}");
}
