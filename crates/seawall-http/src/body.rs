//! Response bodies that hold a layer's permit until they end.
//!
//! # Why
//!
//! An HTTP call is not over when its response headers arrive: the upstream is still streaming
//! the body, and a body that fails halfway is a failed call. A layer that admits calls — a
//! circuit breaker's half-open probes, a concurrency limiter's slots — must hold its permit
//! until the body ends, or it counts a call as finished while the upstream still works on it.
//! [`GuardedBody`] wraps a response body with a [`PermitGuard`] and releases the permit when
//! the body yields its last frame ([`End::Complete`]), yields an error ([`End::Error`]), or is
//! dropped unfinished ([`End::Cancelled`]); an empty body releases it at once. `size_hint` and
//! `is_end_stream` are the inner body's, so hyper and axum see the same body as before.
//!
//! # How a layer uses it
//!
//! 1. In `call`, take the permit and put it in a [`PermitGuard`] inside the response future:
//!    dropping the future before the headers releases it as [`End::Cancelled`].
//! 2. When the inner future fails, or its response already decides the outcome (a 503), call
//!    [`PermitGuard::release`] there.
//! 3. Otherwise map the response's body: `response.map(|body| GuardedBody::new(body, guard))`.
//!    The service's `Response` type is then `http::Response<GuardedBody<B, YourPermit>>`,
//!    nameable because `YourPermit` is a struct that implements [`Permit`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use seawall_core::permit::{OnRelease, PermitGuard};
//! use seawall_http::body::GuardedBody;
//!
//! // Stands in for a limiter's count of calls in flight.
//! let in_flight = Arc::new(AtomicUsize::new(1));
//! let guard = PermitGuard::new(OnRelease::new({
//!     let in_flight = in_flight.clone();
//!     move |_end| {
//!         in_flight.fetch_sub(1, Ordering::Relaxed);
//!     }
//! }));
//! let response = http::Response::new(Full::new(Bytes::from("hello")));
//! let response = response.map(|body| GuardedBody::new(body, guard));
//!
//! // The headers are here, the body is not read yet: the call is still in flight.
//! assert_eq!(in_flight.load(Ordering::Relaxed), 1);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "hello");
//! assert_eq!(in_flight.load(Ordering::Relaxed), 0);
//! # }
//! ```

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use seawall_core::permit::{End, Permit, PermitGuard};

pin_project! {
    /// A response body that holds a [`PermitGuard`] until it yields its end of stream, yields
    /// an error, or is dropped; see the [module docs](self).
    pub struct GuardedBody<B, P: Permit> {
        #[pin]
        inner: B,
        guard: PermitGuard<P>,
    }
}

impl<B: Body, P: Permit> GuardedBody<B, P> {
    /// Wraps `inner`, holding `guard` until the body ends. A body that is already at its end
    /// (an empty body) releases the permit here, with [`End::Complete`]: hyper may never poll
    /// it.
    pub fn new(inner: B, mut guard: PermitGuard<P>) -> Self {
        if inner.is_end_stream() {
            guard.release(End::Complete);
        }
        Self { inner, guard }
    }
}

impl<B, P: Permit> GuardedBody<B, P> {
    /// The inner body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// The inner body, mutably.
    pub fn get_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// The guard, held or already released.
    pub fn guard(&self) -> &PermitGuard<P> {
        &self.guard
    }

    /// The inner body and the guard, which keeps holding the permit if it still does.
    pub fn into_parts(self) -> (B, PermitGuard<P>) {
        (self.inner, self.guard)
    }
}

