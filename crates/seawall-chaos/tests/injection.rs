//! The injection decision: its rate over many requests, its repeatability, its target and
//! its runtime switch; and the latency layer's delay in paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_chaos::{
    AbortMode, Aborted, InjectAbortLayer, InjectBehaviourLayer, InjectFaultLayer,
    InjectLatencyLayer, InjectedFault, Injection,
};
use seawall_core::latency::Latency;
use seawall_core::BoxError;
use tokio::time::Instant;
use tower::{service_fn, Layer, Service, ServiceExt};

const N: u64 = 100_000;

/// The smallest and largest counts a Binomial(n, p) draw falls outside of with probability
/// at most 0.05% each (a two-sided 99.9% interval), from the exact distribution function.
fn binomial_bounds(n: u64, p: f64) -> (u64, u64) {
    if p == 0.0 {
        return (0, 0);
    }
    if p == 1.0 {
        return (n, n);
    }
    // ln P(X = k), built up from ln P(X = 0) = n ln(1 − p) by the ratio of successive terms.
    let mut log_pmf = n as f64 * (1.0 - p).ln();
    let odds = (p / (1.0 - p)).ln();
    let (mut cdf, mut low) = (0.0, None);
    for k in 0..=n {
        cdf += log_pmf.exp();
        if low.is_none() && cdf >= 0.0005 {
            low = Some(k);
        }
        if cdf >= 0.9995 {
            return (low.unwrap(), k);
        }
        log_pmf += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + odds;
    }
    (low.unwrap_or(n), n)
}

/// Sends `N` requests numbered 0.. through a fault layer and returns the injected numbers.
async fn injected(injection: Injection) -> Vec<u64> {
    let layer = InjectFaultLayer::new(injection, InjectedFault::new);
    let mut service = layer.layer(service_fn(|x: u64| async move { Ok::<_, BoxError>(x) }));
    let mut hit = Vec::new();
    for i in 0..N {
        if service.ready().await.unwrap().call(i).await.is_err() {
            hit.push(i);
        }
    }
    hit
}

#[test]
fn the_bounds_are_the_binomial_ones() {
    // Checks of the helper against known values: Binomial(100000, 0.5) has σ ≈ 158.1, and a
    // 99.9% interval is ±3.29σ ≈ ±520.
    let (low, high) = binomial_bounds(N, 0.5);
    assert!((49_475..=49_485).contains(&low), "{low}");
    assert!((50_515..=50_525).contains(&high), "{high}");
    assert_eq!(binomial_bounds(N, 1.0), (N, N));
}

#[tokio::test]
async fn injects_within_the_binomial_bounds_of_the_rate() {
    for (seed, rate) in [
        (1, 0.0),
        (2, 0.001),
        (3, 0.01),
        (4, 0.1),
        (5, 0.5),
        (6, 0.9),
        (7, 1.0),
    ] {
        let injection = Injection::builder().rate(rate).seed(seed).build().unwrap();
        let hits = injected(injection).await.len() as u64;
        let (low, high) = binomial_bounds(N, rate);
        assert!(
            (low..=high).contains(&hits),
            "rate {rate}: {hits} injections, outside {low}..={high}"
        );
    }
}

#[tokio::test]
async fn the_rate_holds_when_every_request_goes_through_a_fresh_clone() {
    // axum clones the service for every request: a generator copied into each clone would
    // make the same first draw every time, and inject into all requests or none.
    let rate = 0.1;
    let injection = Injection::builder().rate(rate).seed(21).build().unwrap();
    let layer = InjectFaultLayer::new(injection, InjectedFault::new);
    let service = layer.layer(service_fn(|x: u64| async move { Ok::<_, BoxError>(x) }));
    let mut hits = 0;
    for i in 0..N {
        if service.clone().oneshot(i).await.is_err() {
            hits += 1;
        }
    }
    let (low, high) = binomial_bounds(N, rate);
    assert!(
        (low..=high).contains(&hits),
        "{hits} outside {low}..={high}"
    );
}

