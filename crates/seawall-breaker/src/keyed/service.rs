use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::task::{Context, Poll};

use seawall_core::rejection::CircuitOpen;
use seawall_core::{BoxError, Classify, ErrorsAreFailures};
use tower_service::Service;

use super::future::ResponseFuture;
use super::keys::Keys;
use super::KeyFn;
use crate::admission::{admit_now, deadline_passed, Decision, FailFast};

/// A breaker per key in front of a service; built by
/// [`KeyedCircuitBreakerLayer`](super::KeyedCircuitBreakerLayer).
///
/// Because the key is known only in `call`, `poll_ready` waits for the inner service
/// whatever the breakers' states, and `call` rejects a key whose breaker is open without
/// calling the inner service.
///
/// # Deadline
///
/// As [`CircuitBreaker`](crate::CircuitBreaker) (with the same code): a keyed request made
/// when the task's [current deadline](seawall_core::deadline::Deadline::current) has passed
/// is refused with [`DeadlineExceeded`](seawall_core::rejection::DeadlineExceeded), unsent,
/// uncounted, without looking its key's breaker up and without taking a probe permit; a
/// probe admitted with a deadline sooner than the probe timeout holds its key's half-open
/// only until that deadline. A request without a key goes to the inner service as before:
/// it is no breaker's business.
///
/// # Clone
///
/// Every clone shares the layer's table of breakers (and its overflow breaker) and clones
/// the inner service, the key function and the classifier. A keyed breaker holds no
/// reservation between `poll_ready` and `call` (the key is known only in `call`), so
/// cloning per request, as axum does, is right.
pub struct KeyedCircuitBreaker<S, K, F, C = ErrorsAreFailures> {
    inner: S,
    keys: Arc<Keys<K>>,
    key: F,
    classify: C,
}

impl<S, K, F, C> KeyedCircuitBreaker<S, K, F, C> {
    pub(super) fn new(inner: S, keys: Arc<Keys<K>>, key: F, classify: C) -> Self {
        Self {
            inner,
            keys,
            key,
            classify,
        }
    }
}

seawall_core::inner_accessors!(KeyedCircuitBreaker<S, K, F, C>, inner: S);

impl<S, K, F, C, Req> Service<Req> for KeyedCircuitBreaker<S, K, F, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Hash + Eq + Clone + fmt::Debug,
    F: KeyFn<Req, Key = K>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let Some(key) = self.key.key(&request) else {
            return ResponseFuture::bypass(self.inner.call(request));
        };
        if deadline_passed() {
            return ResponseFuture::expired();
        }
        let breaker = self.keys.breaker(&key);
        match admit_now(&breaker, &FailFast) {
            Decision::Call(guard) => {
                ResponseFuture::called(self.inner.call(request), guard, self.classify.clone())
            }
            Decision::Refuse(after) => {
                breaker.rejected();
                ResponseFuture::rejected(CircuitOpen::new(after))
            }
            Decision::Expired => ResponseFuture::expired(),
        }
    }
}

impl<S: Clone, K, F: Clone, C: Clone> Clone for KeyedCircuitBreaker<S, K, F, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            keys: self.keys.clone(),
            key: self.key.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<S: fmt::Debug, K, F, C> fmt::Debug for KeyedCircuitBreaker<S, K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreaker")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
