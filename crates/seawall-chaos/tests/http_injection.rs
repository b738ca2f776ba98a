//! HTTP injection: a header target hits exactly the marked requests, and an injected
//! outcome carries the chosen status and `Retry-After`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use seawall_chaos::{HeaderTarget, InjectOutcomeLayer, Injection};
use tower::{service_fn, Layer, Service, ServiceExt};

fn ok_service(
) -> impl Service<Request<()>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone {
    service_fn(|_: Request<()>| async { Ok(Response::new(Full::new(Bytes::from("ok")))) })
}

#[tokio::test]
async fn the_header_target_hits_exactly_the_marked_requests() {
    let target = HeaderTarget::present("x-chaos").unwrap();
    let injection = Injection::builder()
        .rate(1.0)
        .seed(9)
        .target(target)
        .build()
        .unwrap();
    let layer = InjectOutcomeLayer::new(injection, StatusCode::INTERNAL_SERVER_ERROR);
    let service = layer.layer(ok_service());

    // Every seventh request is marked, among 1,000.
    for i in 0..1000u32 {
        let mut request = Request::get(format!("/{i}"));
        if i % 7 == 0 {
            request = request.header("x-chaos", "1");
        } else if i % 7 == 1 {
            request = request.header("x-other", "1");
        }
        let response = service
            .clone()
            .oneshot(request.body(()).unwrap())
            .await
            .unwrap();
        let expected = if i % 7 == 0 { 500 } else { 200 };
        assert_eq!(response.status(), expected, "request {i}");
    }
}

#[tokio::test]
async fn a_header_value_target_needs_the_value() {
    let target = HeaderTarget::present("x-chaos")
        .unwrap()
        .with_value("checkout")
        .unwrap();
    let injection = Injection::builder()
        .rate(1.0)
        .seed(9)
        .target(target)
        .build()
        .unwrap();
    let service = InjectOutcomeLayer::new(injection, StatusCode::BAD_GATEWAY).layer(ok_service());
    let send = |value: Option<&'static str>| {
        let service = service.clone();
        async move {
            let mut request = Request::get("/");
            if let Some(value) = value {
                request = request.header("x-chaos", value);
            }
            service
                .oneshot(request.body(()).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(send(Some("checkout")).await, 502);
    assert_eq!(send(Some("search")).await, 200);
    assert_eq!(send(None).await, 200);

    assert!(HeaderTarget::present("bad header")
        .unwrap_err()
        .to_string()
        .contains("header name"));
    assert!(HeaderTarget::present("x-ok")
        .unwrap()
        .with_value("line\nbreak")
        .unwrap_err()
        .to_string()
        .contains("header value"));
}

#[tokio::test]
async fn an_outcome_carries_the_status_and_retry_after() {
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer = InjectOutcomeLayer::new(injection, StatusCode::TOO_MANY_REQUESTS)
        .retry_after(Duration::from_millis(1500));
    let response = layer
        .layer(ok_service())
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "injected fault");

    // Switched off, the inner service answers.
    layer.handle().disable();
    let response = layer
        .layer(ok_service())
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("retry-after").is_none());
}

proptest::proptest! {
    /// Whatever the operator configures and whatever a client sends, a header target never
    /// panics: a bad name or value is a `ConfigError` naming it, and a request matches
    /// exactly when it carries the configured value.
    #[test]
    fn header_targets_take_any_bytes_without_panicking(
        name in "[a-zA-Z0-9-]{1,12}|\\PC{0,12}",
        wanted in "[ -~]{0,8}|\\PC{0,8}",
        random in proptest::collection::vec(proptest::num::u8::ANY, 0..16),
        send_wanted in proptest::bool::ANY,
    ) {
        let sent = if send_wanted { wanted.as_bytes().to_vec() } else { random };
        let target = match HeaderTarget::present(&name) {
            Ok(target) => target,
            Err(e) => {
                proptest::prop_assert!(e.to_string().contains("header name"));
                return Ok(());
            }
        };
        let target = match target.with_value(&wanted) {
            Ok(target) => target,
            Err(e) => {
                proptest::prop_assert!(e.to_string().contains("header value"));
                return Ok(());
            }
        };
        let injection = Injection::builder().rate(1.0).seed(1).target(target).build().unwrap();
        let mut request = Request::new(());
        if let Ok(value) = http::HeaderValue::from_bytes(&sent) {
            request
                .headers_mut()
                .insert(http::HeaderName::try_from(name.as_str()).unwrap(), value);
        }
        let carries = request
            .headers()
            .get(name.as_str())
            .is_some_and(|v| v.as_bytes() == wanted.as_bytes());
        proptest::prop_assert_eq!(injection.inject(&request), carries);
    }
}
