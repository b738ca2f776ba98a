//! Each layer's configuration on its own: read from TOML and turned into its layer
//! (`into_layer`), it behaves as the same layer built in code, against the same scripted
//! upstream in paused time. Every trace is also checked for the behaviour the settings
//! ask for, so that a setting the file dropped on the way would show.
#![cfg(all(feature = "stack", feature = "chaos", feature = "rate-limit"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::Full;
use seawall::core::{find_rejection, BoxError};
use seawall::http::{HttpClassifier, ReplayLayer};
use seawall::stack::{
    from_toml, BreakerConfig, ChaosConfig, DeadlineConfig, EndpointBreakerConfig, HedgeConfig,
    RateLimitConfig, RetryConfig, ShedConfig, ThrottleConfig, TimeoutConfig,
};
use tokio::time::Instant;
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};

const MS: Duration = Duration::from_millis(1);

type Body = Full<Bytes>;
type Response = http::Response<()>;

fn request(host: &str) -> http::Request<Body> {
    http::Request::get(format!("http://{host}/"))
        .body(Body::new(Bytes::new()))
        .unwrap()
}

/// An upstream whose `n`-th call (from 1) waits `script(n).1` and answers `script(n).0`, or
/// never answers when that is `None`. Counts its calls.
#[allow(clippy::type_complexity)]
fn upstream<Req: Send + 'static>(
    script: fn(usize) -> (Option<u16>, Duration),
) -> (
    impl Service<
            Req,
            Response = Response,
            Error = BoxError,
            Future = impl std::future::Future<Output = Result<Response, BoxError>> + Send,
        > + Clone
        + Send,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = service_fn({
        let calls = calls.clone();
        move |_: Req| {
            let (status, wait) = script(calls.fetch_add(1, Ordering::SeqCst) + 1);
            async move {
                tokio::time::sleep(wait).await;
                match status {
                    Some(status) => Ok(http::Response::builder().status(status).body(()).unwrap()),
                    None => std::future::pending().await,
                }
            }
        }
    });
    (service, calls)
}

/// What a caller sees: a status, or the kind of Seawall rejection, or the error.
fn outcome<B>(result: &Result<http::Response<B>, BoxError>) -> String {
    match result {
        Ok(response) => response.status().as_u16().to_string(),
        Err(error) => match find_rejection(error.as_ref()) {
            Some(rejection) => format!("{:?}", rejection.kind()),
            None => error.to_string(),
        },
    }
}

/// `n` requests to `host`, one after another: when each ended (ms) and how.
async fn sequential<S, B>(service: S, n: usize, host: &str) -> Vec<(u128, String)>
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone,
    S::Error: Into<BoxError>,
{
    let start = Instant::now();
    let mut trace = Vec::new();
    for _ in 0..n {
        let result = service
            .clone()
            .oneshot(request(host))
            .await
            .map_err(Into::into);
        trace.push((start.elapsed().as_millis(), outcome(&result)));
    }
    trace
}

#[tokio::test(start_paused = true)]
async fn retry_from_a_file_retries_as_from_code() {
    let config: RetryConfig = from_toml(
        r#"
        max_attempts = 3
        backoff = "100ms"
        max_backoff = "100ms"
        budget_ratio = 0.5
        seed = 7
        "#,
    )
    .unwrap();
    let code = seawall::retry::RetryLayer::builder()
        .policy(seawall::retry::HttpPolicy::new())
        .max_attempts(3)
        .backoff(seawall::retry::Backoff::exponential(100 * MS).cap(100 * MS))
        .budget(Arc::new(
            seawall::retry::RetryBudget::builder()
                .percent_can_retry(0.5)
                .build()
                .unwrap(),
        ))
        .seed(7)
        .build()
        .unwrap();
    let mut traces = Vec::new();
    for layer in [config.into_layer().unwrap(), code] {
        // 503, 503, 200, then always 503.
        let (inner, calls) = upstream(|n| (Some(if n == 3 { 200 } else { 503 }), 10 * MS));
        let service = ServiceBuilder::new()
            .layer(ReplayLayer::new(1024))
            .layer(layer)
            .service(inner);
        let trace = sequential(service, 2, "a").await;
        traces.push((trace, calls.load(Ordering::SeqCst)));
    }
    assert_eq!(traces[0], traces[1]);
    let (trace, calls) = &traces[0];
    assert_eq!(trace[0].1, "200", "two retries got the 200");
    assert_eq!(
        (trace[1].1.as_str(), *calls),
        ("503", 6),
        "three attempts each"
    );
}

