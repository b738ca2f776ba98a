//! The server pipeline holds a request's shedding slot until its response body ends: a
//! slow-streaming response keeps its slot, so the next request is shed while the first is
//! still streaming (tower's `ConcurrencyLimit` frees it at the headers: tower-http #447).
//! A real axum server on 127.0.0.1; the body is paced by the test, not by sleeps.
#![cfg(feature = "stack")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use seawall::stack::ServerConfig;
use tokio::sync::mpsc;

type Chunks = mpsc::Sender<Bytes>;

/// Serves `app` on an ephemeral port of 127.0.0.1; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_is_shed_while_the_first_body_still_streams() {
    // One slot, no reserves: exactly one request at a time.
    let config = ServerConfig::from_toml(
        r#"
        [shed]
        limit = { algorithm = "fixed", limit = 1 }
        critical_reserve = 0.0
        sheddable_reserve = 0.0
        "#,
    )
    .unwrap();
    let layer = config.layer().unwrap();
    let shed = layer.shed().clone();
    // Each request's body is a stream whose sender the handler hands to the test.
    let (senders_tx, mut senders) = mpsc::unbounded_channel::<Chunks>();
    let senders_tx = Arc::new(Mutex::new(senders_tx));
    let app = Router::new()
        .route(
            "/stream",
            get(move || {
                let senders_tx = senders_tx.clone();
                async move {
                    let (tx, rx) = mpsc::channel::<Bytes>(1);
                    tx.send(Bytes::from_static(b"first ")).await.unwrap();
                    senders_tx.lock().unwrap().send(tx).unwrap();
                    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                        rx.recv()
                            .await
                            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
                    });
                    Body::from_stream(stream)
                }
            }),
        )
        .layer(layer);
    let url = format!("{}/stream", serve(app).await);
    let client = reqwest::Client::new();

    // The first request: its headers and first chunk arrive, its body goes on.
    let mut first = client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.chunk().await.unwrap().unwrap(), "first ");
    let more = senders.recv().await.unwrap();
    assert_eq!(shed.in_flight(), 1, "the streaming body holds its slot");

    // The second is shed at once: 503 with Retry-After.
    let second = client.get(&url).send().await.unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "1");

    // The first body ends; its slot is free, and the next request is served.
    more.send(Bytes::from_static(b"last")).await.unwrap();
    drop(more);
    assert_eq!(first.chunk().await.unwrap().unwrap(), "last");
    assert!(first.chunk().await.unwrap().is_none());
    assert_eq!(shed.in_flight(), 0);
    let third = client.get(&url).send().await.unwrap();
    assert_eq!(third.status(), 200);
    drop(senders.recv().await.unwrap());
    assert_eq!(third.text().await.unwrap(), "first ");
}
