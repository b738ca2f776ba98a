//! hyper-util's and reqwest's clients inside a Seawall stack, against a real axum server on
//! 127.0.0.1, including requests whose bodies are re-sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty};
use seawall_core::{BoxError, Classify, Outcome};
use seawall_http::classify::{is_transient_error, AsDynError, HttpClassifier};
use seawall_http::client::{hyper_client, ReqwestService};
use seawall_http::replay::{is_replayable, try_clone_request, ReplayLayer, ReplayableBody};
use tokio::sync::{mpsc, Notify};
use tower::{Service, ServiceBuilder, ServiceExt};

// ---------------------------------------------------------------------------------------
// The server: records every body it reads; answers 503 to the first request of each route.

#[derive(Clone, Default)]
struct Upstream {
    bodies: Arc<Mutex<Vec<Bytes>>>,
    calls: Arc<AtomicUsize>,
    answered_early: Arc<Notify>,
}

/// Reads the whole body, then answers 503 the first time and 200 after.
async fn flaky(State(up): State<Upstream>, body: AxumBody) -> StatusCode {
    let bytes = body.collect().await.unwrap().to_bytes();
    up.bodies.lock().unwrap().push(bytes);
    if up.calls.fetch_add(1, Ordering::SeqCst) == 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// Answers 503 the first time without reading the body at all; reads it the second time.
async fn early(State(up): State<Upstream>, body: AxumBody) -> StatusCode {
    if up.calls.fetch_add(1, Ordering::SeqCst) == 0 {
        up.answered_early.notify_one();
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let bytes = body.collect().await.unwrap().to_bytes();
    up.bodies.lock().unwrap().push(bytes);
    StatusCode::OK
}

async fn serve() -> (SocketAddr, Upstream) {
    let upstream = Upstream::default();
    let app = Router::new()
        .route("/flaky", post(flaky))
        .route("/early", post(early))
        .with_state(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, upstream)
}

// ---------------------------------------------------------------------------------------
// The client side

/// A streaming request body whose chunks the test sends when it likes.
struct ChannelBody(mpsc::UnboundedReceiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0.poll_recv(cx).map(|c| c.map(|c| Ok(Frame::data(c))))
    }
}

/// The smallest possible retry layer, for the test: one more attempt on a 503, if the body
/// can be replayed. (Seawall's real retry layer lives in its own crate.)
#[derive(Clone)]
struct RetryOnce<S>(S);

impl<S, B, RB> Service<Request<ReplayableBody<B>>> for RetryOnce<S>
where
    S: Service<Request<ReplayableBody<B>>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: Send + 'static,
    RB: Send,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReplayableBody<B>>) -> Self::Future {
        let replay = try_clone_request(&request).ok();
        let first = self.0.call(request);
        let mut service = self.0.clone();
        Box::pin(async move {
            let response = first.await?;
            match replay {
                Some(replay)
                    if response.status() == StatusCode::SERVICE_UNAVAILABLE
                        && is_replayable(&replay) =>
                {
                    drop(response);
                    service.ready().await?.call(replay).await
                }
                _ => Ok(response),
            }
        })
    }
}

const CHUNKS: [&str; 4] = [
    "first chunk, ",
    "second chunk, ",
    "third chunk, ",
    "the end",
];

fn whole() -> Bytes {
    Bytes::from(CHUNKS.concat())
}

/// Sends a streaming POST through `client` (a stack that makes bodies replayable and retries
/// once); the body's later chunks are sent only after `release` resolves.
async fn send<S, RB>(
    client: S,
    url: String,
    release: impl Future<Output = ()> + Send + 'static,
) -> Response<RB>
where
    S: Service<Request<ChannelBody>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
{
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(Bytes::from_static(CHUNKS[0].as_bytes())).unwrap();
    tokio::spawn(async move {
        release.await;
        for chunk in &CHUNKS[1..] {
            tx.send(Bytes::from_static(chunk.as_bytes())).unwrap();
        }
    });
    let request = Request::post(url).body(ChannelBody(rx)).unwrap();
    tokio::time::timeout(Duration::from_secs(10), client.oneshot(request))
        .await
        .expect("the exchange finishes")
        .unwrap()
}

async fn check_resent_after_503<S, RB>(client: S, addr: SocketAddr, up: &Upstream)
where
    S: Service<Request<ChannelBody>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
{
    let response = send(client, format!("http://{addr}/flaky"), async {}).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the second attempt succeeded"
    );
    let bodies = up.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies,
        vec![whole(), whole()],
        "both attempts carried the whole body"
    );
}

async fn check_resent_after_early_answer<S, RB>(client: S, addr: SocketAddr, up: &Upstream)
where
    S: Service<Request<ChannelBody>, Response = Response<RB>>,
    S::Error: std::fmt::Debug,
{
    // The rest of the body is released only once the server has answered the first attempt,
    // so the answer arrives before the body has been fully sent.
    let answered = up.answered_early.clone();
    let response = send(client, format!("http://{addr}/early"), async move {
        answered.notified().await;
    })
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(up.calls.load(Ordering::SeqCst), 2);
    let bodies = up.bodies.lock().unwrap().clone();
    assert_eq!(bodies, vec![whole()], "the replay carried the whole body");
}

