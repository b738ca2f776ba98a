use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use seawall_core::{BoxError, Calls};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::future::{calls, instant_after, Expiry, ResponseFuture};

/// A timeout on the whole call, counted from the first `poll_ready` for it (see the
/// [module docs](crate::timeout)).
pub struct Timeout<S> {
    inner: S,
    timeout: Duration,
    // When the caller started waiting for readiness for the next call.
    started: Option<Instant>,
    // Wakes a caller waiting for readiness when its time is up; allocated the first time the
    // inner service is not ready at once, then reset.
    timer: Option<Pin<Box<Sleep>>>,
    // The time ran out while waiting for readiness: the next call is refused.
    expired: bool,
    calls: Calls,
}

seawall_core::inner_accessors!(Timeout<S>, inner: S);

impl<S> Timeout<S> {
    pub(crate) fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            started: None,
            timer: None,
            expired: false,
            calls: calls("total"),
        }
    }

    #[inline]
    fn end(&self, started: Instant) -> Instant {
        instant_after(started, self.timeout)
    }
}

impl<S: Clone> Clone for Timeout<S> {
    /// A clone with no clock running and no timer: it times its own next request. It shares
    /// the counter handles (axum clones a service per request: taking new ones from the
    /// recorder would cost each request a lookup and five allocations).
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            timeout: self.timeout,
            started: None,
            timer: None,
            expired: false,
            calls: self.calls.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Timeout<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("inner", &self.inner)
            .field("timeout", &self.timeout)
            .field("started", &self.started)
            .field("expired", &self.expired)
            .finish_non_exhaustive()
    }
}

impl<S, Req> Service<Req> for Timeout<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.expired {
            return Poll::Ready(Ok(()));
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        if let Poll::Ready(ready) = self.inner.poll_ready(cx) {
            return Poll::Ready(ready.map_err(Into::into));
        }
        let end = self.end(started);
        let timer = match &mut self.timer {
            Some(timer) => {
                if timer.deadline() != end {
                    timer.as_mut().reset(end);
                }
                timer
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(end))),
        };
        if timer.as_mut().poll(cx).is_ready() {
            // Ready to refuse: an error here would be terminal for tower.
            self.expired = true;
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        let started = self.started.take();
        if self.expired {
            return self.refuse();
        }
        let end = self.end(started.unwrap_or_else(Instant::now));
        ResponseFuture::bounded(
            self.inner.call(request),
            end,
            None,
            Expiry::Deadline,
            self.calls.clone(),
        )
    }
}

impl<S> Timeout<S> {
    /// The refusal of a call whose time ran out while waiting for readiness: out of line,
    /// so that its event does not weigh on the path of every call.
    #[cold]
    #[inline(never)]
    fn refuse<F>(&mut self) -> ResponseFuture<F> {
        self.expired = false;
        seawall_core::event!(timeout, DEBUG, _, "timed_out", reason = "not_ready", timeout = ?self.timeout);
        ResponseFuture::refused(self.calls.clone())
    }
}
