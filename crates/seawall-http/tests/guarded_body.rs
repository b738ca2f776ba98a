//! `GuardedBody` on a real axum server over TCP: the permit is held while hyper streams the
//! response body to the client, not only until the headers are out.
#![cfg(feature = "hyper")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Empty, StreamBody};
use seawall_core::permit::{End, OnRelease, PermitGuard};
use seawall_http::body::GuardedBody;
use seawall_http::client::hyper_client;
use tokio::sync::mpsc;
use tower::util::MapResponseLayer;

/// The longest a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(5);

/// Serves `/stream`, whose body is "first," then whatever `chunks` sends until it closes;
/// each response's permit reports its release on the returned receiver.
async fn server(
    chunks: mpsc::UnboundedReceiver<Bytes>,
) -> (SocketAddr, mpsc::UnboundedReceiver<End>) {
    let (released, releases) = mpsc::unbounded_channel();
    let chunks = std::sync::Arc::new(std::sync::Mutex::new(Some(chunks)));
    let app = Router::new()
        .route(
            "/stream",
            get(move || {
                let rest = chunks.lock().unwrap().take().expect("one request per test");
                async move {
                    let first = futures_util::stream::once(async {
                        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"first,")))
                    });
                    let rest = futures_util::stream::unfold(rest, |mut rest| async move {
                        let chunk = rest.recv().await?;
                        Some((Ok(Frame::data(chunk)), rest))
                    });
                    Body::new(StreamBody::new(futures_util::StreamExt::chain(first, rest)))
                }
            }),
        )
        // What a layer does: wrap the response body with the permit it took in `call`.
        .layer(MapResponseLayer::new(move |response: Response<Body>| {
            let released = released.clone();
            let guard = PermitGuard::new(OnRelease::new(move |end| {
                let _ = released.send(end);
            }));
            response.map(|body| Body::new(GuardedBody::new(body, guard)))
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, releases)
}

async fn next_release(releases: &mut mpsc::UnboundedReceiver<End>) -> End {
    tokio::time::timeout(PATIENCE, releases.recv())
        .await
        .expect("the permit is released")
        .expect("the server is running")
}

#[tokio::test]
async fn the_permit_is_held_while_the_body_streams_and_released_when_it_ends() {
    let (more, chunks) = mpsc::unbounded_channel();
    let (addr, mut releases) = server(chunks).await;
    let client = hyper_client::<Empty<Bytes>>();
    let request = http::Request::get(format!("http://{addr}/stream"))
        .body(Empty::new())
        .unwrap();
    let response = tokio::time::timeout(PATIENCE, client.request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = tokio::time::timeout(PATIENCE, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first,");
    assert!(
        releases.try_recv().is_err(),
        "the headers and a first chunk are out, the body is not: the permit is held"
    );

    more.send(Bytes::from_static(b"last")).unwrap();
    drop(more);
    let rest = tokio::time::timeout(PATIENCE, body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(rest, "last");
    assert_eq!(next_release(&mut releases).await, End::Complete);
}

#[tokio::test]
async fn a_client_that_goes_away_mid_body_releases_the_permit_as_cancelled() {
    let (more, chunks) = mpsc::unbounded_channel();
    let (addr, mut releases) = server(chunks).await;
    let client = hyper_client::<Empty<Bytes>>();
    let request = http::Request::get(format!("http://{addr}/stream"))
        .body(Empty::new())
        .unwrap();
    let response = tokio::time::timeout(PATIENCE, client.request(request))
        .await
        .unwrap()
        .unwrap();
    assert!(releases.try_recv().is_err(), "held after the headers");
    // The client stops reading and closes its connection; the server drops the body.
    drop(response);
    drop(client);
    assert_eq!(next_release(&mut releases).await, End::Cancelled);
    drop(more);
}
