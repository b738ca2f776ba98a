//! A Seawall tower stack as a [`reqwest_middleware::Middleware`], so reqwest users keep
//! building requests and calling `.send()`.
//!
//! # Why
//!
//! reqwest users who want middleware already use `reqwest-middleware` (with
//! `reqwest-retry`, `reqwest-tracing`, …): requests are built with reqwest's
//! `RequestBuilder` and sent with `.send().await`. Seawall's layers are tower layers over
//! `http::Request`; [`TowerMiddleware`] runs a stack of them as one middleware in that
//! chain, so a Seawall retry (with its budget and replayable bodies), breaker or timeout
//! wraps a `reqwest::Client` without the caller changing how they send requests.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use seawall_http::client::middleware::TowerMiddleware;
//! use seawall_http::ReplayLayer;
//! use tower::ServiceBuilder;
//!
//! // Any tower layer stack works: a retry layer would go between the two below.
//! let stack = ServiceBuilder::new().layer(ReplayLayer::default());
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(TowerMiddleware::new(stack))
//!     .build();
//! let response = client.post("http://127.0.0.1:8080/orders").body("{}").send().await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! # How it works, and why a layer rather than a service
//!
//! reqwest-middleware hands each middleware [`Next`], the rest of the chain, which borrows
//! the client and the middlewares for the one request (`Next<'a>`). A tower service that
//! calls it can therefore not outlive the request, so the middleware holds the tower
//! **layer** and applies it, per request, to [`NextService`] — the rest of the chain as a
//! tower service (a clone of `Next` and of the request's extensions). Layers keep their
//! shared state (a retry budget, a breaker's state, a rate limiter) behind `Arc`s, so that
//! state lives across requests as it would in a long-lived service; what is rebuilt per
//! request is the layers' services, which are cheap to make (mostly `Arc` clones). A stack
//! that keeps state in its *services* rather than its layers (tower's own `RateLimit`, for
//! one) starts afresh on every request here.
//!
//! The request goes through the stack as `http::Request<reqwest::Body>` and comes back as
//! `http::Response<reqwest::Body>`, converted to and from reqwest's types without copying
//! the body. Each call the stack makes to [`NextService`] (each attempt of a retry, each
//! hedge) runs the rest of the chain with its own copy of the request's extensions, made
//! when this middleware was reached: middlewares after this one see what those before it
//! put there, but what they put there themselves is not carried back.
//!
//! # Errors
//!
//! reqwest's errors come out as `reqwest_middleware::Error::Reqwest`; every other error of
//! the stack (a Seawall rejection, say) as `reqwest_middleware::Error::Middleware` holding a
//! [`StackError`], whose source is the stack's error, so
//! [`find_rejection`](seawall_core::find_rejection) finds a rejection in it.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Extensions;
use http_body::Body;
use pin_project_lite::pin_project;
use reqwest_middleware::{Middleware, Next};
use seawall_core::BoxError;
use tower::ServiceExt;
use tower_layer::Layer;
use tower_service::Service;

use super::reqwest::{from_reqwest, to_reqwest};

/// A boxed future that lives as long as one request's pass through the chain.
pub type NextFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'a>>;

/// Runs the tower layer stack `L` as a [`reqwest_middleware::Middleware`]. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct TowerMiddleware<L> {
    layer: L,
}

impl<L> TowerMiddleware<L> {
    /// Runs `layer` (a tower layer, or a `ServiceBuilder` of several) for every request.
    pub fn new(layer: L) -> Self {
        Self { layer }
    }

    /// The layer.
    pub fn get_ref(&self) -> &L {
        &self.layer
    }

    /// Unwraps the layer.
    pub fn into_inner(self) -> L {
        self.layer
    }
}

