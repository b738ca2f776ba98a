//! The shedder's own metrics: the limit gauge moves with the limit, not with every call.
#![cfg(feature = "metrics")]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};
use seawall_core::BoxError;
use seawall_shed::limit::Aimd;
use seawall_shed::ShedLayer;
use tower::{service_fn, Layer, ServiceExt};

/// Every value set on `seawall_shed_limit`, and the admitted count.
#[derive(Default)]
struct Seen {
    limits: Mutex<Vec<f64>>,
    admitted: Mutex<u64>,
}

struct Handle(Arc<Seen>);

impl GaugeFn for Handle {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        self.0.limits.lock().unwrap().push(value);
    }
}

impl CounterFn for Handle {
    fn increment(&self, n: u64) {
        *self.0.admitted.lock().unwrap() += n;
    }
    fn absolute(&self, _: u64) {}
}

struct Record(Arc<Seen>);

impl Recorder for Record {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        if key.name() == "seawall_shed_admitted_total" {
            Counter::from_arc(Arc::new(Handle(self.0.clone())))
        } else {
            Counter::noop()
        }
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        if key.name() == "seawall_shed_limit" {
            Gauge::from_arc(Arc::new(Handle(self.0.clone())))
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn the_limit_gauge_is_set_when_built_and_when_the_limit_changes_only() {
    let seen = Arc::new(Seen::default());
    let record = Record(seen.clone());
    metrics::with_local_recorder(&record, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(async {
                let aimd = Aimd::builder()
                    .min_limit(1)
                    .initial_limit(10)
                    // Every request's sample goes to the limit at once.
                    .window(std::time::Duration::ZERO)
                    .build()
                    .unwrap();
                let layer = ShedLayer::builder().limit(aimd).build().unwrap();
                assert_eq!(*seen.limits.lock().unwrap(), [10.0], "set when built");

                let ok = layer.layer(service_fn(|_: u32| async { Ok::<u32, BoxError>(1) }));
                for i in 0..3 {
                    ok.clone().oneshot(i).await.unwrap();
                }
                // One in flight of ten: AIMD does not grow, and the gauge is not set again.
                assert_eq!(*seen.limits.lock().unwrap(), [10.0]);

                let failing = layer.layer(service_fn(|_: u32| async {
                    Err::<u32, BoxError>("down".into())
                }));
                assert!(failing.oneshot(1).await.is_err());
                // A drop: the limit backs off, and the gauge says where to.
                assert_eq!(layer.limit(), 9);
                assert_eq!(*seen.limits.lock().unwrap(), [10.0, 9.0]);
                assert_eq!(*seen.admitted.lock().unwrap(), 4);
            });
    });
}
