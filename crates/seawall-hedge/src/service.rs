use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;

use crate::events::HedgeStats;
use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::Policy;

/// A service that hedges its inner service's slow calls; made by a
/// [`HedgeLayer`](crate::HedgeLayer).
///
/// # Clone
///
/// Clones share the layer's configuration, policy, latency window and budget; the inner
/// service is cloned. A clone starts as its inner service's clone does (a tower service must
/// be polled ready before each call).
pub struct Hedge<S, P> {
    inner: S,
    shared: Arc<Shared<P>>,
}

seawall_core::inner_accessors!(Hedge<S, P>, inner: S);

impl<S, P> Hedge<S, P> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<P>>) -> Self {
        Self { inner, shared }
    }

    /// What the layer's hedges did since it was built.
    pub fn stats(&self) -> HedgeStats {
        self.shared.counters.snapshot()
    }
}

impl<S: Clone, P> Clone for Hedge<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, P: fmt::Debug> fmt::Debug for Hedge<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedge")
            .field("inner", &self.inner)
            .field("delay", &self.shared.delay)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

impl<S, P, Req> Service<Req> for Hedge<S, P>
where
    S: Service<Req> + Clone,
    P: Policy<Req, S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, P, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let shared = &self.shared;
        if let (true, Some(budget)) = (shared.deposit, &shared.budget) {
            budget.deposit();
        }
        // The ready service makes the first attempt; a clone (polled ready before use)
        // makes the others, and is made only when the request can be sent again.
        let replay = shared.policy.clone_request(&request);
        let others = replay.as_ref().map(|_| self.inner.clone());
        let window = shared.delay.window_of(shared.policy.key(&request));
        let start = Instant::now();
        let delay = (window.as_ref())
            .and_then(|w| w.delay())
            .or_else(|| shared.delay.current());
        let future = self.inner.call(request);
        ResponseFuture::new(
            future,
            replay,
            others,
            (start, delay, window),
            self.shared.clone(),
        )
    }
}
