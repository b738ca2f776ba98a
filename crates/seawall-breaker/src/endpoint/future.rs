//! The response future of [`EndpointBreaker`](super::EndpointBreaker).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use seawall_core::{BoxError, Classify};

use super::cap::Member;
use crate::future::ResponseFuture;
use crate::shared::Shared;
use crate::state::State as BreakerState;

pin_project! {
    /// The response future of [`EndpointBreaker`](super::EndpointBreaker): a call through
    /// the endpoint's breaker (reported to it, or rejected at once), or a call the full
    /// [cap](super::EjectionCap) sent straight through.
    ///
    /// A probe's future wakes the balancer's task when it finishes or is dropped, so the
    /// endpoint, not ready while its probe is out, is polled again.
    pub struct EndpointFuture<F, C> {
        #[pin]
        state: State<F, C>,
        // Dropped after `state`, so the outcome is recorded before the wake.
        wake: Option<WakeOnDrop>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, C> {
        Breaker {
            #[pin]
            future: ResponseFuture<F, C>,
        },
        Spared {
            #[pin]
            future: F,
        },
    }
}

/// When a probe is dropped (finished or not): gives the endpoint's slot back if the probe
/// closed the breaker, and wakes the endpoint's waiting task.
struct WakeOnDrop {
    member: Arc<Member>,
    shared: Arc<Shared>,
}

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        if !matches!(
            self.shared.state(),
            BreakerState::Open | BreakerState::HalfOpen | BreakerState::ForcedOpen
        ) {
            self.member.readmit();
        }
        self.member.probe_done();
    }
}

impl<F, C> EndpointFuture<F, C> {
    pub(super) fn breaker(future: ResponseFuture<F, C>) -> Self {
        Self {
            state: State::Breaker { future },
            wake: None,
        }
    }

    pub(super) fn probe(
        future: ResponseFuture<F, C>,
        member: Arc<Member>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            state: State::Breaker { future },
            wake: Some(WakeOnDrop { member, shared }),
        }
    }

    pub(super) fn spared(future: F) -> Self {
        Self {
            state: State::Spared { future },
            wake: None,
        }
    }
}

impl<F, C, T, E> Future for EndpointFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.state.project() {
            StateProj::Breaker { future } => ready!(future.poll(cx)),
            StateProj::Spared { future } => ready!(future.poll(cx)).map_err(Into::into),
        };
        // The outcome is in the breaker: wake whoever waits on this probe.
        drop(this.wake.take());
        Poll::Ready(result)
    }
}

impl<F, C> fmt::Debug for EndpointFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointFuture").finish_non_exhaustive()
    }
}
