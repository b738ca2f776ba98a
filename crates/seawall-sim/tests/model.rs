//! The simulator against queueing theory, in paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use seawall_sim::{run_paused, Arrivals, Capacity, Latency, Load, Request, Upstream};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn half_capacity_shows_no_queueing() {
    // 10 workers × 100 req/s each = 1000 req/s capacity; offer 500 req/s.
    let (summary, stats) = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::constant(ms(10)))
            .capacity(Capacity::workers(10).queue(1000))
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(500.0)
            .duration(Duration::from_secs(20))
            .build()
            .unwrap();
        let summary = load.run(&upstream, upstream.clone()).await;
        (summary, upstream.stats())
    });
    assert_eq!(summary.requests, 10_000);
    assert_eq!(summary.succeeded, 10_000);
    assert_eq!(stats.max_queue, 0, "nothing ever waited for a worker");
    assert_eq!(
        summary.latency_ms.max, 10.0,
        "every request took exactly the service time"
    );
    assert_eq!(summary.latency_ms.p50, 10.0);
}

#[test]
fn double_capacity_queues_as_littles_law_predicts() {
    // Capacity 100 req/s (one worker, 10 ms); offer 200 req/s for 10 s with an unbounded
    // queue and no client timeout. The queue grows by 100 requests each second, so a request
    // sent at time t waits about t · (λ/μ − 1) = t.
    let rate = 200.0;
    let (summary, mean_in_system) = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::constant(ms(10)))
            .capacity(Capacity::workers(1))
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(rate)
            .duration(Duration::from_secs(10))
            .build()
            .unwrap();
        // Sample the number of requests in the system every millisecond until it drains.
        let sampler = {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut tick = tokio::time::interval(ms(1));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let n = upstream.in_system();
                    samples.push(n);
                    if n == 0 && samples.len() > 1000 {
                        return samples;
                    }
                }
            })
        };
        let summary = load.run(&upstream, upstream.clone()).await;
        let samples = sampler.await.unwrap();
        let mean = samples.iter().sum::<usize>() as f64 / samples.len() as f64;
        let elapsed = samples.len() as f64 / 1000.0;
        (summary, (mean, elapsed))
    });
    let (l_measured, span_s) = mean_in_system;
    // Little's law over the whole busy period: L = λ_eff · W.
    let lambda_eff = summary.requests as f64 / span_s;
    let w = summary.latency_ms.mean / 1000.0;
    let l_predicted = lambda_eff * w;
    let error = (l_measured - l_predicted).abs() / l_predicted;
    assert!(
        error < 0.05,
        "L measured {l_measured:.1}, λW = {lambda_eff:.1} × {w:.3} = {l_predicted:.1} ({:.1}% off)",
        error * 100.0
    );
    // And latency rises second by second as the fluid model says: 10 ms + t.
    for second in &summary.series[..10] {
        let t_mid = second.t as f64 + 0.5;
        let predicted_ms = 10.0 + t_mid * 1000.0;
        let off = (second.mean_ms - predicted_ms).abs() / predicted_ms;
        assert!(
            off < 0.05,
            "second {}: mean latency {} ms, model {} ms",
            second.t,
            second.mean_ms,
            predicted_ms
        );
    }
    assert!(summary.series[9].mean_ms > 9.0 * summary.series[1].mean_ms / 2.0);
}

#[test]
fn bounded_queue_rejects_the_excess_and_timeouts_fire() {
    let (summary, stats) = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::constant(ms(10)))
            .capacity(Capacity::workers(1).queue(5))
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(200.0)
            .duration(Duration::from_secs(5))
            .build()
            .unwrap();
        (
            load.run(&upstream, upstream.clone()).await,
            upstream.stats(),
        )
    });
    // One worker serves 100/s; the queue holds 5, so about half the requests are refused.
    assert_eq!(stats.max_queue, 5);
    assert!((490..=510).contains(&stats.succeeded), "{stats:?}");
    assert_eq!(stats.rejected + stats.succeeded, 1000);
    assert!(
        summary.latency_ms.max <= 60.0,
        "queue of 5 bounds the wait: {:?}",
        summary.latency_ms
    );

    let (summary, stats) = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::constant(ms(10)))
            .capacity(Capacity::workers(1).queue_timeout(ms(100)))
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(200.0)
            .duration(Duration::from_secs(5))
            .build()
            .unwrap();
        (
            load.run(&upstream, upstream.clone()).await,
            upstream.stats(),
        )
    });
    assert!(stats.queue_timeouts > 400, "{stats:?}");
    assert!(summary.latency_ms.max <= 110.0, "{:?}", summary.latency_ms);
}

