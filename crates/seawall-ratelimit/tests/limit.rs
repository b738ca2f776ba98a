//! The rate in paused time, keys, the bounded table and its overflow, configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use seawall_core::{find_rejection, BoxError, RejectionKind};
use seawall_ratelimit::RateLimitLayer;
use tokio::time::advance;
use tower::{service_fn, Layer, Service, ServiceExt};

fn ok<Req>() -> impl Service<Req, Response = (), Error = BoxError, Future: Send> + Clone {
    service_fn(|_: Req| async { Ok::<_, BoxError>(()) })
}

/// The wait a rejection carries, or `None` if `result` is `Ok`.
fn wait(result: Result<(), BoxError>) -> Option<Duration> {
    let err = result.err()?;
    let rejection = find_rejection(err.as_ref()).expect("a rejection");
    assert_eq!(rejection.kind(), RejectionKind::RateLimited);
    rejection.retry_after()
}

/// 10 a second with a burst of 10, offered a request every millisecond for 10 s through a
/// fresh clone each time: exactly the burst plus one every 100 ms gets through, and each
/// refusal names the exact time to the next cell.
#[tokio::test(start_paused = true)]
async fn the_rate_holds_over_time_across_clones() {
    let layer = RateLimitLayer::builder(10, Duration::from_secs(1))
        .build()
        .unwrap();
    let svc = layer.layer(ok::<()>());
    let (mut admitted, mut refused) = (0, 0);
    for ms in 0..10_000u64 {
        match wait(svc.clone().oneshot(()).await) {
            None => admitted += 1,
            Some(wait) => {
                refused += 1;
                // The next cell is due at the next multiple of 100 ms.
                let due = Duration::from_millis((ms / 100 + 1) * 100);
                assert_eq!(wait, due - Duration::from_millis(ms), "at {ms} ms");
            }
        }
        advance(Duration::from_millis(1)).await;
    }
    // The burst of 10 at 0 ms, then one every 100 ms from 100 ms to 9,900 ms.
    assert_eq!(admitted, 10 + 99);
    assert_eq!(refused, 10_000 - admitted);
}

/// A burst of 1 spaces requests evenly, and a quiet spell does not bank more than the burst.
#[tokio::test(start_paused = true)]
async fn a_quiet_spell_banks_at_most_the_burst() {
    let layer = RateLimitLayer::builder(5, Duration::from_secs(1))
        .burst(3)
        .build()
        .unwrap();
    let svc = layer.layer(ok::<()>());
    advance(Duration::from_secs(60)).await;
    for _ in 0..3 {
        assert_eq!(wait(svc.clone().oneshot(()).await), None);
    }
    assert_eq!(
        wait(svc.clone().oneshot(()).await),
        Some(Duration::from_millis(200))
    );
}

/// The limit refuses in `call`; `poll_ready` stays the inner service's and never errs.
#[tokio::test(start_paused = true)]
async fn refusal_is_in_call_not_poll_ready() {
    let layer = RateLimitLayer::builder(1, Duration::from_secs(1))
        .build()
        .unwrap();
    let (inner, mut handle) = tower_test::mock::pair::<(), ()>();
    let mut svc = tower_test::mock::Spawn::new(layer.layer(inner));
    handle.allow(2);
    tokio_test::assert_ready_ok!(svc.poll_ready::<()>());
    let first = svc.call(());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response(());
    assert!(first.await.is_ok());
    tokio_test::assert_ready_ok!(svc.poll_ready::<()>(), "still ready with the quota spent");
    let second = svc.call(());
    assert_eq!(wait(second.await), Some(Duration::from_secs(1)));
    assert!(
        handle.poll_request().is_pending(),
        "a refused request never reaches the inner service"
    );
}

/// Each key has its own quota: spending one key's leaves the others' whole.
#[tokio::test(start_paused = true)]
async fn keys_are_limited_independently() {
    let layer = RateLimitLayer::builder(2, Duration::from_secs(1))
        .key_by_fn(|key: &u32| *key)
        .build()
        .unwrap();
    let svc = layer.layer(ok::<u32>());
    for key in 0..50u32 {
        for _ in 0..2 {
            assert_eq!(wait(svc.clone().oneshot(key).await), None, "key {key}");
        }
        assert_eq!(
            wait(svc.clone().oneshot(key).await),
            Some(Duration::from_millis(500)),
            "key {key} spent its burst"
        );
    }
    assert_eq!(layer.keys(), 50);
    advance(Duration::from_millis(500)).await;
    assert_eq!(wait(svc.clone().oneshot(7).await), None);
    assert!(wait(svc.clone().oneshot(7).await).is_some());
    assert_eq!(wait(svc.clone().oneshot(8).await), None);
}

