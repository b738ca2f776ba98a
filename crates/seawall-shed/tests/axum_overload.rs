//! A real axum server on 127.0.0.1 overloaded by a real client: requests beyond the limit
//! are refused at once with 503 and `Retry-After`, admitted ones complete, and the slot is
//! held until the response body ends. Asserts behaviour, not timings.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use seawall_http::body::GuardedBody;
use seawall_http::RejectionResponseLayer;
use seawall_shed::limit::Fixed;
use seawall_shed::{ShedLayer, ShedPermit};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;

const LIMIT: usize = 4;

async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_gets_503_with_retry_after_and_admitted_requests_complete() {
    // The handler waits for a permit the test hands out, so admitted requests stay in
    // flight for exactly as long as the test says.
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(Semaphore::new(0));
    let shed = ShedLayer::builder()
        .limit(Fixed::new(LIMIT))
        .retry_after(Some(Duration::from_secs(2)))
        .hold_to_body_end()
        .build()
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
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .map_response(|r: http::Response<GuardedBody<Body, ShedPermit>>| r.map(Body::new))
                .layer(shed.clone()),
        );
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/work");

    let admitted: Vec<_> = (0..LIMIT)
        .map(|_| tokio::spawn(client.get(&url).send()))
        .collect();
    // Wait until all of them are inside the handler, holding every slot.
    entered.acquire_many(LIMIT as u32).await.unwrap().forget();
    assert_eq!(shed.in_flight(), LIMIT);

    for _ in 0..20 {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
    }
    assert_eq!(shed.in_flight(), LIMIT, "refusals take no slot");

    gate.add_permits(LIMIT);
    for task in admitted {
        let response = task.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "done");
    }
    // Every slot is back once the bodies have been sent.
    assert_eq!(shed.in_flight(), 0);
    gate.add_permits(1);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
}