#[test]
fn latency_mixture_puts_p50_in_the_fast_mode_and_p99_in_the_slow() {
    let summary = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::mixture([
                (0.98, Latency::uniform(ms(9), ms(11))),
                (0.02, Latency::uniform(ms(950), ms(1050))),
            ]))
            .seed(11)
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(1000.0)
            .duration(Duration::from_secs(20))
            .arrivals(Arrivals::Poisson)
            .seed(5)
            .build()
            .unwrap();
        load.run(&upstream, upstream.clone()).await
    });
    let p = summary.latency_ms;
    // tokio's timer rounds each deadline up to the next millisecond tick.
    assert!((9.0..=12.0).contains(&p.p50), "p50 {}", p.p50);
    assert!((950.0..=1052.0).contains(&p.p99), "p99 {}", p.p99);
    assert!(p.p90 <= 12.0, "p90 {}", p.p90);
}

/// A test wrapper that sends each request to the upstream twice.
#[derive(Clone)]
struct Twice<S>(S);

impl<S> Service<Request> for Twice<S>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    S::Error: Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let svc = self.0.clone();
        Box::pin(async move {
            let _ = svc.clone().oneshot(request).await;
            svc.oneshot(request).await
        })
    }
}

#[test]
fn amplification_counts_every_attempt() {
    let summary = run_paused(async {
        let upstream = Upstream::builder()
            .failure_rate(0.3)
            .seed(2)
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(123.0)
            .duration(Duration::from_secs(7))
            .arrivals(Arrivals::Poisson)
            .build()
            .unwrap();
        load.run(&upstream, Twice(upstream.clone())).await
    });
    assert!(summary.requests > 700);
    assert_eq!(summary.upstream_attempts, 2 * summary.requests);
    assert_eq!(summary.amplification, 2.0);
    let per_second: u64 = summary.series.iter().map(|s| s.upstream_attempts).sum();
    assert_eq!(per_second, summary.upstream_attempts);
}

#[test]
fn scripted_phases_change_behaviour_on_time() {
    let summary = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::constant(ms(10)))
            .at(Duration::from_secs(2), |p| {
                p.failure_rate(1.0).latency(Latency::constant(ms(1)))
            })
            .at(Duration::from_secs(4), |p| {
                p.failure_rate(0.0).latency(Latency::constant(ms(200)))
            })
            .at(Duration::from_secs(6), |p| p.capacity(Capacity::workers(1)))
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(50.0)
            .duration(Duration::from_secs(8))
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        load.run(&upstream, upstream.clone()).await
    });
    let s = &summary.series;
    assert_eq!((s[0].succeeded, s[1].succeeded), (50, 50));
    assert_eq!((s[2].failed, s[3].failed), (50, 50), "outage");
    assert_eq!(s[2].mean_ms, 1.0, "an outage that fails fast");
    assert_eq!(
        (s[4].succeeded, s[5].succeeded),
        (50, 50),
        "brownout: slow but up"
    );
    assert_eq!(s[4].mean_ms, 200.0);
    // One worker at 200 ms serves 5/s against 50/s offered: most requests time out.
    assert!(s[7].timed_out > 40, "{:?}", s[7]);
}

