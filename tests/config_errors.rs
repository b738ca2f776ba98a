//! Every invalid configuration, of a pipeline or of one layer, is an error that names its
//! field, never a panic: read from TOML and built (`into_layer`), as a user would.
#![cfg(all(feature = "stack", feature = "chaos", feature = "rate-limit"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seawall::core::ConfigError;
use seawall::stack::{
    from_toml, BreakerConfig, ChaosConfig, ClientConfig, DeadlineConfig, EndpointBreakerConfig,
    HedgeConfig, HedgingConfig, RateLimitConfig, RetryConfig, ServerConfig, ShedConfig,
    ThrottleConfig, TimeoutConfig,
};

/// Reads `text` as the configuration `kind` names and builds it.
fn check(kind: &str, text: &str) -> Result<(), ConfigError> {
    let host = |r: &http::Request<()>| r.uri().host().unwrap_or_default().to_owned();
    match kind {
        "client" => ClientConfig::from_toml(text).map(drop),
        "hedging" => HedgingConfig::from_toml(text).map(drop),
        "server" => ServerConfig::from_toml(text).map(drop),
        "retry" => from_toml::<RetryConfig>(text)?.into_layer().map(drop),
        "breaker" => from_toml::<BreakerConfig>(text)?.into_layer().map(drop),
        "keyed" => from_toml::<BreakerConfig>(text)?.into_keyed(host).map(drop),
        "endpoint" => from_toml::<EndpointBreakerConfig>(text)?
            .into_layer()
            .map(drop),
        "shed" => from_toml::<ShedConfig>(text)?.into_layer().map(drop),
        "throttle" => from_toml::<ThrottleConfig>(text)?.into_layer().map(drop),
        "hedge" => from_toml::<HedgeConfig>(text)?.into_layer().map(drop),
        "timeout" => from_toml::<TimeoutConfig>(text)?.into_layer().map(drop),
        "attempt_timeout" => from_toml::<TimeoutConfig>(text)?
            .into_attempt_layer()
            .map(drop),
        "deadline" => from_toml::<DeadlineConfig>(text)?.into_layer().map(drop),
        "chaos" => {
            let config = from_toml::<ChaosConfig>(text)?;
            config.clone().into_fault_layer()?;
            config.into_latency_layer().map(drop)
        }
        "rate_limit" => {
            let config = from_toml::<RateLimitConfig>(text)?;
            config.clone().into_layer()?;
            config
                .into_keyed(seawall::rate_limit::KeyFn::new(host))
                .map(drop)
        }
        other => panic!("no configuration {other}"),
    }
}