impl<B: Body, P: Permit> Body for GuardedBody<B, P> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            None => {
                this.guard.release(End::Complete);
            }
            Some(Err(_)) => {
                this.guard.release(End::Error);
            }
            // The last frame of a body that knows its end (`Full`, a sized body): hyper
            // stops polling here, so this is the end.
            Some(Ok(_)) if this.inner.is_end_stream() => {
                this.guard.release(End::Complete);
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: std::fmt::Debug, P: Permit> std::fmt::Debug for GuardedBody<B, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedBody")
            .field("inner", &self.inner)
            .field("guard", &self.guard)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty, Full};
    use seawall_core::permit::OnRelease;

    use super::*;

    type Log = Arc<Mutex<Vec<End>>>;

    /// A guard whose releases go to the returned log.
    fn guard() -> (PermitGuard<OnRelease<impl FnOnce(End)>>, Log) {
        let log = Log::default();
        let guard = PermitGuard::new(OnRelease::new({
            let log = log.clone();
            move |end| log.lock().unwrap().push(end)
        }));
        (guard, log)
    }

    fn released(log: &Log) -> Vec<End> {
        log.lock().unwrap().clone()
    }

    /// A streaming body that learns its end only when polled past its last frame, like a
    /// chunked response; it can also fail instead of ending.
    struct Chunks {
        frames: VecDeque<Result<Bytes, &'static str>>,
    }

    impl Chunks {
        fn new(frames: impl IntoIterator<Item = Result<&'static str, &'static str>>) -> Self {
            let frames = frames
                .into_iter()
                .map(|f| f.map(|s| Bytes::from_static(s.as_bytes())))
                .collect();
            Self { frames }
        }
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = &'static str;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, &'static str>>> {
            Poll::Ready(self.frames.pop_front().map(|f| f.map(Frame::data)))
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(7)
        }
    }

    async fn next<B: Body + Unpin>(body: &mut B) -> Option<Result<Frame<B::Data>, B::Error>> {
        body.frame().await
    }

    #[tokio::test]
    async fn a_streaming_body_holds_the_permit_after_the_headers_and_releases_it_at_its_end() {
        let (guard, log) = guard();
        let mut body = GuardedBody::new(Chunks::new([Ok("hel"), Ok("lo")]), guard);
        assert!(released(&log).is_empty(), "held once the headers are out");
        assert!(next(&mut body).await.unwrap().is_ok());
        assert!(next(&mut body).await.unwrap().is_ok());
        assert!(
            released(&log).is_empty(),
            "the body has not said it ended: still held after the last data frame"
        );
        assert!(next(&mut body).await.is_none());
        assert_eq!(released(&log), vec![End::Complete]);
        assert!(next(&mut body).await.is_none());
        drop(body);
        assert_eq!(released(&log), vec![End::Complete], "released once");
    }

    #[tokio::test]
    async fn a_body_that_knows_its_end_releases_with_its_last_frame() {
        // hyper does not poll a `Full` body again once it reports its end.
        let (guard, log) = guard();
        let mut body = GuardedBody::new(Full::new(Bytes::from_static(b"hello")), guard);
        assert!(released(&log).is_empty());
        assert_eq!(
            next(&mut body).await.unwrap().unwrap().into_data().unwrap(),
            "hello"
        );
        assert!(body.is_end_stream());
        assert_eq!(released(&log), vec![End::Complete]);
    }

    #[tokio::test]
    async fn an_unfinished_body_that_is_dropped_releases_as_cancelled() {
        let (guard, log) = guard();
        let mut body = GuardedBody::new(Chunks::new([Ok("hel"), Ok("lo")]), guard);
        assert!(next(&mut body).await.unwrap().is_ok());
        drop(body);
        assert_eq!(released(&log), vec![End::Cancelled]);
    }

    #[tokio::test]
    async fn a_body_error_releases_as_error() {
        let (guard, log) = guard();
        let mut body = GuardedBody::new(Chunks::new([Ok("hel"), Err("reset")]), guard);
        assert!(next(&mut body).await.unwrap().is_ok());
        assert_eq!(next(&mut body).await.unwrap().unwrap_err(), "reset");
        assert_eq!(released(&log), vec![End::Error]);
        drop(body);
        assert_eq!(released(&log), vec![End::Error], "released once");
    }

    #[test]
    fn an_empty_body_releases_at_once() {
        let (guard, log) = guard();
        let body = GuardedBody::new(Empty::<Bytes>::new(), guard);
        assert_eq!(released(&log), vec![End::Complete]);
        assert!(!body.guard().is_held());
        assert!(body.is_end_stream());
    }

    #[test]
    fn size_hint_and_end_of_stream_are_the_inner_bodys() {
        let (guard, _log) = guard();
        let body = GuardedBody::new(Chunks::new([Ok("hello, ")]), guard);
        assert_eq!(body.size_hint().exact(), Some(7));
        assert!(!body.is_end_stream());
        let (guard, _log) = self::guard();
        let full = GuardedBody::new(Full::new(Bytes::from_static(b"abc")), guard);
        assert_eq!(full.size_hint().exact(), Some(3));
    }

    #[tokio::test]
    async fn into_parts_hands_over_a_permit_still_held() {
        let (guard, log) = guard();
        let body = GuardedBody::new(Chunks::new([Ok("a")]), guard);
        let (inner, guard) = body.into_parts();
        assert!(guard.is_held());
        assert!(released(&log).is_empty());
        drop(inner);
        drop(guard);
        assert_eq!(released(&log), vec![End::Cancelled]);
    }
}