#[tokio::test]
async fn the_same_seed_injects_the_same_requests() {
    let run = |seed| injected(Injection::builder().rate(0.1).seed(seed).build().unwrap());
    let first = run(11).await;
    let again = run(11).await;
    let other = run(12).await;
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert!(!first.is_empty());
}

#[tokio::test]
async fn the_handle_switches_every_clone_at_runtime() {
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer = InjectFaultLayer::new(injection, InjectedFault::new);
    let service = layer.layer(service_fn(|x: u64| async move { Ok::<_, BoxError>(x) }));
    // As axum does: a clone per request, and a handle taken from one of them.
    let handle = service.clone().handle();
    assert!(service.clone().oneshot(1).await.is_err());
    handle.disable();
    for i in 0..100 {
        assert_eq!(service.clone().oneshot(i).await.unwrap(), i);
    }
    layer.handle().enable();
    assert!(service.clone().oneshot(2).await.is_err());
    handle.set_rate(0.0).unwrap();
    assert!(service.clone().oneshot(3).await.is_ok());
    assert!(handle.set_rate(1.5).is_err());
    assert_eq!(handle.rate(), 0.0, "a bad rate leaves the old one");

    // Built disabled: nothing until an operator enables it.
    let armed = Injection::builder()
        .rate(1.0)
        .enabled(false)
        .seed(1)
        .build()
        .unwrap();
    let handle = armed.handle();
    assert!(!armed.inject(&()));
    handle.enable();
    assert!(armed.inject(&()));
}

#[tokio::test]
async fn a_predicate_target_hits_only_what_it_matches() {
    let injection = Injection::builder()
        .rate(1.0)
        .seed(3)
        .target(|x: &u64| x % 3 == 0)
        .build()
        .unwrap();
    let layer = InjectFaultLayer::new(injection, InjectedFault::new);
    let mut service = layer.layer(service_fn(|x: u64| async move { Ok::<_, BoxError>(x) }));
    for i in 0..300 {
        let failed = service.ready().await.unwrap().call(i).await.is_err();
        assert_eq!(failed, i % 3 == 0, "request {i}");
    }
}

