use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use seawall_core::permit::PermitGuard;
use seawall_core::stripe::Handles;
use seawall_core::{BoxError, Classify};
use tokio::time::Instant;
use tower_service::Service;

use super::future::{ResponseFuture, Ticket};
use super::hold::Hold;
use crate::controller::{Controller, Enqueued, ShedPermit};
use crate::priority::Prioritize;

/// The service of [`ShedLayer`](super::ShedLayer): admits a request in `call` if a slot is
/// free under its priority's share of the limit, lets it wait if a queue is configured, and
/// otherwise fails it at once with
/// [`Overloaded`](seawall_core::rejection::Overloaded).
///
/// # Clone
///
/// Clones share the limit and the count in flight; a clone holds no slot. (axum clones the
/// service for every request.)
pub struct Shed<S, P, C, H> {
    pub(crate) inner: S,
    pub(crate) controller: Arc<Handles<Controller>>,
    pub(crate) prioritize: P,
    pub(crate) classify: C,
    pub(crate) hold: H,
}

impl<S: Clone, P: Clone, C: Clone, H: Clone> Clone for Shed<S, P, C, H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            controller: self.controller.clone(),
            prioritize: self.prioritize.clone(),
            classify: self.classify.clone(),
            hold: self.hold.clone(),
        }
    }
}

impl<S: fmt::Debug, P, C, H> fmt::Debug for Shed<S, P, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shed")
            .field("inner", &self.inner)
            .field("limit", &self.controller.limit())
            .field("in_flight", &self.controller.in_flight())
            .finish_non_exhaustive()
    }
}

seawall_core::inner_accessors!(Shed<S, P, C, H>, inner: S);

impl<S, P, C, H> Shed<S, P, C, H> {
    /// The limit in force now.
    pub fn limit(&self) -> usize {
        self.controller.limit()
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.controller.in_flight()
    }
}

impl<S, Req, P, C, H> Service<Req> for Shed<S, P, C, H>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    P: Prioritize<Req>,
    C: Classify<S::Response, S::Error> + Clone,
    H: Hold<S::Response> + Clone,
{
    type Response = H::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, Req, C, H>;

    /// The inner service's readiness. Admission never depends on it: a request is admitted
    /// or refused in `call`, so a caller waiting here holds no slot.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let priority = self.prioritize.priority(&request);
        let c = &self.controller;
        let admitted = if c.must_queue() {
            None
        } else {
            c.try_acquire(priority)
        };
        let classify = self.classify.clone();
        let hold = self.hold.clone();
        if let Some(in_flight) = admitted {
            let guard = PermitGuard::new(ShedPermit::new(c.handle(), in_flight));
            return ResponseFuture::running(self.inner.call(request), guard, classify, hold);
        }
        if c.queue.is_none() {
            return self.reject("over_limit", classify, hold);
        }
        match c.enqueue(priority, Instant::now()) {
            Enqueued::Admitted(in_flight) => {
                let guard = PermitGuard::new(ShedPermit::new(c.handle(), in_flight));
                ResponseFuture::running(self.inner.call(request), guard, classify, hold)
            }
            Enqueued::Waiting { id, rx, wait } => {
                // The inner service was made ready for this call: it goes with the request,
                // and a clone stays for the next caller to make ready.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let ticket = Ticket::new(c.shared().clone(), priority, id, rx);
                ResponseFuture::waiting(c.handle(), ticket, wait, ready, request, classify, hold)
            }
            Enqueued::Full => self.reject("queue_full", classify, hold),
        }
    }
}

impl<S, P, C, H> Shed<S, P, C, H> {
    /// Refuses a request; `reason` (`over_limit`, `queue_full`) goes in the `shed` event.
    fn reject<F, Req>(
        &self,
        reason: &'static str,
        classify: C,
        hold: H,
    ) -> ResponseFuture<F, S, Req, C, H> {
        let refused = self.controller.refuse(reason);
        ResponseFuture::rejected(refused, self.controller.handle(), classify, hold)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use tower::{service_fn, Layer, Service};

    use crate::limit::Fixed;
    use crate::ShedLayer;

    #[tokio::test]
    async fn an_admitted_request_holds_its_threads_handle_not_the_shared_count() {
        // Two threads admitting through one shedder would otherwise write one reference
        // count on every request: the shared `Arc`'s count must not move while requests
        // are in flight, and comes back when they finish.
        let layer = ShedLayer::builder().limit(Fixed::new(10)).build().unwrap();
        let mut shed = layer.layer(service_fn(|n: u32| async move { Ok::<_, String>(n) }));
        let shared = shed.controller.shared().clone();
        let before = Arc::strong_count(&shared);
        let futures: Vec<_> = (0..5).map(|n| shed.call(n)).collect();
        assert_eq!(shed.in_flight(), 5);
        assert_eq!(Arc::strong_count(&shared), before);
        drop((layer, shed));
        for (n, future) in futures.into_iter().enumerate() {
            assert_eq!(future.await.unwrap(), n as u32);
        }
        assert_eq!(Arc::strong_count(&shared), 1, "a permit leaked the shedder");
    }
}
