//! The determinism guard: a run in which a layer seeds itself from entropy is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use seawall_core::rng::Rng;
use seawall_sim::{run_deterministic, Latency, Load, Request, Upstream};
use tower::ServiceExt;

/// A stand-in for a layer with random jitter: its generator is seeded as given, or from
/// entropy when the user gave no seed (what the retry layer does by default).
fn run(seed: Option<u64>) -> Result<String, seawall_sim::Unrepeatable> {
    run_deterministic(async move {
        let upstream = Upstream::builder()
            .latency(Latency::uniform(
                Duration::from_millis(5),
                Duration::from_millis(15),
            ))
            .seed(1)
            .build()
            .unwrap();
        let mut rng = seed.map_or_else(Rng::from_entropy, Rng::from_seed);
        let jitter: Vec<Duration> = (0..100)
            .map(|_| Duration::from_micros(rng.below(5_000)))
            .collect();
        let target = upstream.clone();
        let stack = tower::service_fn(move |r: Request| {
            let up = target.clone();
            let wait = jitter[r.id as usize % jitter.len()];
            async move {
                tokio::time::sleep(wait).await;
                up.oneshot(r).await
            }
        });
        let load = Load::builder()
            .rate(200.0)
            .duration(Duration::from_secs(2))
            .build()
            .unwrap();
        let summary = load.run(&upstream, stack).await;
        assert_eq!(summary.upstream_attempts, 400);
        format!("{:?}", summary.latency_ms)
    })
}

#[test]
fn an_entropy_seeded_layer_makes_the_run_refused() {
    let a = run(Some(5)).unwrap();
    let b = run(Some(5)).unwrap();
    assert_eq!(a, b, "seeded runs repeat");
    let e = run(None).unwrap_err();
    assert_eq!(e.seedings(), 1);
    assert!(e.to_string().contains("give every layer a seed"), "{e}");
}
