use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body;
use pin_project_lite::pin_project;
use seawall_core::BoxError;
use tower_service::Service;

/// Converts an `http::Request` into a `reqwest::Request`, keeping its method, URI, version,
/// headers, extensions and body (streamed as it is, without being collected).
///
/// # Errors
///
/// When the URI is not a URL reqwest accepts (for example, a relative one).
pub fn to_reqwest<B>(request: http::Request<B>) -> Result<reqwest::Request, reqwest::Error>
where
    B: Body + Send + Sync + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    reqwest::Request::try_from(request.map(reqwest::Body::wrap))
}

/// Converts a `reqwest::Request` into an `http::Request`, keeping its method, URL, version,
/// headers, extensions and body.
///
/// # Errors
///
/// When the URL is not a valid `http::Uri`.
pub fn from_reqwest(
    request: reqwest::Request,
) -> Result<http::Request<reqwest::Body>, reqwest::Error> {
    http::Request::try_from(request)
}

/// A `reqwest::Client` as a `Service<http::Request<B>>` returning
/// `http::Response<reqwest::Body>`, so that Seawall's layers can wrap it.
///
/// Cloning it is cheap and shares the client's connection pool.
#[derive(Clone, Debug, Default)]
pub struct ReqwestService {
    client: reqwest::Client,
}

impl ReqwestService {
    /// Wraps `client`.
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// The client.
    pub fn get_ref(&self) -> &reqwest::Client {
        &self.client
    }

    /// The client, mutably.
    pub fn get_mut(&mut self) -> &mut reqwest::Client {
        &mut self.client
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> reqwest::Client {
        self.client
    }
}

type Pending = <reqwest::Client as Service<reqwest::Request>>::Future;

impl<B> Service<http::Request<B>> for ReqwestService
where
    B: Body + Send + Sync + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<reqwest::Body>;
    type Error = reqwest::Error;
    type Future = ReqwestFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<reqwest::Request>::poll_ready(&mut self.client, cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let state = match to_reqwest(request) {
            Ok(request) => State::Sending {
                pending: self.client.call(request),
            },
            Err(error) => State::Failed { error: Some(error) },
        };
        ReqwestFuture { state }
    }
}

pin_project! {
    /// The response future of [`ReqwestService`].
    ///
    /// Polled again after it completed, it does not panic and does not hang: it yields at
    /// once an error saying so (a `reqwest::Error` whose [`is_body`](reqwest::Error::is_body)
    /// is true and whose source is [`PolledAfterCompletion`]), each time it is polled.
    pub struct ReqwestFuture {
        #[pin]
        state: State,
    }
}

pin_project! {
    #[project = StateProj]
    enum State {
        Sending { #[pin] pending: Pending },
        Failed { error: Option<reqwest::Error> },
        Done,
    }
}

/// The error a [`ReqwestFuture`] yields when it is polled again after it completed: a bug in
/// the caller, reported rather than panicking or hanging.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolledAfterCompletion;

impl fmt::Display for PolledAfterCompletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestFuture polled after it completed")
    }
}

impl std::error::Error for PolledAfterCompletion {}

/// A body whose only frame is a [`PolledAfterCompletion`] error.
struct Misused;

impl Body for Misused {
    type Data = Bytes;
    type Error = PolledAfterCompletion;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, PolledAfterCompletion>>> {
        Poll::Ready(Some(Err(PolledAfterCompletion)))
    }
}

/// A `reqwest::Error` carrying [`PolledAfterCompletion`]. reqwest has no public constructor
/// for its error; the one way to carry an error of our own in it is a body that fails, so
/// this reads one.
fn polled_after_completion(cx: &mut Context<'_>) -> Poll<reqwest::Error> {
    let mut body = reqwest::Body::wrap(Misused);
    match Pin::new(&mut body).poll_frame(cx) {
        Poll::Ready(Some(Err(error))) => Poll::Ready(error),
        // Unreachable: `Misused` fails at its first poll, and reqwest passes the error on.
        // Should a reqwest release ever behave otherwise, retrying at once beats hanging.
        _ => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Future for ReqwestFuture {
    type Output = Result<http::Response<reqwest::Body>, reqwest::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let output = match state.as_mut().project() {
            StateProj::Sending { pending } => {
                std::task::ready!(pending.poll(cx)).map(http::Response::from)
            }
            StateProj::Failed { error } => match error.take() {
                Some(error) => Err(error),
                None => return polled_after_completion(cx).map(Err),
            },
            StateProj::Done => return polled_after_completion(cx).map(Err),
        };
        // reqwest's own future panics if it is polled again: never poll it after this.
        state.set(State::Done);
        Poll::Ready(output)
    }
}

impl fmt::Debug for ReqwestFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn conversions_keep_method_uri_headers_and_body() {
        let request = http::Request::patch("http://127.0.0.1:9/items/7?x=1")
            .header("x-trace", "abc")
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(b"payload")))
            .unwrap();
        let converted = to_reqwest(request).unwrap();
        assert_eq!(converted.method(), http::Method::PATCH);
        assert_eq!(converted.url().as_str(), "http://127.0.0.1:9/items/7?x=1");
        assert_eq!(converted.headers()["x-trace"], "abc");

        let back = from_reqwest(converted).unwrap();
        assert_eq!(back.method(), http::Method::PATCH);
        assert_eq!(back.uri(), "http://127.0.0.1:9/items/7?x=1");
        assert_eq!(back.headers()["content-type"], "text/plain");
        let body = back.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "payload");
    }

    fn is_polled_after_completion(error: &reqwest::Error) -> bool {
        error.is_body()
            && std::error::Error::source(error)
                .is_some_and(|source| source.is::<PolledAfterCompletion>())
    }

    /// Polls `future` once more after it completed: it must answer at once, with the error.
    async fn poll_again(future: &mut ReqwestFuture) {
        for _ in 0..2 {
            let again =
                std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await;
            match again {
                Poll::Ready(Err(error)) => {
                    assert!(is_polled_after_completion(&error), "{error:?}");
                    assert!(!crate::classify::is_transient_error(&error));
                }
                other => panic!("polled after completion: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn polling_after_completion_is_an_error_in_every_state() {
        // Completed with a conversion error (the `Failed` state).
        let request = http::Request::get("/relative")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let mut future = ReqwestService::default().call(request);
        let error = (&mut future).await.unwrap_err();
        assert!(error.is_builder());
        poll_again(&mut future).await;

        // Completed with reqwest's own answer (the `Sending` state): nothing listens there.
        let port = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let request = http::Request::get(format!("http://{port}/"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let mut future = ReqwestService::default().call(request);
        let error = (&mut future).await.unwrap_err();
        assert!(error.is_connect());
        poll_again(&mut future).await;
    }

    #[test]
    fn a_relative_uri_is_an_error_not_a_panic() {
        let request = http::Request::get("/relative")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert!(to_reqwest(request).is_err());
    }
}
