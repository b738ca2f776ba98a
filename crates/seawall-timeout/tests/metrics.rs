//! The timeout's `seawall_calls_total` handles: taken once per layer application, shared by
//! every clone of the service.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use seawall_core::BoxError;
use seawall_timeout::TimeoutLayer;
use tower::{service_fn, Layer, ServiceExt};

/// Counts the counters registered with it; every counter is one shared count.
#[derive(Default)]
struct Registrations {
    registered: AtomicUsize,
    counted: Arc<AtomicU64>,
}

impl Recorder for Registrations {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        self.registered.fetch_add(1, Ordering::Relaxed);
        Counter::from_arc(Arc::clone(&self.counted))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn clones_share_the_handles_and_register_nothing() {
    let recorder = Registrations::default();
    let clones = metrics::with_local_recorder(&recorder, || {
        let service = TimeoutLayer::new(Duration::from_secs(1))
            .unwrap()
            .layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
        // axum clones the service for every request.
        (0..10).map(|_| service.clone()).collect::<Vec<_>>()
    });
    // The four outcomes of `seawall_calls_total{layer="timeout", name="total"}`, once.
    assert_eq!(recorder.registered.load(Ordering::Relaxed), 4);
    for clone in clones {
        tokio_test::block_on(clone.oneshot(7)).unwrap();
    }
    assert_eq!(recorder.counted.load(Ordering::Relaxed), 10);
}
