//! The hedge and the request's deadline, in paused time: no hedge is armed that would fire at
//! or after the deadline, no attempt is sent once it has passed, and a retry-after wait that
//! would end past it ends the request with the last answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seawall_core::deadline::Deadline;
use seawall_core::BoxError;
use seawall_hedge::{HedgeErrors, HedgeLayer, Policy, Verdict};
use tokio::time::Instant;
use tower::{service_fn, Layer, Service, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the n-th attempt (from 0) does: wait this many ms, then answer.
type Script = fn(u32) -> (u64, Result<u32, BoxError>);

/// A service that follows `script` and counts the attempts it receives.
fn upstream(
    script: Script,
) -> (
    impl Service<
            (),
            Response = u32,
            Error = BoxError,
            Future = impl std::future::Future<Output = Result<u32, BoxError>> + Send,
        > + Clone,
    Arc<AtomicU32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let service = service_fn(move |()| {
        let (wait, result) = script(counted.fetch_add(1, Ordering::Relaxed));
        async move {
            tokio::time::sleep(ms(wait)).await;
            result
        }
    });
    (service, calls)
}

/// Runs one request through `layer` with a deadline `deadline` ms from now; returns its
/// answer, when it came (ms from the start) and how many attempts were sent.
async fn run<P>(
    layer: &HedgeLayer<P>,
    script: Script,
    deadline: u64,
) -> (Result<u32, String>, u128, u32)
where
    P: Policy<(), u32, BoxError> + Clone,
{
    let (svc, calls) = upstream(script);
    let started = Instant::now();
    let answer = Deadline::after(ms(deadline))
        .scope(layer.layer(svc).oneshot(()))
        .await
        .map_err(|e| e.to_string());
    (
        answer,
        started.elapsed().as_millis(),
        calls.load(Ordering::Relaxed),
    )
}

fn fixed(delay: u64, extra: u32) -> HedgeLayer {
    HedgeLayer::builder()
        .delay(ms(delay))
        .max_extra_attempts(extra)
        .unlimited_budget()
        .build()
        .unwrap()
}

/// The first attempt is slow (1 s); every other answers in 10 ms.
fn slow_first(n: u32) -> (u64, Result<u32, BoxError>) {
    (if n == 0 { 1000 } else { 10 }, Ok(n))
}

#[tokio::test(start_paused = true)]
async fn no_hedge_is_sent_when_its_delay_ends_at_or_after_the_deadline() {
    let layer = fixed(20, 1);
    // The delay would end at the deadline itself: the hedge could not finish before it.
    assert_eq!(run(&layer, slow_first, 20).await, (Ok(0), 1000, 1));
    assert_eq!(run(&layer, slow_first, 15).await, (Ok(0), 1000, 1));
    assert_eq!(layer.stats().hedges, 0);
    // With time left after the delay, the hedge goes and wins.
    assert_eq!(run(&layer, slow_first, 21).await, (Ok(1), 30, 2));
    assert_eq!(layer.stats().hedges, 1);
}

#[tokio::test(start_paused = true)]
async fn the_next_hedge_is_not_armed_when_it_would_fire_past_the_deadline() {
    // Every attempt is slow: the first hedge goes at 20 ms; a second would go at 40 ms.
    let layer = fixed(20, 2);
    let all_slow: Script = |n| (1000, Ok(n));
    assert_eq!(run(&layer, all_slow, 40).await, (Ok(0), 1000, 2));
    assert_eq!(run(&layer, all_slow, 41).await, (Ok(0), 1000, 3));
}

#[tokio::test(start_paused = true)]
async fn no_attempt_is_sent_after_a_failure_once_the_deadline_has_passed() {
    let layer = fixed(100, 1);
    let fails_late: Script = |n| {
        if n == 0 {
            (50, Err("reset".into()))
        } else {
            (10, Ok(n))
        }
    };
    // The failure comes at 50 ms, after the 40 ms deadline: the caller gets it, nothing else.
    assert_eq!(
        run(&layer, fails_late, 40).await,
        (Err("reset".into()), 50, 1)
    );
    // Before the deadline, the failure is retried at once as usual.
    assert_eq!(run(&layer, fails_late, 60).await, (Ok(1), 60, 2));
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
async fn a_retry_after_past_the_deadline_ends_the_request_with_the_last_answer() {
    let layer = HedgeLayer::builder()
        .delay(ms(100))
        .unlimited_budget()
        .policy(Pushback)
        .build()
        .unwrap();
    let pushed_back: Script = |n| {
        if n == 0 {
            (5, Err("30".into()))
        } else {
            (10, Ok(n))
        }
    };
    // The wait would end at 35 ms, at the deadline: the caller gets the answer at 5 ms.
    assert_eq!(run(&layer, pushed_back, 35).await, (Err("30".into()), 5, 1));
    // With time left after the wait, the next attempt goes at 35 ms.
    assert_eq!(run(&layer, pushed_back, 36).await, (Ok(1), 45, 2));
}
