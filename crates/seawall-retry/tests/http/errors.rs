//! Errors and classification: which transport errors are retried, the `Retry-After` of a
//! date, and the classifier that decides.

use super::*;

/// An upstream that fails its first call with `error()` and answers 200 after.
fn failing_once(
    error: fn() -> BoxError,
) -> (
    impl Service<Request<Body>, Response = Response<()>, Error = BoxError> + Clone,
    Arc<Mutex<usize>>,
) {
    let calls = Arc::new(Mutex::new(0));
    let svc = {
        let calls = calls.clone();
        service_fn(move |_: Request<Body>| {
            let n = {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            async move {
                if n == 1 {
                    Err(error())
                } else {
                    Ok(ok())
                }
            }
        })
    };
    (svc, calls)
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_and_other_errors_are_not() {
    let cases: [(&str, fn() -> BoxError, usize); 5] = [
        (
            "reset",
            || io::Error::from(io::ErrorKind::ConnectionReset).into(),
            2,
        ),
        (
            "refused",
            || io::Error::from(io::ErrorKind::ConnectionRefused).into(),
            2,
        ),
        ("not transient", || "invalid header".into(), 1),
        (
            "given up below",
            || {
                let marking = RetryErrors::new().mark_give_ups(true);
                let reset: BoxError = io::Error::from(io::ErrorKind::ConnectionReset).into();
                Policy::<(), (), BoxError>::mark_give_up(&marking, Err(reset)).unwrap_err()
            },
            1,
        ),
        (
            "a seawall rejection",
            || Overloaded::new(Some(Duration::from_secs(1))).into(),
            1,
        ),
    ];
    for (what, error, attempts) in cases {
        let (svc, calls) = failing_once(error);
        let result = client(HttpPolicy::new(), svc)
            .oneshot(request(Method::GET, ""))
            .await;
        assert_eq!(*calls.lock().unwrap(), attempts, "{what}");
        if attempts == 2 {
            assert_eq!(result.unwrap().status(), StatusCode::OK, "{what}");
        } else {
            let err = result.unwrap_err();
            assert_eq!(
                err.to_string(),
                error().to_string(),
                "{what}: the very error"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_transient_error_on_a_post_is_not_retried() {
    let (svc, calls) = failing_once(|| io::Error::from(io::ErrorKind::ConnectionReset).into());
    let err = client(HttpPolicy::new(), svc)
        .oneshot(request(Method::POST, "pay"))
        .await
        .unwrap_err();
    assert_eq!(*calls.lock().unwrap(), 1);
    assert!(err.downcast_ref::<io::Error>().is_some(), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn an_http_date_retry_after_replaces_the_backoff() {
    // The date is read against the wall clock (it has to be), the wait in paused time: the
    // date is 5 s ahead at one-second resolution, so the retry comes 4 to 5 s later.
    let (svc, log) = upstream(vec![
        || {
            let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
            Response::builder()
                .status(503)
                .header("retry-after", at)
                .body(())
                .unwrap()
        },
        ok,
    ]);
    let response = client(HttpPolicy::new(), svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let retried_at = log.lock().unwrap()[1].at;
    assert!(
        (Duration::from_secs(4)..=Duration::from_secs(5)).contains(&retried_at),
        "{retried_at:?}, not the 10 ms backoff"
    );
}

/// The retry layer decides with the same `HttpClassifier` a breaker counts with:
/// `other_errors` now changes what is retried, and any `Classify` can stand in.
#[tokio::test(start_paused = true)]
async fn the_classifier_decides_what_is_retried() {
    use seawall_core::Outcome;
    use seawall_retry::http::HttpClassifier;

    let _default_needs_no_annotation = HttpPolicy::default();
    let odd = || -> BoxError { "invalid header".into() };
    for (what, policy, attempts) in [
        (
            "default: other errors are not retried",
            HttpPolicy::new(),
            1,
        ),
        (
            "the breaker's classifier: other errors are failures",
            HttpPolicy::new().classifier(HttpClassifier::new()),
            2,
        ),
        (
            "other errors ignored",
            HttpPolicy::new().classifier(HttpClassifier::new().other_errors(Outcome::Ignored)),
            1,
        ),
    ] {
        let (svc, calls) = failing_once(odd);
        let _ = client(policy, svc).oneshot(request(Method::GET, "")).await;
        assert_eq!(*calls.lock().unwrap(), attempts, "{what}");
    }

    // A tower-http classifier that calls 404 a failure makes 404s retried.
    let four_oh_four = seawall_http::classify::TowerHttpClassifier::new(
        tower_http::classify::StatusInRangeAsFailures::new(404..=404),
    );
    let (svc, log) = upstream(vec![|| status(404), ok]);
    let response = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer(
            seawall_retry::http::builder()
                .policy(HttpPolicy::new().classifier(four_oh_four))
                .backoff(Backoff::none())
                .build()
                .unwrap(),
        )
        .service(svc)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(log.lock().unwrap().len(), 2);
}
