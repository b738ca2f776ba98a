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

/// Records the target of every event.
#[derive(Default)]
struct Targets(std::sync::Mutex<Vec<String>>);

impl tracing::Subscriber for &'static Targets {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(event.metadata().target().to_owned());
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
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

    let targets: &'static Targets = Box::leak(Box::default());
    let layer = HedgeLayer::builder().delay(ms(20)).build().unwrap();
    {
        let _default = tracing::subscriber::set_default(targets);
        call(&layer, 1000, None).await;
    }
    let seen = targets.0.lock().unwrap().clone();
    assert_eq!(seen, ["seawall::hedge", "seawall::hedge"], "hedge, won");
}
