//! The standard pipelines end to end: an axum server with `ServerConfig::layer` on
//! 127.0.0.1 (a port the OS picks), called by a reqwest client with `ClientConfig::build`.
#![cfg(feature = "stack")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use seawall::core::{find_rejection, RejectionKind};
use seawall::stack::{BreakerConfig, ClientConfig, HedgingConfig, ServerConfig};

/// Serves `app` on an ephemeral port of 127.0.0.1; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_client_and_a_server_with_the_standard_stacks_talk() {
    let attempts = Arc::new(AtomicU32::new(0));
    // The user's code: a router, and one line to give it the standard stack.
    let app = Router::new()
        .route(
            "/flaky",
            get({
                let attempts = attempts.clone();
                move |headers: HeaderMap| async move {
                    let n = attempts.fetch_add(1, Ordering::SeqCst);
                    let deadline = headers["seawall-deadline-ms"].to_str().unwrap().to_owned();
                    let status = if n == 0 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    };
                    (status, deadline)
                }
            }),
        )
        .layer(ServerConfig::default().layer().unwrap());
    let base = serve(app).await;

    // The user's code: three lines for a client with the standard stack.
    let client = ClientConfig::default()
        .build(reqwest::Client::new())
        .unwrap();
    let request = client
        .reqwest()
        .get(format!("{base}/flaky"))
        .build()
        .unwrap();
    let response = client.execute(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK, "the 503 was retried");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let deadline: u64 = response.text().await.unwrap().parse().unwrap();
    assert!(
        (1..=10_000).contains(&deadline),
        "the retry carried the time left of the 10 s total: {deadline} ms"
    );
    assert_eq!(client.budget().withdrawals(), 1);
}