#[test]
fn bad_rates_are_refused_naming_the_field() {
    for rate in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
        let error = Injection::builder().rate(rate).build().unwrap_err();
        assert!(error.to_string().contains("rate"), "{error}");
    }
    let injection = Injection::builder().seed(1).build().unwrap();
    let bad = Latency::uniform(Duration::from_millis(5), Duration::from_millis(1));
    let error = InjectLatencyLayer::new(injection, bad).unwrap_err();
    assert!(error.to_string().contains("latency"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn latency_adds_exactly_the_configured_delay_before_the_call() {
    let reached = Arc::new(AtomicU64::new(0));
    let seen = reached.clone();
    let start = Instant::now();
    let inner = service_fn(move |x: u64| {
        seen.store(start.elapsed().as_millis() as u64, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, BoxError>(x)
        }
    });
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer =
        InjectLatencyLayer::new(injection, Latency::constant(Duration::from_millis(300))).unwrap();
    let service = layer.layer(inner);
    assert_eq!(service.clone().oneshot(7).await.unwrap(), 7);
    assert_eq!(start.elapsed(), Duration::from_millis(310));
    assert_eq!(
        reached.load(Ordering::SeqCst),
        300,
        "the inner service saw it late"
    );

    // Off, nothing is added.
    layer.handle().disable();
    let start = Instant::now();
    service.clone().oneshot(8).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn a_delayed_call_dropped_while_it_waits_lets_go_of_the_request_and_the_service() {
    use std::future::Future;
    let service_alive = Arc::new(());
    let held_by_service = service_alive.clone();
    let inner = service_fn(move |request: Arc<()>| {
        let _service = &held_by_service;
        async move { Ok::<_, BoxError>(request) }
    });
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer =
        InjectLatencyLayer::new(injection, Latency::constant(Duration::from_secs(1))).unwrap();
    let mut service = layer.layer(inner);
    let request = Arc::new(());
    let mut delayed = Box::pin(service.ready().await.unwrap().call(request.clone()));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(delayed.as_mut().poll(&mut cx).is_pending());
    // Waiting: the future holds the request and the service that was ready.
    assert_eq!(Arc::strong_count(&request), 2);
    assert_eq!(Arc::strong_count(&service_alive), 3);
    drop(delayed);
    assert_eq!(Arc::strong_count(&request), 1, "the request is freed");
    assert_eq!(
        Arc::strong_count(&service_alive),
        2,
        "the held service is freed"
    );
}

#[tokio::test(start_paused = true)]
async fn latency_from_a_distribution_repeats_with_the_seed() {
    let delays = |seed| async move {
        let injection = Injection::builder().rate(1.0).seed(seed).build().unwrap();
        let latency = Latency::uniform(Duration::from_millis(100), Duration::from_millis(200));
        let layer = InjectLatencyLayer::new(injection, latency).unwrap();
        let service = layer.layer(service_fn(|x: u64| async move { Ok::<_, BoxError>(x) }));
        let mut out = Vec::new();
        for i in 0..20 {
            let start = Instant::now();
            service.clone().oneshot(i).await.unwrap();
            out.push(start.elapsed());
        }
        out
    };
    let first = delays(5).await;
    assert_eq!(first, delays(5).await);
    assert!(first
        .iter()
        .all(|d| (Duration::from_millis(100)..=Duration::from_millis(200)).contains(d)));
    assert!(first.windows(2).any(|w| w[0] != w[1]), "{first:?}");
}

#[tokio::test(start_paused = true)]
async fn abort_hangs_or_fails_without_calling_the_inner_service() {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    let inner = service_fn(move |x: u64| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, BoxError>(x) }
    });
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let hang = InjectAbortLayer::new(injection.clone(), AbortMode::Hang).layer(inner.clone());
    let waited = tokio::time::timeout(Duration::from_secs(3600), hang.oneshot(1)).await;
    assert!(waited.is_err(), "a hung call never answers");

    let drop = InjectAbortLayer::new(injection, AbortMode::DropConnection).layer(inner);
    let error = drop.oneshot(2).await.unwrap_err();
    assert!(error.is::<Aborted>(), "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn behaviour_runs_before_the_call_on_the_picked_requests() {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (before, during) = (log.clone(), log.clone());
    let inner = service_fn(move |x: u64| {
        during.lock().unwrap().push(format!("call {x}"));
        async move { Ok::<_, BoxError>(x) }
    });
    let injection = Injection::builder()
        .rate(1.0)
        .seed(1)
        .target(|x: &u64| *x == 2)
        .build()
        .unwrap();
    let layer = InjectBehaviourLayer::new(injection, move |x: &u64| {
        before.lock().unwrap().push(format!("hook {x}"));
    });
    let service = layer.layer(inner);
    for i in 1..=3 {
        assert_eq!(service.clone().oneshot(i).await.unwrap(), i);
    }
    assert_eq!(
        *log.lock().unwrap(),
        ["call 1", "hook 2", "call 2", "call 3"]
    );
}

#[tokio::test]
async fn each_injection_is_reported_as_an_event() {
    let log = seawall_sim::EventLog::new();
    let _recording = log.install();
    let injection = Injection::builder()
        .rate(1.0)
        .seed(1)
        .name("payments")
        .target(|x: &u64| *x < 3)
        .build()
        .unwrap();
    let layer = InjectFaultLayer::new(injection, InjectedFault::new);
    let service = layer.layer(service_fn(|x: u64| async move { Ok::<_, BoxError>(x) }));
    for i in 0..10 {
        let _ = service.clone().oneshot(i).await;
    }
    assert_eq!(log.count("chaos", "fault"), 3);
    assert!(log.events().iter().all(|e| e.name == "payments"));
}

#[test]
fn an_unseeded_injection_is_caught_by_the_simulators_determinism_guard() {
    let unseeded = seawall_sim::run_deterministic(async {
        Injection::builder().rate(0.5).build().unwrap().inject(&())
    });
    assert!(
        unseeded.is_err(),
        "seeded from entropy inside a simulated run"
    );
    let seeded = seawall_sim::run_deterministic(async {
        Injection::builder()
            .rate(0.5)
            .seed(1)
            .build()
            .unwrap()
            .inject(&())
    });
    assert!(seeded.is_ok());
}
