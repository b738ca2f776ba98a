//! Each limit's rule on scripted samples.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use seawall_shed::limit::{Aimd, Gradient2, GradientController, Limit, Sample, Vegas, Windowed};
use tokio::time::Instant;

fn sample(now: Instant, rtt_ms: u64, in_flight: usize, dropped: bool) -> Sample {
    Sample {
        now,
        rtt: Duration::from_millis(rtt_ms),
        in_flight,
        dropped,
    }
}

#[tokio::test(start_paused = true)]
async fn aimd_grows_by_one_when_busy_and_backs_off_on_a_drop_or_a_slow_sample() {
    let mut l = Aimd::builder()
        .min_limit(5)
        .initial_limit(10)
        .build()
        .unwrap();
    let now = Instant::now();
    l.update(sample(now, 10, 4, false));
    assert_eq!(l.limit(), 10, "less than half in use: no growth");
    l.update(sample(now, 10, 5, false));
    assert_eq!(l.limit(), 11);
    l.update(sample(now, 10, 5, true));
    assert_eq!(l.limit(), 9, "11 × 0.9");
    l.update(sample(now, 6_000, 5, false));
    assert_eq!(l.limit(), 8, "slower than the 5 s timeout counts as a drop");
    assert!(Aimd::builder()
        .backoff(1.0)
        .build()
        .unwrap_err()
        .message()
        .contains("backoff"));
}

#[tokio::test(start_paused = true)]
async fn vegas_grows_without_a_queue_and_shrinks_with_one() {
    let mut l = Vegas::default();
    let now = Instant::now();
    l.update(sample(now, 20, 20, false)); // the first sample sets rtt_noload
    assert_eq!(l.rtt_noload(), Some(Duration::from_millis(20)));
    l.update(sample(now, 20, 20, false));
    assert_eq!(l.limit(), 26, "no queue: + 6 × log10");
    // Twice the no-load latency: a queue of half the limit, over beta: shrink by log10.
    l.update(sample(now, 40, 26, false));
    assert_eq!(l.limit(), 25);
    l.update(sample(now, 20, 25, true));
    assert_eq!(l.limit(), 24, "a drop shrinks it");
}

#[tokio::test(start_paused = true)]
async fn gradient2_shrinks_when_latency_rises_over_its_long_average() {
    let mut l = Gradient2::builder().min_limit(5).build().unwrap();
    let now = Instant::now();
    for _ in 0..20 {
        l.update(sample(now, 20, 20, false));
    }
    let grown = l.limit();
    assert!(grown > 20, "latency steady: it grows ({grown})");
    for _ in 0..20 {
        l.update(sample(now, 80, grown, false));
    }
    assert!(
        l.limit() < grown,
        "latency 4× the average: it shrinks ({})",
        l.limit()
    );
}

#[tokio::test(start_paused = true)]
async fn envoy_measures_min_rtt_pinned_low_then_follows_the_gradient() {
    let mut l = GradientController::default();
    assert_eq!(l.limit(), 3, "pinned at min_concurrency while measuring");
    let mut now = Instant::now();
    for _ in 0..50 {
        l.update(sample(now, 20, 3, false));
    }
    assert_eq!(l.min_rtt(), Some(Duration::from_millis(20)));
    let mut last = l.limit();
    // Latency at the minimum: the gradient is 1.25, plus headroom, every 100 ms.
    for _ in 0..10 {
        now += Duration::from_millis(101);
        l.update(sample(now, 20, last, false));
        assert!(l.limit() > last, "grows while latency is at the minimum");
        last = l.limit();
    }
    // Latency three times the minimum: gradient 0.5.
    now += Duration::from_millis(101);
    l.update(sample(now, 60, last, false));
    assert!(l.limit() < last);
    // After 60 s (+ up to 10%) it measures again, pinned at 3.
    now += Duration::from_secs(67);
    l.update(sample(now, 20, 3, false));
    assert_eq!(l.limit(), 3);
}

#[tokio::test(start_paused = true)]
async fn windowed_passes_one_mean_per_window_and_drops_thin_windows() {
    let mut l = Windowed::new(Vegas::default());
    let mut now = Instant::now();
    l.update(sample(now, 20, 20, false)); // closes the empty first window
    for rtt in [10, 30].repeat(10) {
        now += Duration::from_millis(50);
        l.update(sample(now, rtt, 20, false));
    }
    now += Duration::from_millis(50);
    l.update(sample(now, 20, 20, false)); // past 1 s: the window (mean 20 ms) closes
    assert_eq!(l.get_ref().rtt_noload(), Some(Duration::from_millis(20)));
    // Only 5 samples in the next second: that window is dropped.
    for _ in 0..5 {
        now += Duration::from_millis(250);
        l.update(sample(now, 5, 20, false));
    }
    assert_eq!(l.get_ref().rtt_noload(), Some(Duration::from_millis(20)));
}