#[tokio::test]
async fn hyper_client_resends_the_whole_body_after_a_503() {
    let (addr, up) = serve().await;
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer_fn(RetryOnce)
        .service(hyper_client::<ReplayableBody<ChannelBody>>());
    check_resent_after_503(client, addr, &up).await;
}

#[tokio::test]
async fn hyper_client_resends_the_whole_body_after_an_early_answer() {
    let (addr, up) = serve().await;
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer_fn(RetryOnce)
        .service(hyper_client::<ReplayableBody<ChannelBody>>());
    check_resent_after_early_answer(client, addr, &up).await;
}

#[tokio::test]
async fn reqwest_client_resends_the_whole_body_after_a_503() {
    let (addr, up) = serve().await;
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer_fn(RetryOnce)
        .service(ReqwestService::new(reqwest::Client::new()));
    check_resent_after_503(client, addr, &up).await;
}

#[tokio::test]
async fn reqwest_client_resends_the_whole_body_after_an_early_answer() {
    let (addr, up) = serve().await;
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::default())
        .layer_fn(RetryOnce)
        .service(ReqwestService::new(reqwest::Client::new()));
    check_resent_after_early_answer(client, addr, &up).await;
}

#[tokio::test]
async fn a_body_over_the_cap_is_sent_once_and_not_resent() {
    let (addr, up) = serve().await;
    let client = ServiceBuilder::new()
        .layer(ReplayLayer::new(8))
        .layer_fn(RetryOnce)
        .service(hyper_client::<ReplayableBody<ChannelBody>>());
    let response = send(client, format!("http://{addr}/flaky"), async {}).await;
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "not retried: the body was not kept"
    );
    assert_eq!(
        up.bodies.lock().unwrap().clone(),
        vec![whole()],
        "streamed through whole"
    );
}

/// A port with nothing listening on it.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn classify_err<E: AsDynError>(error: E) -> Outcome {
    let result: Result<Response<()>, E> = Err(error);
    HttpClassifier::new().classify(&result)
}

#[tokio::test]
async fn connect_errors_are_transient_for_both_clients() {
    let addr = closed_port().await;
    let url = format!("http://{addr}/");

    let hyper_error = hyper_client::<Empty<Bytes>>()
        .oneshot(Request::get(&url).body(Empty::new()).unwrap())
        .await
        .unwrap_err();
    assert!(hyper_error.is_connect());
    assert!(is_transient_error(&hyper_error));
    assert_eq!(classify_err(hyper_error), Outcome::Failure);

    let reqwest_error = ReqwestService::default()
        .oneshot(Request::get(&url).body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap_err();
    assert!(is_transient_error(&reqwest_error));
    assert_eq!(classify_err(reqwest_error), Outcome::Failure);

    let boxed: BoxError = Box::new(io::Error::from(io::ErrorKind::ConnectionRefused));
    assert_eq!(classify_err(boxed), Outcome::Failure);
}

/// A keep-alive server that answers the first request on a connection, then reads the second
/// and closes the connection without answering: what a server does when it times out a
/// kept-alive connection just as the client reuses it.
async fn closes_the_second_request() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match socket.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return false,
            }
        }
        true
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                if read_request(&mut socket).await {
                    socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                }
                // The second request is read, then the connection is closed.
                read_request(&mut socket).await;
            });
        }
    });
    addr
}

fn has_incomplete_message(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        next = error.source();
    }
    false
}

#[tokio::test]
async fn a_kept_alive_connection_closed_under_a_request_is_transient_for_both_clients() {
    let addr = closes_the_second_request().await;
    let url = format!("http://{addr}/");
    let get = || Request::get(&url).body(Empty::<Bytes>::new()).unwrap();

    let hyper = hyper_client::<Empty<Bytes>>();
    let first = hyper.clone().oneshot(get()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // Reading the whole response puts the connection back in the pool for the next request.
    first.into_body().collect().await.unwrap();
    let hyper_error = tokio::time::timeout(Duration::from_secs(10), hyper.oneshot(get()))
        .await
        .expect("the closed connection is noticed")
        .unwrap_err();
    assert!(
        has_incomplete_message(&hyper_error),
        "the test builds the error it means to: {hyper_error:?}"
    );
    assert!(!hyper_error.is_connect());
    assert!(is_transient_error(&hyper_error));
    assert_eq!(classify_err(hyper_error), Outcome::Failure);

    let reqwest = ReqwestService::default();
    let first = reqwest.clone().oneshot(get()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    first.into_body().collect().await.unwrap();
    let reqwest_error = tokio::time::timeout(Duration::from_secs(10), reqwest.oneshot(get()))
        .await
        .expect("the closed connection is noticed")
        .unwrap_err();
    assert!(
        has_incomplete_message(&reqwest_error),
        "the test builds the error it means to: {reqwest_error:?}"
    );
    assert!(!reqwest_error.is_connect() && !reqwest_error.is_timeout());
    assert!(is_transient_error(&reqwest_error));
    assert_eq!(classify_err(reqwest_error), Outcome::Failure);
}
