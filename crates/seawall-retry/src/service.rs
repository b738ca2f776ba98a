use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use crate::future::ResponseFuture;
use crate::layer::Handles;
use crate::{Policy, RetryBudget};

/// A service that retries its inner service's failures; made by a
/// [`RetryLayer`](crate::RetryLayer).
///
/// # Clone
///
/// Clones share the layer's configuration, policy and budget; the inner service is cloned.
/// A clone starts as its inner service's clone does (a tower service must be polled ready
/// before each call).
pub struct Retry<S, P> {
    inner: S,
    shared: Arc<Handles<P>>,
}

impl<S, P> Retry<S, P> {
    pub(crate) fn new(inner: S, shared: Arc<Handles<P>>) -> Self {
        Self { inner, shared }
    }

    /// The budget this service draws on, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.shared.budget.as_ref()
    }
}

seawall_core::inner_accessors!(Retry<S, P>, inner: S);

impl<S: Clone, P> Clone for Retry<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, P: fmt::Debug> fmt::Debug for Retry<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner)
            .field("policy", &self.shared.policy)
            .field("max_attempts", &self.shared.max_attempts)
            .finish_non_exhaustive()
    }
}

impl<S, P, Req> Service<Req> for Retry<S, P>
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
        if let Some(budget) = &self.shared.budget {
            budget.deposit();
        }
        let replay = if self.shared.max_attempts > 1 {
            self.shared.policy.clone_request(&request)
        } else {
            None
        };
        // The ready service makes the first attempt; a clone (polled ready before use)
        // makes any retry, and is made only when a retry is possible.
        let retries = replay.as_ref().map(|_| self.inner.clone());
        let future = self.inner.call(request);
        ResponseFuture::new(future, replay, retries, self.shared.handle())
    }
}
