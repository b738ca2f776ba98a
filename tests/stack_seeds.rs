//! The standard stacks repeat exactly in a simulation once their seeds are set: nothing in
//! them seeds itself from entropy (which `seawall_sim::run_deterministic` refuses).
#![cfg(feature = "stack")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use http_body_util::Empty;
use seawall::core::rng::entropy_seedings_on_this_thread;
use seawall::core::BoxError;
use seawall::http::ReplayableBody;
use seawall::stack::{BreakerConfig, ClientConfig, RetryConfig, ServerConfig};
use tower::ServiceExt;

#[test]
fn a_server_stack_without_breakers_draws_nothing_from_entropy() {
    let before = entropy_seedings_on_this_thread();
    let _layer = ServerConfig::default().layer().unwrap();
    assert_eq!(entropy_seedings_on_this_thread(), before);
}

async fn ok(
    _: http::Request<ReplayableBody<Empty<Bytes>>>,
) -> Result<http::Response<Empty<Bytes>>, BoxError> {
    Ok(http::Response::new(Empty::new()))
}

/// Entropy drawn by building `config`'s client and sending it one request.
async fn drawn(config: ClientConfig) -> u64 {
    let before = entropy_seedings_on_this_thread();
    let client = config.service(tower::service_fn(ok)).unwrap();
    let mut request = http::Request::new(Empty::<Bytes>::new());
    *request.uri_mut() = http::Uri::from_static("http://inventory.internal/items");
    client.oneshot(request).await.unwrap();
    entropy_seedings_on_this_thread() - before
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_client_with_its_retry_and_breaker_seeds_set_draws_nothing_from_entropy() {
    let retry = RetryConfig {
        seed: Some(1),
        ..RetryConfig::default()
    };
    let seeded = ClientConfig {
        retry: retry.clone(),
        breaker: BreakerConfig {
            seed: Some(2),
            ..BreakerConfig::default()
        },
        ..ClientConfig::default()
    };
    assert_eq!(drawn(seeded).await, 0);
    // Without the breaker's seed, the breakers (the authority's, the table's overflow one)
    // seed themselves.
    let unseeded = ClientConfig {
        retry,
        ..ClientConfig::default()
    };
    assert!(drawn(unseeded).await > 0);
}

#[test]
fn the_breaker_seed_is_read_from_toml() {
    let config = ClientConfig::from_toml("[breaker]\nseed = 7\n").unwrap();
    assert_eq!(config.breaker.seed, Some(7));
}
