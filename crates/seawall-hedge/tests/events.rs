//! The hedge says what it did: tracing events on the target `seawall::hedge`, one per hedge
//! sent, won, lost and cancelled, with the layer's name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_core::BoxError;
use seawall_hedge::HedgeLayer;
use seawall_sim::EventLog;
use tower::{service_fn, Layer, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Attempt 0 of each request takes `first` ms; any other 10 ms.
async fn call(layer: &HedgeLayer, first: u64, drop_after: Option<u64>) {
    let calls = Arc::new(AtomicU32::new(0));
    let upstream = service_fn(move |()| {
        let n = calls.fetch_add(1, Ordering::Relaxed);
        async move {
            tokio::time::sleep(ms(if n == 0 { first } else { 10 })).await;
            Ok::<_, BoxError>(n)
        }
    });
    let call = layer.layer(upstream).oneshot(());
    match drop_after {
        Some(after) => {
            let _ = tokio::time::timeout(ms(after), call).await;
        }
        None => {
            call.await.unwrap();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn each_hedge_sent_won_lost_and_cancelled_is_an_event() {
    let layer = HedgeLayer::builder()
        .delay(ms(20))
        .unlimited_budget()
        .name("catalog")
        .build()
        .unwrap();
    let log = EventLog::new();
    {
        let _recording = log.install();
        call(&layer, 1000, None).await; // a hedge sent, and it wins
        call(&layer, 25, None).await; // a hedge sent, and it loses to the first attempt
        call(&layer, 1000, Some(25)).await; // a hedge sent, then the caller gives up
        call(&layer, 5, None).await; // answered before the delay: nothing
    }
    let count = |event: &str| log.count("hedge", event);
    assert_eq!(count("hedge"), 3);
    assert_eq!(count("won"), 1);
    assert_eq!(count("lost"), 1);
    assert_eq!(count("cancelled"), 1);
    assert_eq!(
        log.events().len(),
        6,
        "nothing else, and nothing on the fast path"
    );
    assert!(log.events().iter().all(|e| e.name == "catalog"));

    let log = EventLog::new();
    let layer = HedgeLayer::builder().delay(ms(20)).build().unwrap();
    {
        let _recording = log.install();
        call(&layer, 1000, None).await;
    }
    let targets: Vec<_> = log.events().into_iter().map(|e| e.target).collect();
    assert_eq!(targets, ["seawall::hedge", "seawall::hedge"], "hedge, won");
}
