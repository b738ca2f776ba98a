//! What an abort that drops the connection looks like to a client of a real hyper server on
//! 127.0.0.1: the connection closes and not one byte of a response arrives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use seawall_chaos::{AbortMode, Aborted, InjectAbortLayer, Injection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{service_fn, Layer};

/// The server's error type. (With `BoxError` the compiler cannot prove the connection
/// task `Send` through a higher-ranked `From` bound, a known limitation; axum's and most
/// servers' error types are concrete anyway.)
#[derive(Debug)]
struct ServerError;

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("server error")
    }
}

impl std::error::Error for ServerError {}

impl From<Aborted> for ServerError {
    fn from(_: Aborted) -> Self {
        ServerError
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and returns every byte the server sent
/// back before closing it.
async fn raw_get(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .ok();
    answer
}

#[tokio::test]
async fn a_dropped_connection_answers_nothing() {
    let injection = Injection::builder().rate(1.0).seed(1).build().unwrap();
    let layer = InjectAbortLayer::new(injection, AbortMode::DropConnection);
    let handle = layer.handle();
    let service = layer.layer(service_fn(|_: Request<Incoming>| async {
        Ok::<_, ServerError>(Response::new(String::from("hello")))
    }));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                // The aborted connection ends in an error here, as it should.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    assert!(raw_get(addr).await.is_empty(), "no response at all");
    handle.disable();
    let answer = String::from_utf8(raw_get(addr).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
    server.abort();
}
