//! Per-key delays: each key learns its own, within a bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_core::BoxError;
use seawall_hedge::{HedgeErrors, HedgeLayer, Policy, Verdict};
use tokio::time::Instant;
use tower::{service_fn, Layer, Service, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Requests are their key.
#[derive(Clone, Copy, Debug)]
struct ByKey;
impl Policy<u64, u64, BoxError> for ByKey {
    fn classify(&self, result: &Result<u64, BoxError>) -> Verdict {
        Policy::<u64, u64, BoxError>::classify(&HedgeErrors::new(), result)
    }
    fn clone_request(&self, request: &u64) -> Option<u64> {
        Some(*request)
    }
    fn key(&self, request: &u64) -> Option<u64> {
        Some(*request)
    }
}

/// Key 0 answers in 10 ms (every 10th call in 40 ms); key 1 in 300 ms (every 10th in
/// 1 s). Once `slow` is set, key 0's next first attempt takes 2 s.
fn upstream(
    slow: Arc<AtomicU32>,
) -> impl Service<u64, Response = u64, Error = BoxError, Future = impl Send> + Clone {
    let calls = Arc::new(AtomicU32::new(0));
    service_fn(move |key: u64| {
        let n = calls.fetch_add(1, Ordering::Relaxed);
        let stall = key == 0 && slow.swap(0, Ordering::Relaxed) == 1;
        let wait = match (key, n % 10 == 9) {
            _ if stall => 2000,
            (0, false) => 10,
            (0, true) => 40,
            (_, false) => 300,
            (_, true) => 1000,
        };
        async move {
            tokio::time::sleep(ms(wait)).await;
            Ok::<_, BoxError>(key)
        }
    })
}

/// Warms both keys up, then times a key-0 call whose first attempt stalls.
async fn stalled_call(max_keys: usize) -> Duration {
    let layer = HedgeLayer::builder()
        .min_samples(20)
        .window_samples(200)
        .unlimited_budget()
        .min_win_rate(0.0)
        .per_key(max_keys, Duration::from_secs(60))
        .policy(ByKey)
        .build()
        .unwrap();
    let slow = Arc::new(AtomicU32::new(0));
    let svc = layer.layer(upstream(slow.clone()));
    // Key 1 first, so that with room for one key it is key 1 that has its own window.
    for key in [1, 0] {
        let calls: Vec<_> = (0..40).map(|_| svc.clone().oneshot(key)).collect();
        for call in calls {
            call.await.unwrap();
        }
    }
    slow.store(1, Ordering::Relaxed);
    let started = Instant::now();
    svc.oneshot(0).await.unwrap();
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn each_key_learns_its_own_delay_within_the_bound() {
    // Key 0's own p95 is 40 ms: the stalled call is hedged then (on the 41 ms tick: the
    // delay is its histogram bucket's middle, 40.2 ms) and answers 10 ms later.
    let own = stalled_call(10).await;
    assert_eq!(own, ms(51), "hedged on key 0's own delay");
    // No room for key 0: it uses the shared delay, the p95 of both keys (1 s).
    let shared = stalled_call(1).await;
    assert!(shared >= ms(1000), "{shared:?}");
}
