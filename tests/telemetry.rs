//! `docs/telemetry.md` against what the layers record: every metric the doc lists is emitted
//! when the layers go through their notable paths, nothing unlisted is, and every event counted
//! in `seawall_events_total` is in the doc's table of events. The doc's tables are parsed here,
//! so that the doc and the code cannot drift apart.
#![cfg(all(
    feature = "metrics",
    feature = "retry",
    feature = "breaker",
    feature = "shed",
    feature = "hedge",
    feature = "timeout",
    feature = "chaos",
    feature = "rate-limit",
    feature = "http"
))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use seawall::core::deadline::Deadline;
use seawall::core::BoxError;
use tower::{service_fn, Layer, Service, ServiceExt};

/// What was recorded: the metric's name and its labels, once per distinct pair.
type Seen = Arc<Mutex<BTreeSet<(String, Vec<(String, String)>)>>>;

/// A recorder that notes each metric when it moves (not when it is merely registered).
#[derive(Default)]
struct Collect(Seen);

struct Handle {
    key: Key,
    seen: Seen,
}

impl Handle {
    fn note(&self) {
        let labels = self
            .key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        self.seen
            .lock()
            .unwrap()
            .insert((self.key.name().to_owned(), labels));
    }
}

impl CounterFn for Handle {
    fn increment(&self, _: u64) {
        self.note();
    }
    fn absolute(&self, _: u64) {
        self.note();
    }
}

impl GaugeFn for Handle {
    fn increment(&self, _: f64) {
        self.note();
    }
    fn decrement(&self, _: f64) {
        self.note();
    }
    fn set(&self, _: f64) {
        self.note();
    }
}

impl HistogramFn for Handle {
    fn record(&self, _: f64) {
        self.note();
    }
}

impl Collect {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        Arc::new(Handle {
            key: key.clone(),
            seen: self.0.clone(),
        })
    }
}

impl Recorder for Collect {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

/// The cells of the doc's table rows whose first cell starts with `` `prefix ``.
fn rows(doc: &str, prefix: &str) -> Vec<Vec<String>> {
    doc.lines()
        .filter(|l| l.starts_with(&format!("| `{prefix}")))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

fn failing() -> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone + Send {
    service_fn(|_: u32| async { Err::<u32, BoxError>("upstream failed".into()) })
}

/// Drives every layer through the paths whose metrics the doc lists.
async fn drive() {
    use seawall::retry::{RetryBudget, RetryLayer};

    // Retry: two retries then a give-up (backoff, withdrawals, deposits)...
    let retry = RetryLayer::builder()
        .max_attempts(3)
        .seed(1)
        .build()
        .unwrap();
    let _ = retry.layer(failing()).oneshot(1).await;
    // ...a retry that succeeds (a refund)...
    let calls = Arc::new(AtomicU32::new(0));
    let flaky = service_fn(move |_: u32| {
        let n = calls.fetch_add(1, Ordering::Relaxed);
        async move {
            if n == 0 {
                Err::<u32, BoxError>("reset".into())
            } else {
                Ok(n)
            }
        }
    });
    let retry = RetryLayer::builder().seed(2).build().unwrap();
    assert!(retry.layer(flaky).oneshot(1).await.is_ok());
    // ...and an empty budget that refuses.
    let empty = RetryBudget::builder()
        .percent_can_retry(0.0)
        .min_per_second(0)
        .build()
        .unwrap();
    let retry = RetryLayer::builder()
        .budget(Arc::new(empty))
        .seed(3)
        .build()
        .unwrap();
    let _ = retry.layer(failing()).oneshot(1).await;

    // Breaker: one failure opens it (event, open time, state gauge).
    let breaker = seawall::breaker::CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .name("db")
        .build()
        .unwrap();
    let mut tripped = breaker.layer(failing());
    let _ = tripped.ready().await.unwrap().call(1).await;
    // Open now: the next call is refused (`outcome="rejected"`).
    assert!(tripped.ready().await.unwrap().call(2).await.is_err());

    // Shed: a limit of one, held by a call that has not finished; the next is refused.
    let shed = seawall::shed::ShedLayer::builder()
        .name("api")
        .limit(seawall::shed::limit::Fixed::new(1))
        .build()
        .unwrap();
    let mut slow = shed.layer(service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<u32, BoxError>(1)
    }));
    let held = slow.ready().await.unwrap().call(1);
    assert!(slow.ready().await.unwrap().call(2).await.is_err());
    drop(held);

