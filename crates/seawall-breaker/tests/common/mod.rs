//! What the breaker's integration tests share.
// Each test file uses some of these.
#![allow(dead_code)]

use std::time::Duration;

use seawall_breaker::CircuitBreakerLayer;
use seawall_core::{find_rejection, BoxError, RejectionKind};
use tower::{service_fn, Service};

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(crate) fn retry_after(err: &BoxError) -> Option<Duration> {
    let r = find_rejection(err.as_ref()).expect("a rejection");
    assert_eq!(r.kind(), RejectionKind::CircuitOpen);
    r.retry_after()
}

/// A service that fails when asked to.
pub(crate) fn flaky(
) -> impl Service<bool, Response = (), Error = &'static str, Future = impl Send> + Clone {
    service_fn(|fail: bool| async move {
        if fail {
            Err("down")
        } else {
            Ok(())
        }
    })
}

pub(crate) fn consecutive(n: u32) -> seawall_breaker::CircuitBreakerBuilder {
    CircuitBreakerLayer::builder()
        .consecutive_failures(n)
        .failure_rate(None)
        .open_duration(secs(5))
        .fixed_open_duration()
}
