//! What a caller sees of the hedge, one request at a time, in paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_core::rejection::Overloaded;
use seawall_core::BoxError;
use seawall_hedge::{HedgeErrors, HedgeLayer, Policy, Verdict};
use tokio::time::Instant;
use tower::{service_fn, Layer, Service, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What one attempt does: wait, then answer.
type Script = Arc<dyn Fn(u32) -> (u64, Result<u32, BoxError>) + Send + Sync>;

/// Counts the attempts that were dropped before they answered.
#[derive(Default)]
struct Dropped(AtomicU32);

struct Guard(Arc<Dropped>, bool);
impl Drop for Guard {
    fn drop(&mut self) {
        if !self.1 {
            self.0 .0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A service whose n-th attempt (from 0) does what `script(n)` says; it counts attempts,
/// and attempts dropped unanswered.
fn upstream(
    script: Script,
) -> (
    impl Service<(), Response = u32, Error = BoxError, Future = impl Send> + Clone,
    Arc<AtomicU32>,
    Arc<Dropped>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let dropped = Arc::new(Dropped::default());
    let (c, d) = (calls.clone(), dropped.clone());
    let service = service_fn(move |()| {
        let n = c.fetch_add(1, Ordering::Relaxed);
        let (wait, result) = script(n);
        let d = d.clone();
        async move {
            let mut guard = Guard(d, false);
            tokio::time::sleep(ms(wait)).await;
            guard.1 = true;
            result
        }
    });
    (service, calls, dropped)
}

fn fixed(delay: u64) -> HedgeLayer {
    HedgeLayer::builder()
        .delay(ms(delay))
        .unlimited_budget()
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_attempt_loses_to_its_hedge_and_is_cancelled() {
    let (svc, calls, dropped) = upstream(Arc::new(|n| (if n == 0 { 1000 } else { 10 }, Ok(n))));
    let layer = fixed(20);
    let started = Instant::now();
    let answer = layer.layer(svc).oneshot(()).await.unwrap();
    assert_eq!(answer, 1, "the hedge's answer");
    assert_eq!(started.elapsed(), ms(30));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(
        dropped.0.load(Ordering::Relaxed),
        1,
        "the first attempt was cancelled"
    );
    let stats = layer.stats();
    assert_eq!((stats.hedges, stats.won, stats.lost), (1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn an_answer_on_the_timers_tick_wins_and_no_hedge_is_sent() {
    let (svc, calls, _) = upstream(Arc::new(|n| (20, Ok(n))));
    let layer = fixed(20);
    assert_eq!(layer.layer(svc).oneshot(()).await.unwrap(), 0);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "no hedge for an answer due with the timer"
    );
    assert_eq!(layer.stats().hedges, 0);
}

#[tokio::test(start_paused = true)]
async fn a_fast_first_answer_cancels_the_hedge_that_lost() {
    // The first attempt answers at 25 ms, after the hedge (sent at 20 ms, slow) started.
    let (svc, calls, dropped) = upstream(Arc::new(|n| (if n == 0 { 25 } else { 500 }, Ok(n))));
    let layer = fixed(20);
    let started = Instant::now();
    assert_eq!(layer.layer(svc).oneshot(()).await.unwrap(), 0);
    assert_eq!(started.elapsed(), ms(25));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(
        dropped.0.load(Ordering::Relaxed),
        1,
        "the losing hedge was dropped"
    );
    assert_eq!(layer.stats().lost, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failure_sends_the_next_attempt_at_once_and_does_not_win() {
    let (svc, calls, _) = upstream(Arc::new(|n| {
        if n == 0 {
            (5, Err("reset".into()))
        } else {
            (10, Ok(n))
        }
    }));
    let layer = fixed(100);
    let started = Instant::now();
    assert_eq!(layer.layer(svc).oneshot(()).await.unwrap(), 1);
    assert_eq!(
        started.elapsed(),
        ms(15),
        "sent at 5 ms, not after the 100 ms delay"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn when_every_attempt_fails_the_caller_gets_the_last_failure() {
    let (svc, calls, _) = upstream(Arc::new(|n| (5, Err(format!("failure {n}").into()))));
    let layer = HedgeLayer::builder()
        .delay(ms(100))
        .max_extra_attempts(2)
        .unlimited_budget()
        .build()
        .unwrap();
    let err = layer.layer(svc).oneshot(()).await.unwrap_err();
    assert_eq!(err.to_string(), "failure 2");
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn a_do_not_retry_answer_ends_the_request_and_cancels_the_rest() {
    let (svc, calls, dropped) = upstream(Arc::new(|n| {
        if n == 0 {
            (1000, Ok(n))
        } else {
            (5, Err(Overloaded::new(None).into()))
        }
    }));
    let layer = HedgeLayer::builder()
        .delay(ms(20))
        .max_extra_attempts(3)
        .unlimited_budget()
        .build()
        .unwrap();
    let started = Instant::now();
    let err = layer.layer(svc).oneshot(()).await.unwrap_err();
    assert!(err.is::<Overloaded>());
    assert_eq!(started.elapsed(), ms(25));
    assert_eq!(calls.load(Ordering::Relaxed), 2, "no further hedge");
    assert_eq!(
        dropped.0.load(Ordering::Relaxed),
        1,
        "the first attempt was cancelled"
    );
}

/// `HedgeErrors`, but a failure whose message is a number asks to wait that many ms.
#[derive(Clone, Copy, Debug)]
struct Pushback;
impl Policy<(), u32, BoxError> for Pushback {
    fn classify(&self, result: &Result<u32, BoxError>) -> Verdict {
        match result {
            Err(e) => match e.to_string().parse() {
                Ok(after) => Verdict::Retry {
                    after: Some(ms(after)),
                },
                Err(_) => Policy::<(), u32, BoxError>::classify(&HedgeErrors::new(), result),
            },
            ok => Policy::<(), u32, BoxError>::classify(&HedgeErrors::new(), ok),
        }
    }
    fn clone_request(&self, _: &()) -> Option<()> {
        Some(())
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_a_failure_delays_the_next_attempt() {
    let (svc, calls, _) = upstream(Arc::new(|n| {
        if n == 0 {
            (5, Err("300".into()))
        } else {
            (10, Ok(n))
        }
    }));
    let layer = HedgeLayer::builder()
        .delay(ms(100))
        .unlimited_budget()
        .policy(Pushback)
        .build()
        .unwrap();
    let started = Instant::now();
    assert_eq!(layer.layer(svc).oneshot(()).await.unwrap(), 1);
    assert_eq!(started.elapsed(), ms(315), "sent 300 ms after the failure");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_refuses_the_hedge() {
    let (svc, calls, _) = upstream(Arc::new(|n| (if n == 0 { 300 } else { 10 }, Ok(n))));
    let layer = HedgeLayer::builder()
        .delay(ms(20))
        .max_extra_load(0.0)
        .min_per_second(0)
        .build()
        .unwrap();
    assert_eq!(layer.layer(svc).oneshot(()).await.unwrap(), 0);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(layer.stats().refused, 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_request_cancels_every_attempt() {
    let (svc, _, dropped) = upstream(Arc::new(|n| (1000, Ok(n))));
    let layer = fixed(20);
    let call = layer.layer(svc).oneshot(());
    assert!(tokio::time::timeout(ms(50), call).await.is_err());
    assert_eq!(dropped.0.load(Ordering::Relaxed), 2);
    assert_eq!(layer.stats().cancelled, 2);
}

#[tokio::test(start_paused = true)]
async fn clones_learn_one_delay_from_the_first_calls() {
    let (svc, _, _) = upstream(Arc::new(|n| (if n % 10 == 9 { 50 } else { 10 }, Ok(n))));
    let layer = HedgeLayer::builder().min_samples(20).build().unwrap();
    let a = layer.layer(svc.clone());
    let b = layer.layer(svc);
    assert_eq!(layer.delay(), None, "no hedging before 20 latencies");
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        s.oneshot(()).await.unwrap();
    }
    // 10% of calls take 50 ms: the 95th percentile is 50 ms, learnt through both clones.
    let d = layer.delay().unwrap();
    assert!((ms(49)..=ms(51)).contains(&d), "{d:?}");
}

#[test]
fn bad_configuration_is_an_error_naming_the_field() {
    let err = |b: seawall_hedge::HedgeLayerBuilder<HedgeErrors>| b.build().unwrap_err().to_string();
    assert!(err(HedgeLayer::builder().percentile(1.0)).contains("percentile"));
    assert!(err(HedgeLayer::builder().percentile(f64::NAN)).contains("percentile"));
    assert!(err(HedgeLayer::builder().min_samples(0)).contains("min_samples"));
    assert!(err(HedgeLayer::builder().window_samples(150)).contains("window_samples"));
    assert!(err(HedgeLayer::builder().window(ms(10))).contains("window"));
    assert!(err(HedgeLayer::builder().floor(ms(20)).ceiling(ms(10))).contains("floor"));
    assert!(err(HedgeLayer::builder().max_extra_attempts(0)).contains("max_extra_attempts"));
    assert!(err(HedgeLayer::builder().max_extra_load(1.5)).contains("max_extra_load"));
    assert!(err(HedgeLayer::builder().min_win_rate(-0.1)).contains("min_win_rate"));
    assert!(err(HedgeLayer::builder().delay(Duration::from_secs(7200))).contains("delay"));
    assert!(HedgeLayer::builder().build().is_ok());
}
