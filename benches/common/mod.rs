//! What every benchmark shares: the allocation profiler, a way to drive one ready call,
//! and the service that answers at once.

use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use seawall::core::BoxError;
use tower::retry::budget::{Budget, TpsBudget};
use tower::{service_fn, Service};

/// Counts allocations per call beside the time.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// Drives one call through `svc` when both readiness and the response are immediate, as
/// they are on the success path of an in-memory service.
pub(crate) fn call_ready<S: Service<R>, R>(
    svc: &mut S,
    request: R,
) -> Result<S::Response, S::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Err(e),
        Poll::Pending => panic!("benchmarked service was not ready"),
    }
    let mut fut = pin!(svc.call(request));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("benchmarked call did not complete at once"),
    }
}

/// A service that answers `x + 1` at once.
#[allow(dead_code)] // not every benchmark uses it
pub(crate) fn ok_service(
) -> impl Service<u64, Response = u64, Error = BoxError, Future = Ready<Result<u64, BoxError>>> + Clone
{
    service_fn(|x: u64| ready(Ok::<_, BoxError>(x + 1)))
}

/// tower's budget policy as its documentation writes it: a success deposits, a failure
/// withdraws before retrying. The peer of Seawall's retry layer in the benchmarks.
#[derive(Clone)]
#[allow(dead_code)] // not every benchmark uses it
pub(crate) struct TowerBudgetPolicy(pub(crate) Arc<TpsBudget>);

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for TowerBudgetPolicy {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => {
                self.0.deposit();
                None
            }
            Err(_) => self.0.withdraw().then(|| ready(())),
        }
    }

    fn clone_request(&mut self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}