/// Invalid configurations, each with the field its error must name.
const INVALID: &[(&str, &str, &str)] = &[
    // The pipelines.
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
        "[shed.limit]\nalgorithm = \"fixed\"\nlimit = 0",
        "server.shed.limit",
    ),
    (
        "server",
        "[shed.limit]\nalgorithm = \"aimd\"\nmin_limit = 50\nmax_limit = 10",
        "min_limit",
    ),
    (
        "server",
        "[shed.limit]\nalgorithm = \"gradient2\"\ntolerance = 0.5",
        "tolerance",
    ),
    (
        "server",
        "[shed.limit]\nalgorithm = \"envoy\"\nupdate_interval = \"0s\"",
        "update_interval",
    ),
    (
        "server",
        "[shed.limit]\nalgorithm = \"vegas\"\nwindow = \"0s\"",
        "server.shed.limit: window",
    ),
    (
        "server",
        "[shed.limit]\nalgorithm = \"bbr\"",
        "bbr",
    ),
    (
        "server",
        "[shed.limit]\nalgorithm = \"aimd\"\nsmoothing = 0.5",
        "smoothing",
    ),
    (
        "server",
        "[shed.queue]\ncapacity = 0\nmax_wait = \"10ms\"",
        "server.shed.queue.capacity",
    ),
    (
        "server",
        "[shed.queue]\ncapacity = 10",
        "max_wait",
    ),
    (
        "server",
        "[shed.queue]\ncapacity = 10\nmax_wait = \"10ms\"\ncodel = { target = \"0ms\", interval = \"100ms\" }",
        "server.shed.queue.codel.target",
    ),
    ("client", "[throttle]\nk = 0.5", "client.throttle: k"),
    (
        "client",
        "[throttle]\nmax_probability = 1.5",
        "client.throttle: max_probability",
    ),
    (
        "client",
        "[throttle]\nwindow = \"10ms\"",
        "client.throttle: window",
    ),
    ("client", "[throttle]\nkay = 2", "kay"),
    (
        "server",
        "[breaker]\nwindow = \"15s\"",
        "server.breaker.window",
    ),
    (
        "server",
        "[deadline]\nmin_remaining = \"10m\"",
        "server.deadline: max_timeout must be above min_remaining",
    ),
    (
        "server",
        "[deadline]\nmax_timeout = \"0s\"",
        "server.deadline: max_timeout",
    ),
    ("server", "[deadline]\nmax_timeout = \"1d\"", "max_timeout"),
    (
        "server",
        "[deadline]\nmax_timeout = \"10s\"\ndefault_timeout = \"20s\"",
        "server.deadline: default_timeout",
    ),
    ("server", "[shed]\npriority = \"high\"", "priority"),
    // Each layer's configuration on its own.
    ("retry", "max_attempts = 0", "retry.max_attempts"),
    ("retry", "budget_ratio = -1.0", "retry.budget_ratio"),
    ("retry", "backoff = \"1s\"\nmax_backoff = \"10ms\"", "retry.max_backoff"),
    ("retry", "jitter = \"full\"", "jitter"),
    ("breaker", "window = \"0s\"", "breaker.window"),
    ("breaker", "failure_rate = 2.0", "breaker.failure_rate"),
    ("breaker", "probes = 1000", "breaker.probes"),
    ("keyed", "max_keys = 0", "breaker.max_keys"),
    ("endpoint", "max_ejected = 1.5", "endpoint: max_ejected"),
    ("endpoint", "[breaker]\nmin_calls = 0", "endpoint.breaker.min_calls"),
    ("endpoint", "ejected = 0.5", "ejected"),
    ("shed", "critical_reserve = 0.9\nsheddable_reserve = 0.1", "shed.sheddable_reserve"),
    ("shed", "[limit]\nalgorithm = \"vegas\"\nsmoothing = 0.0", "shed.limit: smoothing"),
    ("shed", "[limit]\nalgorithm = \"aimd\"\nbackoff = 0.2", "shed.limit: backoff"),
    ("shed", "[limit]\nalgorithm = \"fixed\"", "limit"),
    ("shed", "[queue]\ncapacity = 5\nmax_wait = \"0s\"", "shed.queue.max_wait"),
    ("throttle", "max_probability = 2", "throttle: max_probability"),
    ("throttle", "window = \"500ms\"", "throttle: window"),
    ("hedge", "percentile = 1.0", "hedge.percentile"),
    ("hedge", "delay = \"0s\"", "hedge.delay"),
    ("timeout", "timeout = \"0s\"", "timeout"),
    ("timeout", "", "timeout"),
    ("attempt_timeout", "timeout = \"0ms\"", "attempt_timeout: timeout"),
    ("deadline", "min_remaining = \"1m\"\nmax_timeout = \"30s\"", "deadline: max_timeout"),
    ("deadline", "default_timeout = \"10m\"", "deadline: default_timeout"),
    ("chaos", "rate = 1.5", "chaos: rate"),
    ("chaos", "rate = 0.5", "chaos.latency"),
    ("chaos", "seed = -1", "seed"),
    ("rate_limit", "requests = 0\nper = \"1s\"", "rate_limit: requests"),
    ("rate_limit", "requests = 10\nper = \"0s\"", "rate_limit: per"),
    ("rate_limit", "requests = 10\nper = \"1s\"\nburst = 0", "rate_limit: burst"),
    ("rate_limit", "per = \"1s\"", "requests"),
    ("rate_limit", "requests = 10\nper = \"1s\"\nmax_keys = 0", "rate_limit: max_keys"),
];

#[test]
fn every_invalid_configuration_names_its_field() {
    assert!(INVALID.len() >= 20);
    for (pipeline, text, field) in INVALID {
        let error = std::panic::catch_unwind(|| check(pipeline, text))
            .unwrap_or_else(|_| panic!("{pipeline} {text:?} panicked"))
            .expect_err(text);
        assert!(
            error.message().contains(field),
            "{pipeline} {text:?}: {error} does not name {field}"
        );
    }
}
