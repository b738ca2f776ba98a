//! What this crate's services have in common, written once: the check of a timeout setting,
//! the call of an inner service under a deadline, and the `Service` impl of the services
//! whose readiness is their inner service's (all but [`Timeout`](crate::Timeout), which
//! times the wait for readiness).

use std::time::Duration;

use http::Request;
use seawall_core::deadline::Deadline;
use seawall_core::{Calls, ConfigError};
use tower_service::Service;

use crate::future::{Expiry, ResponseFuture};

/// `timeout`, if it is a usable setting: zero would refuse or fail every call.
pub(crate) fn nonzero(timeout: Duration) -> Result<Duration, ConfigError> {
    if timeout.is_zero() {
        return Err(ConfigError::new("timeout must be more than zero, got 0"));
    }
    Ok(timeout)
}

/// Calls `inner` with `request` under `deadline`, which has not passed: the deadline goes
/// into the request's extensions and is the task's [current](Deadline::current) one while
/// the inner service is called and each time its future is polled. When `enforce` is set
/// the call fails with `DeadlineExceeded` when the deadline passes; otherwise it is only
/// scoped (an unenforced [`SendDeadline`](crate::SendDeadline), whose caller times the call
/// itself). What [`SendDeadline`](crate::SendDeadline) and
/// [`ReceiveDeadline`](crate::ReceiveDeadline) do once they know the deadline.
#[inline]
pub(crate) fn call_within<S, B>(
    inner: &mut S,
    mut request: Request<B>,
    deadline: Deadline,
    enforce: bool,
    calls: &Calls,
) -> ResponseFuture<S::Future>
where
    S: Service<Request<B>>,
{
    request.extensions_mut().insert(deadline);
    let future = deadline.sync_scope(|| inner.call(request));
    if enforce {
        ResponseFuture::bounded(
            future,
            deadline.instant(),
            Some(deadline),
            Expiry::Deadline,
            calls.clone(),
        )
    } else {
        ResponseFuture::scoped(future, deadline, calls.clone())
    }
}

/// Writes, for a service `$ty<S>` with fields `inner: S` and `calls: Calls`, the accessors
/// of its inner service and its `Service` impl: readiness is the inner service's, errors are
/// boxed, the future is this crate's [`ResponseFuture`], and `call` is the one given.
///
/// ```ignore
/// passthrough! {
///     impl<B> Service<Request<B>> for SendDeadline<S> {
///         fn call(&mut self, request: Request<B>) -> Self::Future { … }
///     }
/// }
/// ```
macro_rules! passthrough {
    (
        impl<$($param:ident),*> Service<$request:ty> for $ty:ident<S> {
            $($call:tt)*
        }
    ) => {
        seawall_core::inner_accessors!($ty<S>, inner: S);

        impl<S, $($param),*> tower_service::Service<$request> for $ty<S>
        where
            S: tower_service::Service<$request>,
            S::Error: Into<seawall_core::BoxError>,
        {
            type Response = S::Response;
            type Error = seawall_core::BoxError;
            type Future = $crate::future::ResponseFuture<S::Future>;

            #[inline]
            fn poll_ready(
                &mut self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx).map_err(Into::into)
            }

            $($call)*
        }
    };
}

pub(crate) use passthrough;
