//! Configuration files for the standard pipelines: the same stack from TOML and from code
//! is the same stack (same values, same behaviour against a scripted upstream in paused
//! time), and every invalid configuration is an error naming its field, never a panic.
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

/// Invalid configurations, each with the field its error must name.
const INVALID: &[(&str, &str, &str)] = &[
    (
        "client",
        r#"attempt_timeout = "20s""#,
        "client.attempt_timeout",
    ),
    ("client", r#"total_timeout = "0s""#, "client.total_timeout"),
    ("client", "max_in_flight = 0", "client.max_in_flight"),
    (
        "client",
        "[retry]\nmax_attempts = 0",
        "client.retry.max_attempts",
    ),
    (
        "client",
        "[retry]\nbudget_ratio = 1.5",
        "client.retry.budget_ratio",
    ),
    (
        "client",
        "[retry]\nbudget_ratio = nan",
        "client.retry.budget_ratio",
    ),
    (
        "client",
        "[retry]\nbackoff = \"0ms\"",
        "client.retry.backoff",
    ),
    (
        "client",
        "[retry]\nbackoff = \"5s\"\nmax_backoff = \"1s\"",
        "client.retry.max_backoff",
    ),
    (
        "client",
        "[breaker]\nwindow = \"5s\"",
        "client.breaker.window",
    ),
    (
        "client",
        "[breaker]\nwindow = \"0s\"",
        "client.breaker.window",
    ),
    (
        "client",
        "[breaker]\nfailure_rate = -0.1",
        "client.breaker.failure_rate",
    ),
    (
        "client",
        "[breaker]\nfailure_rate = 0.0",
        "client.breaker.failure_rate",
    ),
    ("client", "[breaker]\nprobes = 0", "client.breaker.probes"),
    (
        "client",
        "[breaker]\nmin_calls = 0",
        "client.breaker.min_calls",
    ),
    (
        "client",
        "[breaker]\nopen_duration = \"0s\"",
        "client.breaker.open_duration",
    ),
    (
        "client",
        "[breaker]\nmax_keys = 0",
        "client.breaker.max_keys",
    ),
    ("client", "bogus = 1", "bogus"),
    ("client", "[retry]\nretries = 3", "retries"),
    ("client", r#"total_timeout = "10""#, "total_timeout"),
    ("client", r#"total_timeout = "1.5s""#, "total_timeout"),
    ("client", r#"max_in_flight = "many""#, "max_in_flight"),
    (
        "hedging",
        r#"attempt_timeout = "11s""#,
        "hedging.attempt_timeout",
    ),
    (
        "hedging",
        "[hedge]\npercentile = 0.3",
        "hedging.hedge.percentile",
    ),
    (
        "hedging",
        "[hedge]\nmax_extra_load = 2.0",
        "hedging.hedge.max_extra_load",
    ),
    ("hedging", "[hedge]\ndelay = \"20s\"", "hedging.hedge.delay"),
    (
        "hedging",
        "[hedge]\nmax_extra_attempts = 0",
        "hedging.hedge.max_extra_attempts",
    ),
    (
        "hedging",
        "[hedge]\nmin_win_rate = 7",
        "hedging.hedge.min_win_rate",
    ),
    (
        "hedging",
        "[breaker]\nwindow = \"1s\"",
        "hedging.breaker.window",
    ),
    ("server", r#"timeout = "0s""#, "server.timeout"),
    (
        "server",
        "[shed]\ncritical_reserve = 1.2",
        "server.shed.critical_reserve",
    ),
    (
        "server",
        "[shed]\ncritical_reserve = 0.6\nsheddable_reserve = 0.5",
        "server.shed.sheddable_reserve",
    ),
    (
        "server",
        "[shed]\nfixed_limit = 0",
        "server.shed.fixed_limit",
    ),
    (
        "server",
        "[breaker]\nwindow = \"15s\"",
        "server.breaker.window",
    ),
    (
        "server",
        "[deadline]\nmin_remaining = \"10m\"",
        "server.deadline.min_remaining",
    ),
    (
        "server",
        "[deadline]\nmax_timeout = \"0s\"",
        "server.deadline.max_timeout",
    ),
    ("server", "[deadline]\nmax_timeout = \"1d\"", "max_timeout"),
    ("server", "[shed]\npriority = \"high\"", "priority"),
];

#[test]
fn every_invalid_configuration_names_its_field() {
    assert!(INVALID.len() >= 20);
    for (pipeline, text, field) in INVALID {
        let error = std::panic::catch_unwind(|| match *pipeline {
            "client" => ClientConfig::from_toml(text).map(drop),
            "hedging" => HedgingConfig::from_toml(text).map(drop),
            _ => ServerConfig::from_toml(text).map(drop),
        })
        .unwrap_or_else(|_| panic!("{pipeline} {text:?} panicked"))
        .expect_err(text);
        assert!(
            error.message().contains(field),
            "{pipeline} {text:?}: {error} does not name {field}"
        );
    }
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