/// The rest of a reqwest-middleware chain (the middlewares after this one, then the
/// client) as a tower service: the innermost service of a [`TowerMiddleware`]'s stack.
///
/// Always ready; each call runs the rest of the chain once, with a copy of the request's
/// extensions.
#[derive(Clone)]
pub struct NextService<'a> {
    next: Next<'a>,
    extensions: Extensions,
}

impl fmt::Debug for NextService<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextService").finish_non_exhaustive()
    }
}

impl<'a, B> Service<http::Request<B>> for NextService<'a>
where
    B: Body + Send + Sync + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<reqwest::Body>;
    type Error = BoxError;
    type Future = NextFuture<'a, Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let next = self.next.clone();
        let mut extensions = self.extensions.clone();
        let request = to_reqwest(request);
        Box::pin(async move {
            let response = next.run(request?, &mut extensions).await;
            match response {
                Ok(response) => Ok(http::Response::from(response)),
                // Unwrapped, so that classifiers see reqwest's error itself (the
                // middleware error is `transparent`: its source chain skips it).
                Err(reqwest_middleware::Error::Reqwest(e)) => Err(e.into()),
                Err(reqwest_middleware::Error::Middleware(e)) => Err(e.into()),
            }
        })
    }
}

/// A tower layer that [`TowerMiddleware`] can run: implemented for every layer whose
/// service over [`NextService`] takes `http::Request<reqwest::Body>`, returns
/// `http::Response<reqwest::Body>` and is `Send`. Not to be implemented by hand.
pub trait LayerNext<'a>: Send + Sync + 'static {
    /// Applies the layer to `next` and sends `request` through it.
    fn call_next(
        &self,
        next: NextService<'a>,
        request: http::Request<reqwest::Body>,
    ) -> NextFuture<'a, http::Response<reqwest::Body>>;
}

impl<'a, L> LayerNext<'a> for L
where
    L: Layer<NextService<'a>> + Send + Sync + 'static,
    L::Service:
        Service<http::Request<reqwest::Body>, Response = http::Response<reqwest::Body>> + Send + 'a,
    <L::Service as Service<http::Request<reqwest::Body>>>::Error: Into<BoxError>,
    <L::Service as Service<http::Request<reqwest::Body>>>::Future: Send + 'a,
{
    fn call_next(
        &self,
        next: NextService<'a>,
        request: http::Request<reqwest::Body>,
    ) -> NextFuture<'a, http::Response<reqwest::Body>> {
        // A named future rather than an async block: the block's `Send` would have to
        // hold for every lifetime at once, which the bounds above cannot say.
        Box::pin(IntoBoxError {
            future: self.layer(next).oneshot(request),
        })
    }
}

pin_project! {
    /// `future` with its error turned into a `BoxError`.
    struct IntoBoxError<F> {
        #[pin]
        future: F,
    }
}

impl<F, T, E> Future for IntoBoxError<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map_err(Into::into)
    }
}

#[async_trait::async_trait]
impl<L> Middleware for TowerMiddleware<L>
where
    L: for<'a> LayerNext<'a>,
{
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let request = from_reqwest(request)?;
        let next = NextService {
            next,
            extensions: extensions.clone(),
        };
        match self.layer.call_next(next, request).await {
            Ok(response) => Ok(reqwest::Response::from(response)),
            Err(error) => Err(match error.downcast::<reqwest::Error>() {
                Ok(error) => reqwest_middleware::Error::Reqwest(*error),
                Err(error) => reqwest_middleware::Error::middleware(StackError(error)),
            }),
        }
    }
}

/// An error of a [`TowerMiddleware`]'s stack that is not reqwest's (a Seawall rejection,
/// say), as it reaches the caller inside `reqwest_middleware::Error::Middleware`. It
/// displays as the stack's error, and that error is its source.
#[derive(Debug)]
pub struct StackError(BoxError);

impl StackError {
    /// The stack's error.
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.0.as_ref()
    }

    /// Unwraps the stack's error.
    pub fn into_inner(self) -> BoxError {
        self.0
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for StackError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.0.as_ref())
    }
}
