//! The retry layer as a caller sees it, in paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_core::rejection::{CircuitOpen, Overloaded};
use seawall_core::{BoxError, Classify, ErrorsAreFailures, Outcome};
use seawall_retry::{Backoff, DoNotRetry, Jitter, Policy, RetryBudget, RetryErrors, RetryLayer};
use tokio::time::Instant;
use tower::{service_fn, Layer, Service, ServiceExt};

#[derive(Debug, PartialEq)]
struct Reset;
impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset")
    }
}
impl std::error::Error for Reset {}

/// A service that fails its first `failures` calls with `make_error`, and records when each
/// call arrived and with which request.
#[derive(Clone)]
struct Script {
    log: Arc<Mutex<Vec<(Duration, u32)>>>,
    start: Instant,
}

impl Script {
    fn new() -> Self {
        Self {
            log: Arc::default(),
            start: Instant::now(),
        }
    }

    fn service(
        &self,
        failures: usize,
        make_error: fn() -> BoxError,
    ) -> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone + Send {
        let log = self.log.clone();
        let start = self.start;
        service_fn(move |req: u32| {
            let mut log = log.lock().unwrap();
            log.push((start.elapsed(), req));
            let fail = log.len() <= failures;
            async move {
                if fail {
                    Err(make_error())
                } else {
                    Ok(req)
                }
            }
        })
    }

    fn calls(&self) -> Vec<(Duration, u32)> {
        self.log.lock().unwrap().clone()
    }
}

