//! With `hold_to_body_end`, a streaming response keeps its slot until the body ends
//! (tower's `ConcurrencyLimit` frees it at the headers: tower-http #447).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use seawall_shed::limit::Fixed;
use seawall_shed::ShedLayer;
use tokio::sync::oneshot;
use tower::{service_fn, Layer, ServiceExt};

/// A body that ends when its sender fires.
struct Streaming(oneshot::Receiver<()>);

impl Body for Streaming {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.0).poll(cx).map(|_| None)
    }
}

#[tokio::test(start_paused = true)]
async fn the_slot_is_held_until_the_body_ends_not_the_headers() {
    let layer = ShedLayer::builder()
        .limit(Fixed::new(1))
        .hold_to_body_end()
        .build()
        .unwrap();
    let (tx, rx) = oneshot::channel();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let svc = layer.layer(service_fn(move |_: http::Request<()>| {
        let rx = rx.clone();
        async move {
            let body = Streaming(rx.lock().unwrap().take().unwrap());
            Ok::<_, Infallible>(http::Response::new(body))
        }
    }));
    let response = svc.clone().oneshot(http::Request::new(())).await.unwrap();
    assert_eq!(
        layer.in_flight(),
        1,
        "the headers are here, the body is not done"
    );
    let refused = svc.clone().oneshot(http::Request::new(())).await;
    assert!(
        refused.is_err(),
        "the streaming response still holds the only slot"
    );
    tx.send(()).unwrap();
    response.into_body().collect().await.unwrap();
    assert_eq!(layer.in_flight(), 0, "the body's end gave the slot back");
}
