//! Rejections as responses, in a real axum `Router` served on 127.0.0.1 and called over TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use seawall_core::rejection::{CircuitOpen, DeadlineExceeded, Overloaded, RateLimited};
use seawall_core::BoxError;
use seawall_http::client::hyper_client;
use seawall_http::{RejectionResponse, RejectionResponseLayer};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// Stands in for a Seawall layer: refuses requests the way the test says, with the error type
/// real Seawall layers have (`BoxError`).
#[derive(Clone)]
struct Refuse<S> {
    inner: S,
    what: Arc<AtomicU8>,
}

#[derive(Clone)]
struct RefuseLayer(Arc<AtomicU8>);

impl<S> Layer<S> for RefuseLayer {
    type Service = Refuse<S>;
    fn layer(&self, inner: S) -> Refuse<S> {
        Refuse {
            inner,
            what: self.0.clone(),
        }
    }
}

const PASS: u8 = 0;
const OVERLOADED: u8 = 1;
const RATE_LIMITED: u8 = 2;
const DEADLINE: u8 = 3;
const CIRCUIT_OPEN: u8 = 4;
const OTHER: u8 = 5;

impl<S> Service<Request<Body>> for Refuse<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let secs = |ms| Some(Duration::from_millis(ms));
        let error: BoxError = match self.what.load(Ordering::SeqCst) {
            PASS => {
                let fut = self.inner.call(request);
                return Box::pin(async move { fut.await.map_err(Into::into) });
            }
            OVERLOADED => Overloaded::new(secs(2000)).into(),
            RATE_LIMITED => RateLimited::new(secs(1200)).into(),
            DEADLINE => DeadlineExceeded::new(None).into(),
            CIRCUIT_OPEN => CircuitOpen::new(None).into(),
            _ => "database connection lost".into(),
        };
        Box::pin(async move { Err(error) })
    }
}

async fn handler_that_rejects() -> Result<&'static str, RejectionResponse> {
    Err(RateLimited::new(Some(Duration::from_secs(5))))?
}

struct Got {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

async fn get_path(addr: std::net::SocketAddr, path: &str) -> Got {
    let client = hyper_client::<Empty<Bytes>>();
    let request = Request::get(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.oneshot(request))
        .await
        .expect("the server answers")
        .unwrap();
    Got {
        status: response.status(),
        retry_after: response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap(),
    }
}

#[tokio::test]
async fn a_seawall_stack_goes_straight_into_router_layer() {
    let what = Arc::new(AtomicU8::new(PASS));
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/handler", get(handler_that_rejects))
        // No HandleErrorLayer: the stack's errors are BoxErrors, the layer makes it infallible.
        .layer(
            ServiceBuilder::new()
                .layer(RejectionResponseLayer::infallible())
                .layer(RefuseLayer(what.clone())),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let ok = get_path(addr, "/").await;
    assert_eq!((ok.status, ok.body.as_str()), (StatusCode::OK, "hello"));
    assert_eq!(ok.retry_after, None);

    what.store(OVERLOADED, Ordering::SeqCst);
    let shed = get_path(addr, "/").await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.retry_after.as_deref(), Some("2"));
    assert_eq!(shed.body, "service overloaded (retry after 2.000s)");

    what.store(CIRCUIT_OPEN, Ordering::SeqCst);
    let open = get_path(addr, "/").await;
    assert_eq!(open.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(open.retry_after, None, "no hint, no header");

    what.store(RATE_LIMITED, Ordering::SeqCst);
    let limited = get_path(addr, "/").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.retry_after.as_deref(), Some("2"), "1.2 s rounds up");

    what.store(DEADLINE, Ordering::SeqCst);
    let late = get_path(addr, "/").await;
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(late.retry_after, None);

    what.store(OTHER, Ordering::SeqCst);
    let broken = get_path(addr, "/").await;
    assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        broken.body, "internal server error",
        "internals stay in the logs"
    );

    what.store(PASS, Ordering::SeqCst);
    let from_handler = get_path(addr, "/handler").await;
    assert_eq!(from_handler.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(from_handler.retry_after.as_deref(), Some("5"));
    assert_eq!(from_handler.body, "rate limited (retry after 5.000s)");

    server.abort();
}

#[tokio::test]
async fn other_errors_pass_through_unchanged() {
    let what = Arc::new(AtomicU8::new(OTHER));
    let inner = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::from("fine")))
    });
    let service = ServiceBuilder::new()
        .layer(RejectionResponseLayer::new())
        .layer(RefuseLayer(what.clone()))
        .service(inner);

    let err = service
        .clone()
        .oneshot(Request::new(Body::empty()))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "database connection lost");

    what.store(DEADLINE, Ordering::SeqCst);
    let response = service.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}
