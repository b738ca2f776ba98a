//! tokio's millisecond timer and the simulator: the latency bias it causes (stated in
//! `docs/lab.md`), and the warning for distributions the clock cannot resolve.
//! `cargo test -p seawall-sim --test resolution -- --nocapture` prints the figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{ms, recorder};
use seawall_sim::{run_paused, Arrivals, Latency, Load, Upstream};

/// (client-seen mean, true mean of the service draws, client-seen p50), in ms.
fn bias(latency: Latency) -> (f64, f64, f64) {
    run_paused(async move {
        let upstream = Upstream::builder()
            .latency(latency)
            .seed(3)
            .build()
            .unwrap();
        let (service, log) = recorder(&upstream);
        let load = Load::builder()
            .rate(1000.0)
            .duration(Duration::from_secs(60))
            .arrivals(Arrivals::Poisson)
            .seed(4)
            .build()
            .unwrap();
        let summary = load.run(&upstream, service).await;
        let log = log.lock().unwrap();
        let true_mean = log
            .iter()
            .map(|s| s.reply.unwrap().service.as_secs_f64() * 1e3)
            .sum::<f64>()
            / log.len() as f64;
        (summary.latency_ms.mean, true_mean, summary.latency_ms.p50)
    })
}

#[test]
fn continuous_latencies_read_half_a_millisecond_high_whole_milliseconds_exact() {
    let (seen, truth, p50) = bias(Latency::log_normal(ms(10), 0.5));
    println!("log-normal median 10 ms σ 0.5: client mean {seen:.3} ms, true mean {truth:.3} ms, bias {:+.3} ms, p50 {p50:.2} ms", seen - truth);
    // Each answer is seen on the first tick at or after it: on average half a tick late.
    assert!((0.4..0.6).contains(&(seen - truth)), "{seen} vs {truth}");
    assert!(p50 > 10.0 && p50 <= 11.05, "{p50}");
    let (seen, truth, _) = bias(Latency::uniform(ms(20), ms(30)));
    println!("uniform 20–30 ms: bias {:+.3} ms", seen - truth);
    assert!((0.4..0.6).contains(&(seen - truth)), "{seen} vs {truth}");
    let (seen, truth, _) = bias(Latency::constant(ms(10)));
    println!("constant 10 ms: bias {:+.3} ms", seen - truth);
    assert_eq!(seen, truth, "whole milliseconds are exact");
    let (seen, truth, _) = bias(Latency::constant(Duration::from_micros(300)));
    println!("constant 0.3 ms: client mean {seen:.3} ms");
    assert_eq!(seen, 1.0, "sub-millisecond service reads as one tick");
    assert!((truth - 0.3).abs() < 1e-9);
}

#[test]
fn distributions_the_clock_cannot_resolve_are_warned_about_or_refused() {
    run_paused(async {
        let fine = Upstream::builder()
            .latency(Latency::log_normal(ms(20), 0.5))
            .at(Duration::from_secs(1), |p| {
                p.latency(Latency::constant(ms(1)))
            })
            .build()
            .unwrap();
        assert!(fine.warnings().is_empty(), "{:?}", fine.warnings());
        let coarse = Upstream::builder()
            .at(Duration::from_secs(1), |p| {
                p.latency(Latency::uniform(ms(1), ms(4)))
            })
            .build()
            .unwrap();
        assert_eq!(coarse.warnings().len(), 1);
        assert!(
            coarse.warnings()[0].contains("phase 1"),
            "{:?}",
            coarse.warnings()
        );
        let e = Upstream::builder()
            .latency(Latency::mixture([
                (0.9, Latency::constant(ms(10))),
                (0.1, Latency::log_normal(ms(2), 0.3)),
            ]))
            .refuse_unresolved(true)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("latency: 10.0%"), "{e}");
    });
}
