//! Configuration files for the standard pipelines: the same stack from TOML and from code
//! is the same stack (same values, same behaviour against a scripted upstream in paused
//! time); a configuration made in code is checked when built (the table of invalid files
//! is `tests/config_errors.rs`).
#![cfg(feature = "stack")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use seawall::core::{find_rejection, BoxError};
use seawall::http::ReplayableBody;
use seawall::stack::{
    BreakerConfig, ClientConfig, HedgeConfig, HedgingConfig, RetryConfig, ServerConfig,
};
use tokio::time::Instant;
use tower::{service_fn, ServiceExt};

const MS: Duration = Duration::from_millis(1);

const CLIENT_TOML: &str = r#"
max_in_flight = 50
total_timeout = "2s"
attempt_timeout = "200ms"
replay_limit = 1024

[retry]
max_attempts = 4
backoff = "100ms"
max_backoff = "400ms"
budget_ratio = 0.5
budget_min_per_second = 5
allow_keyed_post = false
seed = 42

[breaker]
failure_rate = 0.6
window = "1s"
min_calls = 10
consecutive_failures = 5
open_duration = "750ms"
probes = 2
max_keys = 16
"#;

fn client_from_code() -> ClientConfig {
    ClientConfig {
        max_in_flight: 50,
        total_timeout: Duration::from_secs(2),
        attempt_timeout: 200 * MS,
        replay_limit: 1024,
        retry: RetryConfig {
            max_attempts: 4,
            backoff: 100 * MS,
            max_backoff: 400 * MS,
            budget_ratio: 0.5,
            budget_min_per_second: 5,
            allow_keyed_post: false,
            seed: Some(42),
        },
        breaker: BreakerConfig {
            failure_rate: 0.6,
            window: Duration::from_secs(1),
            min_calls: 10,
            consecutive_failures: 5,
            open_duration: 750 * MS,
            probes: 2,
            max_keys: 16,
            seed: None,
        },
        throttle: None,
    }
}

#[test]
fn a_file_and_code_give_the_same_configuration() {
    assert_eq!(
        ClientConfig::from_toml(CLIENT_TOML).unwrap(),
        client_from_code()
    );
    // What is left out keeps its default.
    assert_eq!(
        ClientConfig::from_toml("").unwrap(),
        ClientConfig::default()
    );
    assert_eq!(
        HedgingConfig::from_toml("").unwrap(),
        HedgingConfig::default()
    );
    assert_eq!(
        ServerConfig::from_toml("").unwrap(),
        ServerConfig::default()
    );
    // And a configuration written out reads back the same.
    let written = toml::to_string(&client_from_code()).unwrap();
    assert_eq!(
        ClientConfig::from_toml(&written).unwrap(),
        client_from_code()
    );
    let server = ServerConfig::from_toml(
        r#"
        [shed]
        limit = { algorithm = "gradient2", initial_limit = 30, window = "250ms" }
        queue = { capacity = 8, max_wait = "20ms", codel = { target = "5ms", interval = "100ms" } }
        "#,
    )
    .unwrap();
    assert_ne!(server, ServerConfig::default());
    let written = toml::to_string(&server).unwrap();
    assert_eq!(ServerConfig::from_toml(&written).unwrap(), server);
}

/// What the scripted upstream saw (when, with what deadline header) and what the caller
/// got (when, and which status or rejection).
type Trace = (Vec<(u128, String)>, Vec<(u128, String)>);

/// Five requests, one after another, through `config`'s pipeline to an upstream whose calls
/// follow a script: 503, hang, 200, then always 503.
async fn run(config: &ClientConfig) -> Trace {
    let start = Instant::now();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let upstream = service_fn({
        let seen = seen.clone();
        move |request: http::Request<ReplayableBody<Full<Bytes>>>| {
            let header = request.headers()["seawall-deadline-ms"]
                .to_str()
                .unwrap()
                .to_owned();
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push((start.elapsed().as_millis(), header));
                seen.len()
            };
            async move {
                let status = match n {
                    1 => 503,
                    2 => std::future::pending::<u16>().await,
                    3 => 200,
                    _ => 503,
                };
                Ok::<_, BoxError>(http::Response::builder().status(status).body(()).unwrap())
            }
        }
    });
    let client = config.service(upstream).unwrap();
    let mut answers = Vec::new();
    for _ in 0..5 {
        let request = http::Request::get("http://upstream.test/")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = match client.clone().oneshot(request).await {
            Ok(response) => response.status().to_string(),
            Err(error) => match find_rejection(error.as_ref()) {
                Some(rejection) => format!("{:?}", rejection.kind()),
                None => error.to_string(),
            },
        };
        answers.push((start.elapsed().as_millis(), answer));
    }
    let seen = seen.lock().unwrap().clone();
    (seen, answers)
}