#[tokio::test(start_paused = true)]
async fn breakers_from_a_file_trip_as_from_code() {
    let text = "consecutive_failures = 3\nmin_calls = 100\nopen_duration = \"1s\"\nprobes = 1";
    let config: BreakerConfig = from_toml(text).unwrap();
    let code = seawall::breaker::http::builder()
        .consecutive_failures(3)
        .min_calls(100)
        .open_duration(Duration::from_secs(1))
        .probes(1);

    // A plain breaker: three 503s, then failed fast until the open time ends.
    let mut traces = Vec::new();
    for layer in [
        config.clone().into_layer().unwrap(),
        code.clone().build().unwrap(),
    ] {
        let (inner, _) = upstream(|_| (Some(503), MS));
        let service = layer.layer(inner);
        let mut trace = sequential(service.clone(), 5, "a").await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        trace.extend(sequential(service, 2, "a").await);
        traces.push(trace);
    }
    assert_eq!(traces[0], traces[1]);
    let kinds: Vec<_> = traces[0].iter().map(|(_, kind)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "503",
            "503",
            "503",
            "CircuitOpen",
            "CircuitOpen",
            "503",
            "CircuitOpen"
        ]
    );

    // Keyed: host `a` trips, `b` is still served.
    let host = |r: &http::Request<Body>| r.uri().host().unwrap_or_default().to_owned();
    let mut traces = Vec::new();
    for layer in [
        config.clone().into_keyed(host).unwrap(),
        seawall::breaker::KeyedCircuitBreakerBuilder::new(host)
            .breaker(code.clone())
            .build()
            .unwrap(),
    ] {
        let (inner, _) = upstream(|n| (Some(if n <= 3 { 503 } else { 200 }), MS));
        let service = layer.layer(inner);
        let mut trace = sequential(service.clone(), 4, "a").await;
        trace.extend(sequential(service, 1, "b").await);
        traces.push(trace);
    }
    assert_eq!(traces[0], traces[1]);
    assert_eq!(traces[0][3].1, "CircuitOpen");
    assert_eq!(traces[0][4].1, "200");

    // Per endpoint: the endpoint reports itself ejected once its breaker opens.
    let config: EndpointBreakerConfig =
        from_toml(&format!("max_ejected = 1.0\n[breaker]\n{text}")).unwrap();
    let code = seawall::breaker::endpoint::EndpointBreakerLayer::builder()
        .breaker(code)
        .max_ejected(1.0)
        .build()
        .unwrap();
    let mut traces = Vec::new();
    for layer in [config.into_layer().unwrap(), code] {
        let (inner, _) = upstream(|_| (Some(503), MS));
        let mut endpoint = layer.layer(inner);
        let mut ejected = Vec::new();
        for _ in 0..4 {
            let ready = std::future::poll_fn(|cx| endpoint.poll_ready(cx)).now_or_never();
            ejected.push((ready.is_some(), endpoint.is_ejected()));
            if ready.is_some() {
                endpoint.call(request("a")).await.unwrap();
            }
        }
        traces.push(ejected);
    }
    assert_eq!(traces[0], traces[1]);
    // Three 503s trip the breaker; the endpoint is then not ready, and ejected.
    assert_eq!(
        traces[0],
        [(true, false), (true, false), (true, false), (false, true)]
    );
}

/// Four requests at once through `service`: when each ended and how, in order of ending.
async fn concurrent<S, B>(service: S) -> Vec<(u128, String)>
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move {
                let result = service.oneshot(request("a")).await.map_err(Into::into);
                (start.elapsed().as_millis(), outcome(&result))
            })
        })
        .collect();
    let mut trace = Vec::new();
    for task in tasks {
        trace.push(task.await.unwrap());
    }
    trace.sort();
    trace
}

