//! Scripted capacity changes act on the queue at once: FIFO order, served by the workers that
//! exist when a request is dequeued, with its service time drawn when service starts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{ms, recorder, Seen};
use seawall_sim::{run_paused, Capacity, Latency, Load, Upstream};
use tower::{Service, ServiceExt};

fn run(upstream: impl FnOnce() -> Upstream, rate: f64, seconds: u64) -> (Vec<Seen>, Upstream) {
    run_paused(async move {
        let upstream = upstream();
        let (service, log) = recorder(&upstream);
        let load = Load::builder()
            .rate(rate)
            .duration(Duration::from_secs(seconds))
            .build()
            .unwrap();
        load.run(&upstream, service).await;
        let mut seen = log.lock().unwrap().clone();
        seen.sort_by_key(|s| s.id);
        (seen, upstream)
    })
}

#[test]
fn a_capacity_step_drains_the_backlog_at_once_in_fifo_order() {
    // One worker at 10 ms (100 req/s) under 200 req/s: a backlog of ~500 builds for 5 s.
    // At 5 s, ten workers (1,000 req/s) drain it in ~0.5 s.
    let (seen, upstream) = run(
        || {
            Upstream::builder()
                .latency(Latency::constant(ms(10)))
                .capacity(Capacity::workers(1))
                .at(Duration::from_secs(5), |p| {
                    p.capacity(Capacity::workers(10))
                })
                .build()
                .unwrap()
        },
        200.0,
        8,
    );
    let origin = upstream.origin();
    let step = origin + Duration::from_secs(5);
    let before: Vec<&Seen> = seen.iter().filter(|s| s.sent < step).collect();
    assert_eq!(before.len(), 1000);
    let backlog_done = before.iter().map(|s| s.done).max().unwrap();
    assert!(
        backlog_done - step <= ms(600),
        "the backlog took {:?} after the step to drain",
        backlog_done - step
    );
    // The request sent at 4,995 ms is served within the drain, not at 10 s.
    let last = before.last().unwrap();
    assert_eq!(last.sent - origin, ms(4995));
    assert!(last.done - origin < ms(5600), "{:?}", last.done - origin);
    // FIFO: service starts in arrival order.
    let starts: Vec<_> = seen
        .iter()
        .map(|s| s.sent + s.reply.unwrap().queued)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "out of FIFO order");
    // Requests that arrive after the step queue behind the backlog, then stop waiting.
    let after_step = seen.iter().find(|s| s.sent >= step).unwrap();
    assert!(after_step.reply.unwrap().queued > ms(400), "{after_step:?}");
    let late = seen
        .iter()
        .filter(|s| s.sent >= origin + ms(5700))
        .all(|s| s.reply.unwrap().queued.is_zero());
    assert!(late, "the queue is empty from 5.7 s");
}

#[test]
fn removed_workers_take_no_new_work() {
    // Ten workers at 100 ms (100 req/s), then one from 2 s, under 150 req/s: a queue has
    // built by the step. After it, the upstream never serves more than one request at a time
    // once the work in progress at the step is done (100 ms).
    let (seen, _) = run(
        || {
            Upstream::builder()
                .latency(Latency::constant(ms(100)))
                .capacity(Capacity::workers(10))
                .at(Duration::from_secs(2), |p| p.capacity(Capacity::workers(1)))
                .build()
                .unwrap()
        },
        150.0,
        4,
    );
    let origin = seen[0].sent;
    let intervals: Vec<_> = seen
        .iter()
        .map(|s| {
            let r = s.reply.unwrap();
            let start = s.sent + r.queued;
            (start, start + r.service)
        })
        .collect();
    let mut checked = 0;
    for t in (2100..10_000).step_by(5).map(|m| origin + ms(m)) {
        let busy = intervals.iter().filter(|(a, b)| *a <= t && t < *b).count();
        assert!(busy <= 1, "{busy} requests in service at {:?}", t - origin);
        checked += 1;
    }
    assert!(checked > 1500);
}

#[test]
fn latency_is_drawn_from_the_phase_in_force_when_service_starts() {
    // One worker; latency 10 ms, then 50 ms from 1 s. Requests queued before 1 s but started
    // after it take 50 ms.
    let (seen, upstream) = run(
        || {
            Upstream::builder()
                .latency(Latency::constant(ms(10)))
                .capacity(Capacity::workers(1))
                .at(Duration::from_secs(1), |p| {
                    p.latency(Latency::constant(ms(50)))
                })
                .build()
                .unwrap()
        },
        150.0,
        2,
    );
    let change = upstream.origin() + Duration::from_secs(1);
    let mut queued_across = 0;
    for s in &seen {
        let r = s.reply.unwrap();
        let start = s.sent + r.queued;
        let expected = if start < change { ms(10) } else { ms(50) };
        assert_eq!(r.service, expected, "{s:?}");
        if s.sent < change && start >= change {
            queued_across += 1;
        }
    }
    assert!(queued_across > 10, "{queued_across}");
}

#[test]
fn a_request_reaches_the_upstream_when_first_polled_and_counts_when_done() {
    run_paused(async {
        let mut upstream = Upstream::builder()
            .latency(Latency::constant(ms(10)))
            .capacity(Capacity::workers(1))
            .build()
            .unwrap();
        // Called but never polled: the upstream never hears of it.
        let unpolled = Service::<()>::call(&mut upstream, ());
        drop(unpolled);
        assert_eq!(upstream.stats().attempts, 0);
        let started = tokio::time::Instant::now();
        let pending = tokio::spawn(upstream.clone().oneshot(()));
        tokio::time::sleep(ms(5)).await;
        let mid = upstream.stats();
        assert_eq!(
            (mid.attempts, mid.succeeded),
            (1, 0),
            "in flight, not yet counted"
        );
        pending.await.unwrap().unwrap();
        assert_eq!(
            started.elapsed(),
            ms(10),
            "nothing ahead of it in the queue"
        );
        assert_eq!(upstream.stats().succeeded, 1);
    });
}