#[tokio::test(start_paused = true)]
async fn a_file_and_code_give_the_same_behaviour() {
    let from_file = run(&ClientConfig::from_toml(CLIENT_TOML).unwrap()).await;
    let from_code = run(&client_from_code()).await;
    assert_eq!(from_file, from_code);

    // And the behaviour is the configuration's. The first request: 503, then an attempt
    // that hangs and is cut at 200 ms, then 200, each attempt carrying the time left of
    // the 2 s total. The second: 503 four times (`max_attempts`). The third: one more 503
    // makes five failures in a row, which opens the breaker (`consecutive_failures`), so
    // its retry and the next requests fail fast without reaching the upstream.
    let (seen, answers) = from_file;
    assert_eq!(seen[0], (0, "2000".to_owned()));
    assert!(seen[2].0 - seen[1].0 >= 200, "{seen:?}");
    let remaining: u128 = seen[2].1.parse().unwrap();
    assert_eq!(
        remaining,
        2000 - seen[2].0,
        "the time left when the attempt started"
    );
    let outcomes: Vec<&str> = answers.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "200 OK",
            "503 Service Unavailable",
            "CircuitOpen",
            "CircuitOpen",
            "CircuitOpen"
        ]
    );
    assert_eq!(seen.len(), 3 + 4 + 1, "{seen:?}");

    // A different configuration behaves differently: the test can tell them apart.
    let other = run(&ClientConfig {
        attempt_timeout: 300 * MS,
        ..client_from_code()
    })
    .await;
    assert_ne!(other, (seen, answers));
}

#[test]
fn building_from_code_checks_the_same_rules() {
    // A configuration made in code is checked when it is built, not at the first request.
    let client = ClientConfig {
        attempt_timeout: Duration::from_secs(20),
        ..ClientConfig::default()
    };
    let error = client.build(reqwest::Client::new()).unwrap_err();
    assert!(
        error.message().contains("client.attempt_timeout"),
        "{error}"
    );

    let hedging = HedgingConfig {
        hedge: HedgeConfig {
            percentile: 1.0,
            ..HedgeConfig::default()
        },
        ..HedgingConfig::default()
    };
    let error = hedging.build(reqwest::Client::new()).unwrap_err();
    assert!(
        error.message().contains("hedging.hedge.percentile"),
        "{error}"
    );

    let server = ServerConfig {
        breaker: Some(BreakerConfig {
            window: Duration::from_secs(1),
            ..BreakerConfig::default()
        }),
        ..ServerConfig::default()
    };
    let error = server.layer().unwrap_err();
    assert!(error.message().contains("server.breaker.window"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn the_client_refuses_past_max_in_flight_without_calling_the_upstream() {
    let calls = Arc::new(Mutex::new(0));
    let upstream = service_fn({
        let calls = calls.clone();
        move |_: http::Request<ReplayableBody<Full<Bytes>>>| {
            *calls.lock().unwrap() += 1;
            std::future::pending::<Result<http::Response<()>, BoxError>>()
        }
    });
    let config = ClientConfig::from_toml("max_in_flight = 2").unwrap();
    let client = config.service(upstream).unwrap();
    let request = || {
        http::Request::get("http://upstream.test/")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(client.clone().oneshot(request())))
        .collect();
    for _ in 0..100 {
        if *calls.lock().unwrap() == 2 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let error = client.clone().oneshot(request()).await.unwrap_err();
    let kind = find_rejection(error.as_ref()).map(|r| r.kind());
    assert_eq!(
        kind,
        Some(seawall::core::RejectionKind::Overloaded),
        "{error}"
    );
    assert_eq!(*calls.lock().unwrap(), 2);
    for task in held {
        task.abort();
    }
}

/// `n` requests through a client pipeline read from `text` to an upstream that always
/// answers 503: how many reached the upstream, and how many were refused as `Overloaded`.
async fn against_an_overloaded_upstream(text: &str, n: usize) -> (usize, usize) {
    let calls = Arc::new(Mutex::new(0));
    let upstream = service_fn({
        let calls = calls.clone();
        move |_: http::Request<ReplayableBody<Full<Bytes>>>| {
            *calls.lock().unwrap() += 1;
            async { Ok::<_, BoxError>(http::Response::builder().status(503).body(()).unwrap()) }
        }
    });
    let client = ClientConfig::from_toml(text)
        .unwrap()
        .service(upstream)
        .unwrap();
    let mut overloaded = 0;
    for _ in 0..n {
        let request = http::Request::get("http://upstream.test/")
            .body(Full::new(Bytes::new()))
            .unwrap();
        if let Err(error) = client.clone().oneshot(request).await {
            let kind = find_rejection(error.as_ref()).map(|r| r.kind());
            assert_eq!(kind, Some(seawall::core::RejectionKind::Overloaded));
            overloaded += 1;
        }
    }
    let calls = *calls.lock().unwrap();
    (calls, overloaded)
}

#[tokio::test(start_paused = true)]
async fn the_client_throttle_is_off_by_default_and_refuses_locally_when_on() {
    // No retries and a breaker that never trips, so only the throttle can refuse.
    let base = "[retry]\nmax_attempts = 1\n[breaker]\nconsecutive_failures = 1000000\nmin_calls = 1000000\n";
    assert_eq!(ClientConfig::default().throttle, None);
    assert_eq!(against_an_overloaded_upstream(base, 200).await, (200, 0));

    let (calls, overloaded) =
        against_an_overloaded_upstream(&format!("{base}[throttle]\nseed = 5\n"), 200).await;
    assert_eq!(calls + overloaded, 200, "a local refusal is never sent");
    assert!(overloaded > 100, "refused {overloaded} of 200 locally");
}