/// An upstream that takes a second to answer 200.
fn slow(_: usize) -> (Option<u16>, Duration) {
    (Some(200), Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn shedding_from_a_file_admits_queues_and_refuses_as_from_code() {
    let config: ShedConfig = from_toml(
        r#"
        critical_reserve = 0.0
        sheddable_reserve = 0.0
        limit = { algorithm = "fixed", limit = 2 }
        queue = { capacity = 1, max_wait = "100ms" }
        "#,
    )
    .unwrap();
    let code = seawall::shed::ShedLayer::builder()
        .limit(seawall::shed::limit::Fixed::new(2))
        .queue(1, 100 * MS)
        .build()
        .unwrap();
    let from_file = concurrent(config.into_layer().unwrap().layer(upstream(slow).0)).await;
    let from_code = concurrent(code.layer(upstream(slow).0)).await;
    assert_eq!(from_file, from_code);
    let expected = [
        (0, "Overloaded"),   // the queue is full: refused at once
        (100, "Overloaded"), // waited its max_wait in the queue
        (1000, "200"),
        (1000, "200"),
    ];
    let got: Vec<_> = from_file.iter().map(|(t, o)| (*t, o.as_str())).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn every_limit_is_chosen_by_name_with_its_knobs() {
    use seawall::shed::limit::{Aimd, Gradient2, GradientController, Vegas, Windowed};
    use seawall::shed::ShedLayer;
    let limit = |text: &str| {
        from_toml::<ShedConfig>(&format!("[limit]\n{text}"))
            .unwrap()
            .into_layer()
            .unwrap()
            .limit()
    };
    let aimd = Aimd::builder()
        .initial_limit(33)
        .min_limit(10)
        .build()
        .unwrap();
    let vegas = Vegas::builder().initial_limit(44).build().unwrap();
    let gradient2 = Gradient2::builder().initial_limit(55).build().unwrap();
    let envoy = GradientController::builder()
        .min_concurrency(6)
        .build()
        .unwrap();
    let from_code = [
        ShedLayer::builder().limit(aimd).build().unwrap().limit(),
        ShedLayer::builder()
            .limit(Windowed::new(vegas))
            .build()
            .unwrap()
            .limit(),
        ShedLayer::builder()
            .limit(Windowed::new(gradient2))
            .build()
            .unwrap()
            .limit(),
        ShedLayer::builder().limit(envoy).build().unwrap().limit(),
    ];
    let from_file = [
        limit("algorithm = \"aimd\"\ninitial_limit = 33\nmin_limit = 10"),
        limit("algorithm = \"vegas\"\ninitial_limit = 44\nwindow = \"500ms\""),
        limit("algorithm = \"gradient2\"\ninitial_limit = 55"),
        limit("algorithm = \"envoy\"\nmin_concurrency = 6"),
    ];
    assert_eq!(from_file, from_code);
    assert_eq!(&from_file[..3], [33, 44, 55]);
    assert_eq!(limit("algorithm = \"fixed\"\nlimit = 7"), 7);
}

#[tokio::test(start_paused = true)]
async fn the_throttle_from_a_file_refuses_locally_as_from_code() {
    let config: ThrottleConfig = from_toml("k = 1.5\nwindow = \"10s\"\nseed = 3").unwrap();
    let code = seawall::shed::ThrottleLayer::builder()
        .k(1.5)
        .window(Duration::from_secs(10))
        .seed(3)
        .classify(HttpClassifier::new())
        .build()
        .unwrap();
    let mut traces = Vec::new();
    for layer in [config.into_layer().unwrap(), code] {
        let (inner, calls) = upstream(|_| (Some(503), MS));
        let trace = sequential(layer.layer(inner), 200, "a").await;
        traces.push((trace, calls.load(Ordering::SeqCst)));
    }
    assert_eq!(traces[0], traces[1]);
    let refused = traces[0]
        .0
        .iter()
        .filter(|(_, o)| o == "Overloaded")
        .count();
    assert!(refused > 100, "refused {refused} of 200 locally");
    assert_eq!(traces[0].1, 200 - refused, "a local refusal is never sent");
}

#[tokio::test(start_paused = true)]
async fn a_hedge_from_a_file_goes_out_after_its_delay_as_from_code() {
    let config: HedgeConfig = from_toml("delay = \"50ms\"").unwrap();
    let code = seawall::hedge::HedgeLayer::builder()
        .policy(seawall::hedge::HttpPolicy::new())
        .delay(50 * MS)
        .build()
        .unwrap();
    let mut traces = Vec::new();
    for layer in [config.into_layer().unwrap(), code] {
        // The first call hangs; the hedge is answered after 10 ms.
        let (inner, calls) = upstream(|n| (if n == 1 { None } else { Some(200) }, 10 * MS));
        let service = ServiceBuilder::new()
            .layer(ReplayLayer::new(1024))
            .layer(layer)
            .service(inner);
        let trace = sequential(service, 1, "a").await;
        traces.push((trace, calls.load(Ordering::SeqCst)));
    }
    assert_eq!(traces[0], traces[1]);
    assert_eq!(traces[0], (vec![(60, "200".to_owned())], 2));
}

#[tokio::test(start_paused = true)]
async fn timeouts_from_a_file_time_out_as_from_code() {
    let config: TimeoutConfig = from_toml("timeout = \"100ms\"").unwrap();
    let hang = |_| (Some(200), Duration::from_secs(1));
    let total = [
        sequential(config.into_layer().unwrap().layer(upstream(hang).0), 1, "a").await,
        sequential(
            seawall::timeout::TimeoutLayer::new(100 * MS)
                .unwrap()
                .layer(upstream(hang).0),
            1,
            "a",
        )
        .await,
    ];
    assert_eq!(total[0], total[1]);
    assert_eq!(total[0], [(100, "DeadlineExceeded".to_owned())]);
    let attempt = [
        sequential(
            config.into_attempt_layer().unwrap().layer(upstream(hang).0),
            1,
            "a",
        )
        .await,
        sequential(
            seawall::timeout::AttemptTimeoutLayer::new(100 * MS)
                .unwrap()
                .layer(upstream(hang).0),
            1,
            "a",
        )
        .await,
    ];
    assert_eq!(attempt[0], attempt[1]);
    assert_eq!(attempt[0][0].0, 100);
    assert_ne!(attempt[0][0].1, "200");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_reader_from_a_file_caps_and_defaults_as_from_code() {
    let config: DeadlineConfig =
        from_toml("max_timeout = \"10s\"\ndefault_timeout = \"2s\"").unwrap();
    let code = seawall::timeout::ReceiveDeadlineLayer::builder()
        .max_timeout(Duration::from_secs(10))
        .default_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let mut traces = Vec::new();
    for layer in [config.clone().into_layer().unwrap(), code] {
        let service = layer.layer(service_fn(|_: http::Request<Body>| async {
            let left = seawall::core::deadline::Deadline::current().map(|d| d.remaining());
            Ok::<_, BoxError>(left)
        }));
        let mut left = Vec::new();
        for header in [None, Some("60000"), Some("500")] {
            let mut request = request("a");
            if let Some(ms) = header {
                request
                    .headers_mut()
                    .insert("seawall-deadline-ms", ms.parse().unwrap());
            }
            left.push(service.clone().oneshot(request).await.unwrap());
        }
        traces.push(left);
    }
    assert_eq!(traces[0], traces[1]);
    let secs = |s: f64| Some(Duration::from_secs_f64(s));
    assert_eq!(traces[0], [secs(2.0), secs(10.0), secs(0.5)]);
}

#[tokio::test(start_paused = true)]
async fn chaos_from_a_file_hits_the_same_requests_as_from_code() {
    let config: ChaosConfig = from_toml("rate = 0.3\nseed = 11").unwrap();
    let code = seawall::chaos::InjectFaultLayer::new(
        seawall::chaos::Injection::builder()
            .rate(0.3)
            .seed(11)
            .build()
            .unwrap(),
        seawall::chaos::InjectedFault::new,
    );
    let from_file = sequential(
        config
            .clone()
            .into_fault_layer()
            .unwrap()
            .layer(upstream(|_| (Some(200), MS)).0),
        100,
        "a",
    )
    .await;
    let from_code = sequential(code.layer(upstream(|_| (Some(200), MS)).0), 100, "a").await;
    assert_eq!(from_file, from_code);
    let hit = from_file.iter().filter(|(_, o)| o != "200").count();
    assert!(
        (15..=45).contains(&hit),
        "{hit} of 100 hit at a rate of 0.3"
    );

    let config: ChaosConfig = from_toml("rate = 1.0\nlatency = \"40ms\"").unwrap();
    let delayed = sequential(
        config
            .into_latency_layer()
            .unwrap()
            .layer(upstream(|_| (Some(200), MS)).0),
        1,
        "a",
    )
    .await;
    assert_eq!(delayed, [(41, "200".to_owned())]);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_from_a_file_limits_as_from_code() {
    let config: RateLimitConfig = from_toml("requests = 2\nper = \"1s\"").unwrap();
    let code = seawall::rate_limit::RateLimitLayer::builder(2, Duration::from_secs(1))
        .build()
        .unwrap();
    let mut traces = Vec::new();
    for layer in [config.clone().into_layer().unwrap(), code] {
        let service = layer.layer(upstream(|_| (Some(200), Duration::ZERO)).0);
        let mut trace = sequential(service.clone(), 3, "a").await;
        tokio::time::sleep(500 * MS).await;
        trace.extend(sequential(service, 2, "a").await);
        traces.push(trace);
    }
    assert_eq!(traces[0], traces[1]);
    let kinds: Vec<_> = traces[0].iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(kinds, ["200", "200", "RateLimited", "200", "RateLimited"]);

    // Keyed: each host its own quota.
    let host = |r: &http::Request<Body>| r.uri().host().unwrap_or_default().to_owned();
    let keyed = config
        .into_keyed(seawall::rate_limit::KeyFn::new(host))
        .unwrap();
    let service = keyed.layer(upstream(|_| (Some(200), Duration::ZERO)).0);
    let a = sequential(service.clone(), 3, "a").await;
    let b = sequential(service, 1, "b").await;
    assert_eq!(a[2].1, "RateLimited");
    assert_eq!(b[0].1, "200");
}
