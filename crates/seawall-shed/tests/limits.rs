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
        .latency_tolerance(None)
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
async fn aimd_backs_off_on_latency_over_the_lowest_and_measures_it_again_when_stale() {
    let mut l = Aimd::builder()
        .min_limit(10)
        .initial_limit(12)
        .build()
        .unwrap();
    assert_eq!(l.sample_window(), Duration::from_millis(100));
    let now = Instant::now();
    l.update(sample(now, 20, 12, false));
    assert_eq!(l.lowest_latency(), Some(Duration::from_millis(20)));
    assert_eq!(l.limit(), 13);
    l.update(sample(now, 30, 13, false));
    assert_eq!(l.limit(), 14, "1.5× the lowest is still fine");
    l.update(sample(now, 31, 14, false));
    assert_eq!(l.limit(), 12, "over 1.5× the lowest: 14 × 0.9");
    // The service got slower for good: at the minimum limit and still slow, the lowest
    // latency is taken again after five windows, and the limit grows from there.
    for _ in 0..6 {
        l.update(sample(now, 45, 12, false));
    }
    assert_eq!(l.limit(), 10);
    assert_eq!(l.lowest_latency(), Some(Duration::from_millis(45)));
    l.update(sample(now, 45, 10, false));
    assert_eq!(l.limit(), 11, "45 ms is the new normal");
    assert!(Aimd::builder()
        .latency_tolerance(Some(0.5))
        .build()
        .unwrap_err()
        .message()
        .contains("latency_tolerance"));
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

/// A `Gradient2` from `initial` (bounds 20..=1000) that has measured its long average at
/// 20 ms.
fn gradient2_warmed(initial: usize, sqrt_growth: bool) -> Gradient2 {
    let mut l = Gradient2::builder()
        .initial_limit(initial)
        .max_limit(1000)
        .sqrt_growth(sqrt_growth)
        .build()
        .unwrap();
    let now = Instant::now();
    for _ in 0..10 {
        l.update(sample(now, 20, initial, false));
    }
    l
}

#[tokio::test(start_paused = true)]
async fn gradient2_holds_its_limit_while_it_first_measures_the_long_average() {
    let mut l = gradient2_warmed(100, true);
    assert_eq!(l.limit(), 100, "the first 10 windows only measure latency");
    l.update(sample(Instant::now(), 20, 100, false));
    assert!(l.limit() > 100, "then it grows ({})", l.limit());
}

#[tokio::test(start_paused = true)]
async fn gradient2_grows_by_sqrt_limit_until_a_queue_shows_then_by_its_queue_size() {
    let now = Instant::now();
    // No queue (latency at the long average): + smoothing × √100 = 2 a window.
    let mut l = gradient2_warmed(100, true);
    for _ in 0..5 {
        l.update(sample(now, 20, 100, false));
    }
    assert_eq!(
        l.limit(),
        110,
        "five windows of +2 and a little more (√L grows)"
    );
    // A queue shows (latency 30% over the average, within the tolerance of 1.5): + 0.8.
    let mut l = gradient2_warmed(100, true);
    for _ in 0..5 {
        l.update(sample(now, 26, 100, false));
    }
    assert_eq!(l.limit(), 104, "five windows of +0.8");
    // Netflix's rule: + queue size × smoothing = 0.8 a window either way.
    let mut l = gradient2_warmed(100, false);
    for _ in 0..5 {
        l.update(sample(now, 20, 100, false));
    }
    assert_eq!(l.limit(), 104);
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

/// Feeds `l` a 20 ms sample every 100 ms from `now` until it pins its limit to measure the
/// minimum RTT again; returns how long that took.
fn until_pinned(l: &mut GradientController, mut now: Instant) -> Duration {
    let start = now;
    now += Duration::from_millis(100);
    l.update(sample(now, 20, l.limit(), false));
    assert!(l.limit() > 3, "grows from its minimum");
    while l.limit() != 3 {
        now += Duration::from_millis(100);
        l.update(sample(now, 20, l.limit(), false));
        assert!(
            now - start < Duration::from_secs(120),
            "never measured again"
        );
    }
    now - start
}

#[tokio::test(start_paused = true)]
async fn envoy_measures_min_rtt_again_every_interval_with_jitter_and_restores_the_limit() {
    let mut intervals = Vec::new();
    for seed in 0..8 {
        let mut l = GradientController::builder().seed(seed).build().unwrap();
        let mut now = Instant::now();
        for _ in 0..50 {
            l.update(sample(now, 20, 3, false));
        }
        let after = until_pinned(&mut l, now);
        now += after;
        intervals.push(after);
        // Requests admitted before the pin waited behind the old limit: not counted.
        for _ in 0..60 {
            l.update(sample(now + Duration::from_millis(10), 80, 3, false));
        }
        assert_eq!(l.limit(), 3, "still measuring");
        // While measuring, the limit stays pinned; after 50 samples it is restored.
        now += Duration::from_millis(31);
        for _ in 0..49 {
            l.update(sample(now, 30, 3, false));
            assert_eq!(l.limit(), 3, "pinned while measuring");
        }
        l.update(sample(now, 30, 3, false));
        assert_eq!(l.min_rtt(), Some(Duration::from_millis(30)));
        assert!(l.limit() > 3, "the limit goes back to what it was");
    }
    // Every 60 s plus up to 10%, and not the same for every seed.
    for after in &intervals {
        assert!(
            (Duration::from_secs(60)..=Duration::from_millis(66_100)).contains(after),
            "{after:?}"
        );
    }
    assert!(
        intervals.iter().any(|i| *i != intervals[0]),
        "{intervals:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn envoy_measures_min_rtt_again_when_the_limit_sits_at_its_minimum() {
    let mut l = GradientController::default();
    let mut now = Instant::now();
    for _ in 0..50 {
        l.update(sample(now, 20, 3, false));
    }
    // The service is now four times slower: the gradient is 0.5 every update and the limit
    // falls to 3; after five updates there it measures again, well before the 60 s.
    for _ in 0..40 {
        now += Duration::from_millis(101);
        l.update(sample(now, 80, l.limit(), false));
    }
    assert!(now.elapsed() < Duration::from_secs(5));
    for _ in 0..50 {
        l.update(sample(now, 80, 3, false));
    }
    assert_eq!(l.min_rtt(), Some(Duration::from_millis(80)));
    now += Duration::from_millis(101);
    l.update(sample(now, 80, 3, false));
    assert!(l.limit() > 3, "grows again against the new minimum");
}