    // Hedge: the first attempt hangs, the hedge wins.
    let calls = Arc::new(AtomicU32::new(0));
    let hedged = seawall::hedge::HedgeLayer::builder()
        .delay(Duration::from_millis(20))
        .build()
        .unwrap()
        .layer(service_fn(move |_: u32| {
            let n = calls.fetch_add(1, Ordering::Relaxed);
            async move {
                let ms = if n == 0 { 1000 } else { 10 };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok::<u32, BoxError>(n)
            }
        }));
    assert_eq!(hedged.oneshot(1).await.unwrap(), 1);

    // Timeout: a request whose deadline has passed is refused before it is sent.
    let send = seawall::timeout::SendDeadlineLayer::new().layer(service_fn(
        |_: http::Request<()>| async { Ok::<u32, BoxError>(1) },
    ));
    let mut request = http::Request::new(());
    request
        .extensions_mut()
        .insert(Deadline::after(Duration::ZERO));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(send.oneshot(request).await.is_err());
    // A total timeout: one answer in time, one too late.
    let timeout = seawall::timeout::TimeoutLayer::new(Duration::from_millis(50)).unwrap();
    let sleepy = timeout.layer(service_fn(|ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<u64, BoxError>(ms)
    }));
    assert!(sleepy.clone().oneshot(10).await.is_ok());
    assert!(sleepy.oneshot(100).await.is_err());

    // Chaos: every request gets an injected fault.
    use seawall::chaos::{InjectFaultLayer, InjectedFault, Injection};
    let injection = Injection::builder().rate(1.0).seed(4).build().unwrap();
    let chaos = InjectFaultLayer::new(injection, InjectedFault::new)
        .layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
    assert!(chaos.oneshot(1).await.is_err());
    // ...none at rate 0: the request passes untouched (`success`)...
    let injection = Injection::builder().rate(0.0).seed(5).build().unwrap();
    let chaos = InjectFaultLayer::new(injection, InjectedFault::new)
        .layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
    assert_eq!(chaos.oneshot(1).await.unwrap(), 1);
    // ...and switched off, the layer counts nothing at all (its cost is one load and a
    // branch): this one is named, and no series of its name appears.
    let injection = Injection::builder()
        .rate(1.0)
        .seed(6)
        .name("off")
        .build()
        .unwrap();
    injection.handle().disable();
    let chaos = InjectFaultLayer::new(injection, InjectedFault::new)
        .layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
    assert_eq!(chaos.oneshot(1).await.unwrap(), 1);

    // Rate limit: one request a minute, so the first passes and the second is refused.
    let limited = seawall::rate_limit::RateLimitLayer::builder(1, Duration::from_secs(60))
        .build()
        .unwrap()
        .layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
    assert!(limited.clone().oneshot(1).await.is_ok());
    assert!(limited.oneshot(2).await.is_err());

    // Client-side throttle: a backend that fails every call, until the throttle refuses.
    let throttle = seawall::shed::throttle::ThrottleLayer::builder()
        .seed(7)
        .build()
        .unwrap();
    let mut refused = 0;
    for _ in 0..50 {
        let throttled = throttle.layer(failing());
        if let Err(e) = throttled.oneshot(1).await {
            refused += usize::from(e.is::<seawall::core::rejection::Overloaded>());
        }
    }
    assert!(refused > 0, "the throttle never refused");

    // HTTP plumbing: a rejection from further in becomes a response, another error a 500...
    use seawall::http::RejectionResponseLayer;
    let shed = |_: http::Request<()>| async {
        Err::<http::Response<http_body_util::Full<bytes::Bytes>>, BoxError>(
            seawall::core::rejection::Overloaded::new(None).into(),
        )
    };
    let answered = RejectionResponseLayer::new().layer(service_fn(shed));
    assert_eq!(
        answered
            .oneshot(http::Request::new(()))
            .await
            .unwrap()
            .status(),
        503
    );
    let broken = |_: http::Request<()>| async {
        Err::<http::Response<http_body_util::Full<bytes::Bytes>>, BoxError>("boom".into())
    };
    let answered = RejectionResponseLayer::infallible().layer(service_fn(broken));
    assert_eq!(
        answered
            .oneshot(http::Request::new(()))
            .await
            .unwrap()
            .status(),
        500
    );
    // ...and a body larger than its replay cap will not be replayed.
    let body = http_body_util::Full::new(bytes::Bytes::from_static(b"0123456789"));
    let body = seawall::http::ReplayableBody::new(body, 4);
    assert!(!body.is_replayable());
}

