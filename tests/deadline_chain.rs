//! Deadline propagation over real sockets: a client calls a gateway, whose handler calls a
//! service, all axum and reqwest on 127.0.0.1. The gateway's downstream call inherits the
//! client's remaining deadline with no code in the handler, and a request whose deadline
//! cannot be met is refused at the server without calling its handler.
//!
//! Real time (paused time and real sockets do not mix), so the assertions are on header
//! values and on who was called, never on how long anything took.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "timeout"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use seawall::core::deadline::Deadline;
use seawall::http::client::ReqwestService;
use seawall::http::RejectionResponseLayer;
use seawall::timeout::{ReceiveDeadlineLayer, SendDeadlineLayer};
use tower::{ServiceBuilder, ServiceExt};

/// Serves `app` on a fresh port of 127.0.0.1 and returns its address.
async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// What the service's handler saw: how many calls, and the last call's header.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
}

/// The service: answers with the `seawall-deadline-ms` its request arrived with. Refuses at
/// once a request with 50 ms or less left.
async fn service(seen: Arc<Seen>) -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/work",
            get(move |request: Request| async move {
                seen.calls.fetch_add(1, Ordering::SeqCst);
                assert!(request.extensions().get::<Deadline>().is_some());
                request.headers()["seawall-deadline-ms"]
                    .to_str()
                    .unwrap()
                    .to_owned()
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(
                    ReceiveDeadlineLayer::builder()
                        .min_remaining(Duration::from_millis(50))
                        .build()
                        .unwrap(),
                ),
        );
    serve(app).await
}

/// The gateway: its handler calls the service with a brand-new request through a client
/// with `SendDeadlineLayer`, and answers `"<what it received> <what the service received>"`.
async fn gateway(downstream: std::net::SocketAddr, seen: Arc<Seen>) -> std::net::SocketAddr {
    let client = ServiceBuilder::new()
        .layer(SendDeadlineLayer::new())
        .service(ReqwestService::new(reqwest::Client::new()));
    let app = Router::new()
        .route(
            "/proxy",
            get(move |inbound: Request| async move {
                seen.calls.fetch_add(1, Ordering::SeqCst);
                let received = inbound.headers()["seawall-deadline-ms"].clone();
                // Nothing here mentions the deadline: the new request inherits it.
                let outgoing = http::Request::get(format!("http://{downstream}/work"))
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let response = client.oneshot(outgoing).await.unwrap();
                let status = response.status();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                let body = String::from_utf8(body.to_vec()).unwrap();
                format!("{} {} {body}", received.to_str().unwrap(), status.as_u16())
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(ReceiveDeadlineLayer::new()),
        );
    serve(app).await
}

async fn get_with_deadline(url: String, deadline_ms: &str) -> reqwest::Response {
    let request = reqwest::Client::new()
        .get(url)
        .header("seawall-deadline-ms", deadline_ms)
        .send();
    tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("no request may hang")
        .unwrap()
}

#[tokio::test]
async fn the_gateways_downstream_call_inherits_the_clients_remaining_deadline() {
    let service_seen = Arc::new(Seen::default());
    let gateway_seen = Arc::new(Seen::default());
    let downstream = service(service_seen.clone()).await;
    let gateway = gateway(downstream, gateway_seen.clone()).await;

    let response = get_with_deadline(format!("http://{gateway}/proxy"), "5000").await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let parts: Vec<&str> = body.split(' ').collect();
    let [received, status, downstream_ms] = parts[..] else {
        panic!("unexpected answer {body:?}")
    };
    assert_eq!(received, "5000");
    assert_eq!(status, "200", "the service served the gateway's call");
    let downstream_ms: u64 = downstream_ms.parse().unwrap();
    assert!(
        downstream_ms > 0 && downstream_ms <= 5000,
        "the service got what was left of the client's 5000 ms: {downstream_ms}"
    );
    assert_eq!(service_seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_deadline_that_cannot_be_met_is_refused_without_calling_the_handler() {
    let service_seen = Arc::new(Seen::default());
    let gateway_seen = Arc::new(Seen::default());
    let downstream = service(service_seen.clone()).await;
    let gateway = gateway(downstream, gateway_seen.clone()).await;

    // Expired on arrival, at the gateway and at the service: 504, no handler called.
    for url in [
        format!("http://{gateway}/proxy"),
        format!("http://{downstream}/work"),
    ] {
        let response = get_with_deadline(url, "0").await;
        assert_eq!(response.status(), 504);
        assert_eq!(response.headers()["seawall-retry"], "no");
    }
    // 30 ms left is below the service's 50 ms minimum.
    let response = get_with_deadline(format!("http://{downstream}/work"), "30").await;
    assert_eq!(response.status(), 504);
    assert_eq!(gateway_seen.calls.load(Ordering::SeqCst), 0);
    assert_eq!(service_seen.calls.load(Ordering::SeqCst), 0);

    // Enough time left: served.
    let response = get_with_deadline(format!("http://{downstream}/work"), "200").await;
    assert_eq!(response.status(), 200);
    assert_eq!(service_seen.calls.load(Ordering::SeqCst), 1);
}