#[test]
fn same_seed_same_bytes_other_seed_other_numbers() {
    let run = |seed: u64| {
        run_paused(async move {
            let upstream = Upstream::builder()
                .latency(Latency::log_normal(ms(20), 1.0))
                .failure_rate(0.05)
                .capacity(Capacity::workers(30).queue(200))
                .seed(seed)
                .build()
                .unwrap();
            let load = Load::builder()
                .rate(1000.0)
                .duration(Duration::from_secs(10))
                .arrivals(Arrivals::Poisson)
                .timeout(Duration::from_millis(500))
                .seed(seed)
                .build()
                .unwrap();
            serde_json::to_string(&load.run(&upstream, upstream.clone()).await).unwrap()
        })
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn bad_configs_name_the_field() {
    run_paused(async {
        let e = Upstream::builder().failure_rate(1.5).build().unwrap_err();
        assert!(e.to_string().contains("failure_rate"), "{e}");
        let e = Upstream::builder()
            .capacity(Capacity::workers(0))
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("workers"), "{e}");
        let e = Upstream::builder()
            .at(Duration::from_secs(5), |p| p)
            .at(Duration::from_secs(1), |p| p)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("before"), "{e}");
        let e = Load::builder().rate(f64::NAN).build().unwrap_err();
        assert!(e.to_string().contains("rate"), "{e}");
        let e = Load::builder().timeout(Duration::ZERO).build().unwrap_err();
        assert!(e.to_string().contains("timeout"), "{e}");
    });
}

#[test]
fn a_minute_at_a_thousand_per_second_is_quick_in_paused_time() {
    // Not a timing assertion: this checks the run completes and counts what it should; the
    // wall-clock figure is in docs/benchmarks.md (the lab prints it).
    let summary = run_paused(async {
        let upstream = Upstream::builder()
            .latency(Latency::log_normal(ms(15), 0.5))
            .capacity(Capacity::workers(50).queue(500))
            .build()
            .unwrap();
        let load = Load::builder()
            .rate(1000.0)
            .duration(Duration::from_secs(60))
            .arrivals(Arrivals::Poisson)
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let began = Instant::now();
        let s = load.run(&upstream, upstream.clone()).await;
        assert!(began.elapsed() >= Duration::from_secs(60));
        s
    });
    assert!(
        (59_000..=61_000).contains(&summary.requests),
        "{}",
        summary.requests
    );
    assert!(summary.series.len() >= 60);
    assert!(summary.success_rate > 0.99, "{}", summary.success_rate);
}

#[test]
fn the_worst_second_shows_a_burst_the_average_hides() {
    let summary = run_paused(async {
        let upstream = Upstream::builder().build().unwrap();
        let target = upstream.clone();
        // Requests sent in second 2 go to the upstream twice.
        let stack = tower::service_fn(move |r: Request| {
            let up = target.clone();
            async move {
                if r.id / 100 == 2 {
                    let _ = up.clone().oneshot(r).await;
                }
                up.oneshot(r).await
            }
        });
        let load = Load::builder()
            .rate(100.0)
            .duration(Duration::from_secs(5))
            .build()
            .unwrap();
        load.run(&upstream, stack).await
    });
    assert_eq!(summary.amplification, 1.2);
    let worst = summary.worst_second;
    // The second attempt of the request sent at 2.99 s reaches the upstream at 3.0 s.
    assert_eq!(
        (worst.t, worst.requests, worst.upstream_attempts),
        (2, 100, 199),
        "{worst:?}"
    );
}

#[test]
fn the_worst_second_leaves_out_a_partial_last_second() {
    let summary = run_paused(async {
        let upstream = Upstream::builder().build().unwrap();
        let target = upstream.clone();
        // Requests sent in the last, partial second (from 2 s of a 2.5 s run) go to the
        // upstream three times: a ratio of 3 over a half-second's requests.
        let stack = tower::service_fn(move |r: Request| {
            let up = target.clone();
            async move {
                if r.id >= 200 {
                    let _ = up.clone().oneshot(r).await;
                    let _ = up.clone().oneshot(r).await;
                }
                up.oneshot(r).await
            }
        });
        let load = Load::builder()
            .rate(100.0)
            .duration(Duration::from_millis(2500))
            .build()
            .unwrap();
        load.run(&upstream, stack).await
    });
    let last = summary.series[2];
    assert_eq!((last.sent, last.upstream_attempts), (50, 150), "{last:?}");
    let worst = summary.worst_second;
    assert!(worst.t < 2, "picked the partial second: {worst:?}");
    assert_eq!(worst.load, 1.0, "{worst:?}");
}