#[test]
fn the_metrics_recorded_are_the_ones_docs_telemetry_lists() {
    let doc = include_str!("../docs/telemetry.md");
    let listed: BTreeSet<String> = rows(doc, "seawall_")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let events: BTreeSet<(String, String)> =
        ["retry", "breaker", "shed", "hedge", "timeout", "chaos"]
            .iter()
            .flat_map(|layer| rows(doc, layer))
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
    assert!(
        !listed.is_empty() && events.len() >= 10,
        "the doc's tables were not found"
    );

    let collect = Collect::default();
    metrics::with_local_recorder(&collect, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(drive())
    });
    let seen = collect.0.lock().unwrap().clone();

    let emitted: BTreeSet<String> = seen.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(
        emitted, listed,
        "metrics emitted (left) vs listed in docs/telemetry.md (right)"
    );

    let label = |labels: &[(String, String)], k: &str| {
        labels
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let counted: BTreeSet<(String, String)> = seen
        .iter()
        .filter(|(name, _)| name == "seawall_events_total")
        .map(|(_, labels)| (label(labels, "layer"), label(labels, "event")))
        .collect();
    let unlisted: Vec<_> = counted.difference(&events).collect();
    assert!(
        unlisted.is_empty(),
        "events counted but not in docs/telemetry.md: {unlisted:?}"
    );
    // Each layer's notable path was taken: one counted event at least per layer.
    let layers: BTreeSet<&str> = counted.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        layers,
        BTreeSet::from(["breaker", "chaos", "hedge", "retry", "shed", "timeout"])
    );
    let calls = |layer: &str| -> BTreeSet<(String, String)> {
        seen.iter()
            .filter(|(name, labels)| {
                name == "seawall_calls_total" && label(labels, "layer") == layer
            })
            .map(|(_, labels)| (label(labels, "name"), label(labels, "outcome")))
            .collect()
    };
    let set = |pairs: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        calls("breaker"),
        set(&[("db", "failure"), ("db", "rejected")])
    );
    // The shedder refused the second call; the first never finished.
    assert_eq!(calls("shed"), set(&[("api", "rejected")]));
    // The shedder's own metrics carry its name: one admitted, the limit set when built.
    for metric in ["seawall_shed_admitted_total", "seawall_shed_limit"] {
        let names: Vec<String> = seen
            .iter()
            .filter(|(name, _)| name == metric)
            .map(|(_, labels)| label(labels, "name"))
            .collect();
        assert_eq!(names, ["api"], "{metric}");
    }
    assert_eq!(
        calls("timeout"),
        set(&[
            ("send", "rejected"),
            ("total", "failure"),
            ("total", "success")
        ])
    );
    assert_eq!(
        calls("ratelimit"),
        set(&[("", "rejected"), ("", "success")])
    );
    assert_eq!(calls("throttle"), set(&[("", "failure"), ("", "rejected")]));
    assert_eq!(
        calls("http"),
        set(&[
            ("rejection_response", "failure"),
            ("rejection_response", "rejected"),
            ("replay", "rejected")
        ])
    );
    // Chaos: `rejected` when it injected, `success` when the request passed untouched, and
    // nothing from the layer switched off (named "off").
    assert_eq!(calls("chaos"), set(&[("", "rejected"), ("", "success")]));
    for expected in [
        ("retry", "give_up"),
        ("retry", "budget_exhausted"),
        ("breaker", "open"),
        ("hedge", "won"),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned());
        assert!(counted.contains(&expected), "{expected:?} not counted");
    }
}