/// 100,000 distinct keys through a table of 1,000: the table never holds more than its cap;
/// keys that find it full share the one overflow limiter (same quota), so together they get
/// one key's burst; once the table's limiters have been idle for a burst's refill time, new
/// keys take their places again.
#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_keys_stay_within_the_cap() {
    const CAP: usize = 1_000;
    let layer = RateLimitLayer::builder(4, Duration::from_secs(1))
        .key_by_fn(|key: &u64| *key)
        .max_keys(CAP)
        .build()
        .unwrap();
    let svc = layer.layer(ok::<u64>());
    let mut admitted = 0u64;
    for key in 0..100_000u64 {
        if wait(svc.clone().oneshot(key).await).is_none() {
            admitted += 1;
        }
        assert!(layer.keys() <= CAP);
    }
    assert_eq!(layer.keys(), CAP);
    assert_eq!(layer.overflow_requests(), 99_000);
    // 1,000 keys with their own limiter, and the overflow limiter's burst of 4.
    assert_eq!(admitted, 1_000 + 4);

    // Within the refill time nothing may be forgotten: a new key still overflows.
    advance(Duration::from_millis(999)).await;
    let _ = svc.clone().oneshot(200_000).await;
    assert_eq!(layer.overflow_requests(), 99_001);
    assert_eq!(layer.keys(), CAP);
    // After it, the idle limiters make room for new keys, each with its own full quota.
    advance(Duration::from_millis(2)).await;
    for key in 300_000..300_100u64 {
        for _ in 0..4 {
            assert_eq!(wait(svc.clone().oneshot(key).await), None, "key {key}");
        }
    }
    // (A sweep forgets every idle limiter it looks at, so the table may hold fewer.)
    assert!(layer.keys() <= CAP);
    assert_eq!(
        layer.overflow_requests(),
        99_001,
        "every new key got its own"
    );
}

/// A key that spent its quota cannot get a fresh one by pushing its limiter out of a full
/// table with new keys: its limiter is not idle until it has refilled.
#[tokio::test(start_paused = true)]
async fn a_flood_of_keys_does_not_reset_a_spent_key() {
    let layer = RateLimitLayer::builder(1, Duration::from_secs(10))
        .key_by_fn(|key: &u64| *key)
        .max_keys(8)
        .build()
        .unwrap();
    let svc = layer.layer(ok::<u64>());
    assert_eq!(wait(svc.clone().oneshot(0).await), None);
    for round in 1..=9u64 {
        // Key 0 has been quiet for a second; a table's worth of new keys arrives.
        advance(Duration::from_secs(1)).await;
        for key in 0..8 {
            let _ = svc.clone().oneshot(1_000 * round + key).await;
        }
        assert!(
            wait(svc.clone().oneshot(0).await).is_some(),
            "key 0 is still spent after {round} s"
        );
    }
}

#[test]
fn bad_configuration_names_the_field() {
    let global = |requests, per, burst| {
        let mut b = RateLimitLayer::builder(requests, per);
        if let Some(burst) = burst {
            b = b.burst(burst);
        }
        b.build().err().map(|e| e.to_string())
    };
    let s = Duration::from_secs(1);
    let cases = [
        (global(0, s, None), "requests"),
        (global(1, Duration::ZERO, None), "per"),
        (global(1, Duration::from_secs(400 * 86_400), None), "per"),
        (global(10, Duration::from_nanos(5), None), "requests"),
        (global(1, s, Some(0)), "burst"),
        (global(1, Duration::from_secs(86_400), Some(1_000)), "burst"),
    ];
    for (err, field) in cases {
        let err = err.expect("an error");
        assert!(err.starts_with(field), "{err:?} names {field}");
    }
    assert!(global(1, s, None).is_none());

    let keyed = |max_keys, idle| {
        let mut b = RateLimitLayer::builder(10, s)
            .key_by_fn(|k: &u8| *k)
            .max_keys(max_keys);
        if let Some(idle) = idle {
            b = b.idle_timeout(idle);
        }
        b.build().err().map(|e| e.to_string())
    };
    assert!(keyed(0, None).unwrap().starts_with("max_keys"));
    assert!(keyed(2_000_000, None).unwrap().starts_with("max_keys"));
    let err = keyed(10, Some(Duration::from_millis(999))).unwrap();
    assert!(err.starts_with("idle_timeout"), "{err}");
    assert!(keyed(10, Some(s)).is_none());
}
