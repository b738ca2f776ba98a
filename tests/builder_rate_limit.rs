//! `ServiceBuilder::with_rate_limit` puts Seawall's rate limit in a tower stack.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use seawall::core::find_rejection;
use seawall::prelude::*;
use tower::{service_fn, ServiceBuilder, ServiceExt};

#[tokio::test(start_paused = true)]
async fn with_rate_limit_refuses_past_the_rate_across_clones() {
    let service = ServiceBuilder::new()
        .with_rate_limit(
            RateLimitLayer::builder(2, Duration::from_secs(1))
                .build()
                .unwrap(),
        )
        .service(service_fn(|n: u32| async move { Ok::<_, BoxError>(n) }));
    // Every request through a fresh clone, as axum does: the limit is shared.
    assert_eq!(service.clone().oneshot(1).await.unwrap(), 1);
    assert_eq!(service.clone().oneshot(2).await.unwrap(), 2);
    let refused = service.clone().oneshot(3).await.unwrap_err();
    let rejection = find_rejection(refused.as_ref()).expect("a rate-limit rejection");
    assert!(rejection.retry_after().is_some_and(|d| d > Duration::ZERO));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(service.oneshot(4).await.unwrap(), 4);
}