#[tokio::test]
async fn a_full_server_refuses_by_priority_with_503_and_retry_after() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let entered = Arc::new(tokio::sync::Semaphore::new(0));
    let config = ServerConfig::from_toml(
        r#"
        [shed]
        limit = { algorithm = "fixed", limit = 4 }
        critical_reserve = 0.25
        sheddable_reserve = 0.5
        retry_after = "2s"
        "#,
    )
    .unwrap();
    let app = Router::new()
        .route(
            "/work",
            get({
                let (gate, entered) = (gate.clone(), entered.clone());
                move || async move {
                    entered.add_permits(1);
                    gate.acquire().await.unwrap().forget();
                    "done"
                }
            }),
        )
        .layer(config.layer().unwrap());
    let base = serve(app).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/work");
    let send = |priority: &'static str| http.get(&url).header("seawall-priority", priority).send();

    let enter = |n: u32| {
        let entered = entered.clone();
        async move {
            let wait = entered.acquire_many(n);
            let permits = tokio::time::timeout(Duration::from_secs(5), wait).await;
            permits.expect("admitted").unwrap().forget();
        }
    };

    // Sheddable requests may use 4 × (1 − 0.25 − 0.5) = 1 slot.
    let mut held = vec![tokio::spawn(send("sheddable"))];
    enter(1).await;
    let refused = send("sheddable").await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "2");

    // Normal ones may use 4 × (1 − 0.25) = 3: two more get in, then they are refused too.
    held.extend((0..2).map(|_| tokio::spawn(send("normal"))));
    enter(2).await;
    let status = send("normal").await.unwrap().status();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // An untrusted header cannot raise a request to critical: still refused.
    let status = send("critical").await.unwrap().status();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    gate.add_permits(3);
    for task in held {
        assert_eq!(task.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn per_route_breakers_fail_a_failing_route_fast_and_leave_the_rest_alone() {
    let down_calls = Arc::new(AtomicU32::new(0));
    let config = ServerConfig {
        breaker: Some(BreakerConfig {
            consecutive_failures: 3,
            open_duration: Duration::from_secs(30),
            ..BreakerConfig::default()
        }),
        breaker_skip: vec!["/health".to_owned()],
        ..ServerConfig::default()
    };
    let layer = config.layer().unwrap();
    let app = Router::new()
        .route(
            "/down",
            get({
                let down_calls = down_calls.clone();
                move || async move {
                    down_calls.fetch_add(1, Ordering::SeqCst);
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }),
        )
        .route("/health", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/up", get(|| async { "up" }))
        .layer(layer.clone());
    let base = serve(app).await;
    let http = reqwest::Client::new();

    for _ in 0..5 {
        let status = http
            .get(format!("{base}/down"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(
        down_calls.load(Ordering::SeqCst),
        3,
        "open after 3 failures"
    );
    let fast = http.get(format!("{base}/down")).send().await.unwrap();
    assert!(
        fast.headers().contains_key("retry-after"),
        "the breaker's 503"
    );

    for _ in 0..5 {
        let health = http.get(format!("{base}/health")).send().await.unwrap();
        assert!(
            !health.headers().contains_key("retry-after"),
            "never a breaker's"
        );
    }
    let up = http.get(format!("{base}/up")).send().await.unwrap();
    assert_eq!(up.status(), StatusCode::OK, "its own breaker, closed");
}

#[tokio::test]
async fn the_server_timeout_answers_504_and_the_client_total_timeout_gives_up() {
    let app = Router::new()
        .route("/hang", get(std::future::pending::<&'static str>))
        .layer(
            ServerConfig::from_toml(r#"timeout = "100ms""#)
                .unwrap()
                .layer()
                .unwrap(),
        );
    let base = serve(app).await;
    let raw = reqwest::get(format!("{base}/hang")).await.unwrap();
    assert_eq!(raw.status(), StatusCode::GATEWAY_TIMEOUT);

    // A client whose total is shorter than the server's timeout: it stops waiting at its
    // own deadline, and told the server so (which refuses 504 at the same moment).
    let client = ClientConfig::from_toml(
        r#"
        total_timeout = "50ms"
        attempt_timeout = "50ms"
        "#,
    )
    .unwrap()
    .build(reqwest::Client::new())
    .unwrap();
    let started = tokio::time::Instant::now();
    let request = client
        .reqwest()
        .get(format!("{base}/hang"))
        .build()
        .unwrap();
    let outcome = client.execute(request).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    match outcome {
        Err(error) => {
            let kind = find_rejection(error.as_ref()).map(|r| r.kind());
            assert_eq!(kind, Some(RejectionKind::DeadlineExceeded), "{error}");
        }
        Ok(response) => assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT),
    }
}

#[tokio::test]
async fn the_hedging_client_gets_a_hung_request_answered_by_its_hedge() {
    let calls = Arc::new(AtomicU32::new(0));
    let app = Router::new()
        .route(
            "/item",
            get({
                let calls = calls.clone();
                move || async move {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    if n == 0 {
                        // The first call hangs, as one slow replica would.
                        std::future::pending::<()>().await;
                    }
                    format!("answered by call {n}")
                }
            }),
        )
        .layer(ServerConfig::default().layer().unwrap());
    let base = serve(app).await;

    let config = HedgingConfig::from_toml("[hedge]\ndelay = \"50ms\"").unwrap();
    let client = config.build(reqwest::Client::new()).unwrap();
    let started = tokio::time::Instant::now();
    let request = client
        .reqwest()
        .get(format!("{base}/item"))
        .build()
        .unwrap();
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "answered by call 1");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "not the attempt timeout"
    );
    assert_eq!(client.stats().won, 1);
}

/// An upstream that never answers, counting its calls and keeping the deadline headers it
/// was sent.
fn hung_upstream(
    sent: Arc<std::sync::Mutex<Vec<String>>>,
) -> impl tower::Service<
    http::Request<seawall::http::ReplayableBody<http_body_util::Empty<bytes::Bytes>>>,
    Response = http::Response<http_body_util::Empty<bytes::Bytes>>,
    Error = seawall::core::BoxError,
    Future: Send,
> + Clone
       + Send
       + Sync {
    tower::service_fn(move |request: http::Request<_>| {
        let header = request.headers()["seawall-deadline-ms"].to_str().unwrap();
        sent.lock().unwrap().push(header.to_owned());
        std::future::pending()
    })
}

/// The pipeline's deadlines are kept by the attempt timeout and the retries (the
/// `SendDeadline` layers only send and scope them): a caller's deadline shorter than the
/// total ends the call at that deadline, attempts are retried with the time left sent along,
/// and a hung upstream is given up on at the total.
#[tokio::test(start_paused = true)]
async fn the_client_pipeline_gives_up_at_the_callers_deadline_and_at_its_total() {
    use seawall::core::deadline::Deadline;
    use tower::ServiceExt;
    let get = || {
        http::Request::get("http://upstream.test/")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap()
    };
    let is_deadline = |error: &seawall::core::BoxError| {
        find_rejection(error.as_ref()).map(|r| r.kind()) == Some(RejectionKind::DeadlineExceeded)
    };
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = ClientConfig::default()
        .service(hung_upstream(Arc::clone(&sent)))
        .unwrap();

    // The caller's 500 ms, under the 3 s attempt timeout and the 10 s total.
    let started = tokio::time::Instant::now();
    let caller = Deadline::after(Duration::from_millis(500));
    let error = caller
        .scope(client.clone().oneshot(get()))
        .await
        .unwrap_err();
    assert!(is_deadline(&error), "{error}");
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    assert_eq!(
        *sent.lock().unwrap(),
        ["500"],
        "one attempt, told the deadline"
    );

    // No caller's deadline: attempts of 3 s, retried, all within the 10 s total.
    sent.lock().unwrap().clear();
    let started = tokio::time::Instant::now();
    let error = client.oneshot(get()).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 3, "the default three attempts: {sent:?}");
    assert_eq!(sent[0], "10000");
    let remaining: Vec<u64> = sent.iter().map(|ms| ms.parse().unwrap()).collect();
    assert!(remaining.windows(2).all(|w| w[1] < w[0] - 3000), "{sent:?}");
    assert!(
        error.is::<seawall::timeout::AttemptTimedOut>(),
        "the last attempt's timeout: {error}"
    );

    // A 5 s total: the second attempt is cut at the total, to the millisecond.
    let client = ClientConfig {
        total_timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    }
    .service(hung_upstream(Arc::new(std::sync::Mutex::new(Vec::new()))))
    .unwrap();
    let started = tokio::time::Instant::now();
    let error = client.oneshot(get()).await.unwrap_err();
    assert!(is_deadline(&error), "{error}");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

/// The same for the hedging pipeline: its deadlines are kept by the total timeout, the
/// attempt timeout and the hedge, which starts no attempt past the deadline.
#[tokio::test(start_paused = true)]
async fn the_hedging_pipeline_gives_up_at_the_callers_deadline_and_at_its_total() {
    use seawall::core::deadline::Deadline;
    use tower::ServiceExt;
    let get = || {
        http::Request::get("http://upstream.test/")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap()
    };
    let is_deadline = |error: &seawall::core::BoxError| {
        find_rejection(error.as_ref()).map(|r| r.kind()) == Some(RejectionKind::DeadlineExceeded)
    };
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let config = HedgingConfig::from_toml("[hedge]\ndelay = \"50ms\"").unwrap();
    let client = config.service(hung_upstream(Arc::clone(&sent))).unwrap();

    // The caller's 500 ms: the first attempt and its hedge, each told the time left, and
    // the call ends at the deadline.
    let started = tokio::time::Instant::now();
    let error = Deadline::after(Duration::from_millis(500))
        .scope(client.clone().oneshot(get()))
        .await
        .unwrap_err();
    assert!(is_deadline(&error), "{error}");
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    assert_eq!(*sent.lock().unwrap(), ["500", "450"]);

    // No caller's deadline: the hung attempts end at the 3 s attempt timeout, well inside
    // the 10 s total.
    sent.lock().unwrap().clear();
    let started = tokio::time::Instant::now();
    client.oneshot(get()).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(3050));
    assert_eq!(*sent.lock().unwrap(), ["10000", "9950"]);
}