fn reset() -> BoxError {
    Box::new(Reset)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn no_jitter(base_ms: u64) -> Backoff {
    Backoff::exponential(ms(base_ms)).jitter(Jitter::None)
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_after_the_backoff() {
    let script = Script::new();
    let layer = RetryLayer::builder()
        .backoff(no_jitter(50))
        .build()
        .unwrap();
    let svc = layer.layer(script.service(2, reset));
    assert_eq!(svc.oneshot(7).await.unwrap(), 7);
    let times: Vec<_> = script.calls().iter().map(|c| c.0).collect();
    assert_eq!(
        times,
        [ms(0), ms(50), ms(150)],
        "waits of 50 ms then 100 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn after_max_attempts_the_caller_gets_the_original_error() {
    let script = Script::new();
    let layer = RetryLayer::builder()
        .max_attempts(4)
        .backoff(Backoff::none())
        .build()
        .unwrap();
    let err = layer
        .layer(script.service(100, reset))
        .oneshot(1)
        .await
        .unwrap_err();
    assert_eq!(script.calls().len(), 4);
    assert!(
        err.downcast_ref::<Reset>().is_some(),
        "not a new error: {err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_returns_the_original_failure_and_counts_it() {
    let script = Script::new();
    let budget = Arc::new(
        RetryBudget::builder()
            .percent_can_retry(0.0)
            .min_per_second(0)
            .build()
            .unwrap(),
    );
    let layer = RetryLayer::builder()
        .budget(budget.clone())
        .name("payments")
        .build()
        .unwrap();
    let log = seawall_sim::EventLog::new();
    let _events = log.install();
    let err = layer
        .layer(script.service(1, reset))
        .oneshot(1)
        .await
        .unwrap_err();
    assert_eq!(script.calls().len(), 1, "no retry without budget");
    assert!(err.downcast_ref::<Reset>().is_some(), "{err:?}");
    assert_eq!(budget.refused(), 1);
    // ...and the exhaustion was reported, as a warning naming the layer instance.
    let events = log.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "budget_exhausted");
    assert_eq!(events[0].name, "payments");
    assert_eq!(events[0].level, tracing::Level::WARN);
}

#[tokio::test(start_paused = true)]
async fn every_clone_draws_on_one_budget() {
    // 50% of requests may be retried, no floor, and every attempt fails (so no retry is
    // refunded). Of 10 requests through 10 clones, every second one finds half a retry more
    // in the shared budget and is retried once; the others are refused.
    let budget = Arc::new(
        RetryBudget::builder()
            .percent_can_retry(0.5)
            .min_per_second(0)
            .build()
            .unwrap(),
    );
    let script = Script::new();
    let svc = RetryLayer::builder()
        .budget(budget.clone())
        .backoff(Backoff::none())
        .max_attempts(2)
        .build()
        .unwrap()
        .layer(script.service(usize::MAX, reset));
    let calls: Vec<_> = (0..10).map(|i| svc.clone().oneshot(i)).collect();
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.is_err()));
    assert_eq!(script.calls().len(), 15, "10 requests and 5 retries");
    assert_eq!((budget.withdrawals(), budget.refused()), (5, 5));
}

#[tokio::test(start_paused = true)]
async fn seawall_rejections_say_do_not_retry() {
    for make in [
        (|| Box::new(Overloaded::new(Some(ms(500)))) as BoxError) as fn() -> BoxError,
        || Box::new(CircuitOpen::new(None)),
    ] {
        let script = Script::new();
        let layer = RetryLayer::builder().build().unwrap();
        let err = layer
            .layer(script.service(1, make))
            .oneshot(1)
            .await
            .unwrap_err();
        assert_eq!(script.calls().len(), 1, "{err} was retried");
    }
}

#[tokio::test(start_paused = true)]
async fn a_tier_that_gave_up_stops_the_tier_above_from_retrying() {
    let script = Script::new();
    let lower = RetryLayer::builder()
        .policy(RetryErrors::new().mark_give_ups(true))
        .backoff(Backoff::none())
        .build()
        .unwrap();
    let upper = RetryLayer::builder()
        .backoff(Backoff::none())
        .build()
        .unwrap();
    let svc = upper.layer(lower.layer(script.service(100, reset)));
    let err = svc.oneshot(1).await.unwrap_err();
    assert_eq!(
        script.calls().len(),
        3,
        "3 attempts below, none above (9 without the mark)"
    );
    assert_eq!(err.to_string(), "connection reset");
    let mark = err.downcast_ref::<DoNotRetry>().unwrap();
    assert!(
        mark.get_ref().is::<Reset>(),
        "the original failure is inside"
    );
}

/// A policy for `u32` requests whose failures carry a retry-after hint, replayable only
/// when `replay`, recording the attempt numbers it prepares.
#[derive(Clone)]
struct Hinted {
    after: Option<Duration>,
    replay: bool,
    prepared: Arc<Mutex<Vec<u32>>>,
}

impl Policy<u32, u32, BoxError> for Hinted {
    fn classify(&self, result: &Result<u32, BoxError>) -> Outcome {
        ErrorsAreFailures.classify(result)
    }
    fn retry_after(&self, _: &Result<u32, BoxError>) -> Option<Duration> {
        self.after
    }
    fn clone_request(&self, request: &u32) -> Option<u32> {
        self.replay.then_some(*request)
    }
    fn prepare_retry(&self, request: &mut u32, attempt: u32) {
        self.prepared.lock().unwrap().push(attempt);
        *request = 100 + attempt;
    }
}

fn hinted(after: Option<Duration>, replay: bool) -> Hinted {
    Hinted {
        after,
        replay,
        prepared: Arc::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_replaces_the_backoff_up_to_the_cap() {
    let script = Script::new();
    let layer = RetryLayer::builder()
        .policy(hinted(Some(Duration::from_secs(2)), true))
        .backoff(no_jitter(50))
        .build()
        .unwrap();
    layer
        .layer(script.service(1, reset))
        .oneshot(1)
        .await
        .unwrap();
    assert_eq!(script.calls()[1].0, Duration::from_secs(2));

    // A hint longer than the cap: by default the failure goes back to the caller at once.
    let script = Script::new();
    let layer = RetryLayer::builder()
        .policy(hinted(Some(Duration::from_secs(60)), true))
        .max_retry_after(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = layer
        .layer(script.service(1, reset))
        .oneshot(1)
        .await
        .unwrap_err();
    assert_eq!(script.calls().len(), 1, "not retried after the cap");
    assert!(err.is::<Reset>(), "the failure as it came: {err:?}");

    // Asked for, the hint is cut to the cap and the request retried then.
    let script = Script::new();
    let layer = RetryLayer::builder()
        .policy(hinted(Some(Duration::from_secs(60)), true))
        .max_retry_after(Duration::from_secs(5))
        .clamp_retry_after(true)
        .build()
        .unwrap();
    layer
        .layer(script.service(1, reset))
        .oneshot(1)
        .await
        .unwrap();
    assert_eq!(script.calls()[1].0, Duration::from_secs(5), "capped");
}

#[tokio::test(start_paused = true)]
async fn a_tier_that_retries_nothing_does_not_stop_the_tier_above() {
    // The lower tier makes one attempt only: its failures are not give-ups, so they are not
    // marked and the tier above retries them.
    let script = Script::new();
    let lower = RetryLayer::builder()
        .policy(RetryErrors::new().mark_give_ups(true))
        .max_attempts(1)
        .build()
        .unwrap();
    let err = lower
        .layer(script.service(1, reset))
        .oneshot(1)
        .await
        .unwrap_err();
    assert!(
        !err.is::<DoNotRetry>(),
        "marked though not retried: {err:?}"
    );

    let script = Script::new();
    let upper = RetryLayer::builder()
        .backoff(Backoff::none())
        .build()
        .unwrap();
    let svc = upper.layer(lower.layer(script.service(1, reset)));
    assert_eq!(svc.oneshot(7).await.unwrap(), 7, "the tier above retried");
    assert_eq!(script.calls().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_succeeds_returns_its_withdrawal() {
    // A budget of one retry a second and no share: without refunds only the first of these
    // requests could be retried within the second.
    let budget = Arc::new(
        RetryBudget::builder()
            .percent_can_retry(0.0)
            .min_per_second(1)
            .build()
            .unwrap(),
    );
    let seen = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let fails_once = service_fn(move |x: u32| {
        let first = seen.lock().unwrap().insert(x);
        async move {
            if first {
                Err::<u32, BoxError>(reset())
            } else {
                Ok(x)
            }
        }
    });
    let svc = RetryLayer::builder()
        .budget(budget.clone())
        .backoff(Backoff::none())
        .build()
        .unwrap()
        .layer(fails_once);
    for i in 0..5 {
        assert_eq!(svc.clone().oneshot(i).await.unwrap(), i, "request {i}");
    }
    assert_eq!((budget.withdrawals(), budget.refunds()), (5, 5));
    assert_eq!(budget.remaining(), 1);
    assert_eq!(budget.refused(), 0);

    // A retry that fails costs in full.
    let script = Script::new();
    let svc = RetryLayer::builder()
        .budget(budget.clone())
        .backoff(Backoff::none())
        .build()
        .unwrap()
        .layer(script.service(100, reset));
    svc.oneshot(1).await.unwrap_err();
    assert_eq!(
        script.calls().len(),
        2,
        "one retry, then the budget is empty"
    );
    assert_eq!(budget.remaining(), 0);
    assert_eq!((budget.refunds(), budget.refused()), (5, 1));
}

#[tokio::test(start_paused = true)]
async fn retries_are_numbered_and_unreplayable_requests_are_not_retried() {
    let script = Script::new();
    let policy = hinted(None, true);
    let layer = RetryLayer::builder()
        .policy(policy.clone())
        .backoff(Backoff::none())
        .build()
        .unwrap();
    layer
        .layer(script.service(2, reset))
        .oneshot(1)
        .await
        .unwrap();
    assert_eq!(*policy.prepared.lock().unwrap(), [2, 3]);
    let requests: Vec<_> = script.calls().iter().map(|c| c.1).collect();
    assert_eq!(
        requests,
        [1, 102, 103],
        "the inner service saw the prepared copies"
    );

    let script = Script::new();
    let layer = RetryLayer::builder()
        .policy(hinted(None, false))
        .build()
        .unwrap();
    layer
        .layer(script.service(1, reset))
        .oneshot(1)
        .await
        .unwrap_err();
    assert_eq!(script.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn jitter_is_repeatable_under_a_seed() {
    async fn times(seed: u64) -> Vec<Duration> {
        let script = Script::new();
        let layer = RetryLayer::builder()
            .max_attempts(5)
            .backoff(Backoff::exponential(ms(100)).jitter(Jitter::Decorrelated))
            .seed(seed)
            .build()
            .unwrap();
        let svc = layer.layer(script.service(100, reset));
        let _ = svc.oneshot(1).await;
        script.calls().iter().map(|c| c.0).collect()
    }
    let a = times(1).await;
    assert_eq!(a.len(), 5);
    assert_eq!(a, times(1).await);
    assert_ne!(a, times(2).await);
}

#[tokio::test(start_paused = true)]
async fn the_inner_service_is_driven_ready_before_a_retry() {
    let layer = RetryLayer::builder()
        .backoff(Backoff::none())
        .build()
        .unwrap();
    let (mut svc, mut handle) = tower_test::mock::spawn_layer::<u32, u32, _>(layer);
    handle.allow(1);
    tokio_test::assert_ready_ok!(svc.poll_ready());
    let mut fut = tokio_test::task::spawn(svc.call(5));
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, 5);
    send.send_error(Reset);
    // No capacity left: the retry waits for the inner service to be ready.
    tokio_test::assert_pending!(fut.poll());
    handle.allow(1);
    assert!(fut.is_woken());
    tokio_test::assert_pending!(fut.poll());
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, 5);
    send.send_response(6);
    assert_eq!(tokio_test::assert_ready_ok!(fut.poll()), 6);
}

/// A policy for `u32` requests whose copies stop being replayable when `replayable` is
/// cleared, as a replayable body does when the first attempt reads past its cap.
#[derive(Clone)]
struct Flag {
    replayable: Arc<std::sync::atomic::AtomicBool>,
}

impl Policy<u32, u32, BoxError> for Flag {
    fn classify(&self, result: &Result<u32, BoxError>) -> Outcome {
        Policy::<u32, u32, BoxError>::classify(&RetryErrors::new(), result)
    }
    fn do_not_retry(&self, result: &Result<u32, BoxError>) -> bool {
        Policy::<u32, u32, BoxError>::do_not_retry(&RetryErrors::new(), result)
    }
    fn clone_request(&self, request: &u32) -> Option<u32> {
        Some(*request)
    }
    fn can_replay(&self, _: &u32) -> bool {
        self.replayable.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn mark_give_up(&self, result: Result<u32, BoxError>) -> Result<u32, BoxError> {
        Policy::<u32, u32, BoxError>::mark_give_up(&RetryErrors::new().mark_give_ups(true), result)
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_cannot_be_sent_after_the_backoff_returns_the_original_failure() {
    let flag = Flag {
        replayable: Arc::new(true.into()),
    };
    let budget = Arc::new(
        RetryBudget::builder()
            .percent_can_retry(0.0)
            .min_per_second(10)
            .build()
            .unwrap(),
    );
    assert_eq!(budget.remaining(), 10);
    let layer = RetryLayer::builder()
        .policy(flag.clone())
        .backoff(no_jitter(50))
        .budget(budget.clone())
        .build()
        .unwrap();
    let log = seawall_sim::EventLog::new();
    let _events = log.install();

    // The copy stops being replayable during the backoff.
    let script = Script::new();
    let mut call = tokio_test::task::spawn(layer.layer(script.service(1, reset)).oneshot(1));
    tokio_test::assert_pending!(call.poll());
    flag.replayable
        .store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::advance(ms(50)).await;
    let err = tokio_test::assert_ready_err!(call.poll());
    assert!(
        err.downcast_ref::<Reset>().is_some(),
        "the original failure: {err:?}"
    );
    assert!(
        !err.is::<DoNotRetry>(),
        "not given up on: a tier above may replay it"
    );
    assert_eq!(script.calls().len(), 1);
    assert_eq!(budget.remaining(), 10, "no retry was charged");
    assert_eq!(log.count("retry", "not_replayable"), 1);

    // The budget runs dry during the backoff.
    flag.replayable
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let script = Script::new();
    let mut call = tokio_test::task::spawn(layer.layer(script.service(1, reset)).oneshot(1));
    tokio_test::assert_pending!(call.poll());
    while budget.try_withdraw() {}
    tokio::time::advance(ms(50)).await;
    let err = tokio_test::assert_ready_err!(call.poll());
    assert!(err.is::<DoNotRetry>(), "given up on, and marked: {err:?}");
    assert_eq!(script.calls().len(), 1);
    assert_eq!(budget.refused(), 2, "the drain's last try, then the retry");
    assert_eq!(log.count("retry", "budget_exhausted"), 1);
    assert_eq!(log.count("retry", "retry"), 0);
}

/// A service that counts its clones.
struct Counted {
    clones: Arc<std::sync::atomic::AtomicUsize>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            clones: self.clones.clone(),
        }
    }
}

impl Service<u32> for Counted {
    type Response = u32;
    type Error = BoxError;
    type Future = std::future::Ready<Result<u32, BoxError>>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, request: u32) -> Self::Future {
        std::future::ready(Ok(request))
    }
}

#[tokio::test(start_paused = true)]
async fn the_inner_service_is_cloned_only_when_a_retry_is_possible() {
    let clones = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = |layer: RetryLayer<Hinted>| {
        let clones = clones.clone();
        async move {
            let mut svc = layer.layer(Counted {
                clones: clones.clone(),
            });
            let before = clones.load(std::sync::atomic::Ordering::Relaxed);
            svc.ready().await.unwrap();
            assert_eq!(svc.call(1).await.unwrap(), 1);
            clones.load(std::sync::atomic::Ordering::Relaxed) - before
        }
    };
    let layer = |replay: bool, attempts: u32| {
        RetryLayer::builder()
            .policy(hinted(None, replay))
            .max_attempts(attempts)
            .build()
            .unwrap()
    };
    assert_eq!(count(layer(true, 3)).await, 1, "a replayable request");
    assert_eq!(
        count(layer(false, 3)).await,
        0,
        "a request that cannot be replayed"
    );
    assert_eq!(count(layer(true, 1)).await, 0, "a single attempt");
}
