use http::Request;
use seawall_core::deadline::Deadline;
use seawall_core::Calls;

use crate::future::ResponseFuture;
use crate::header;
use crate::passthrough::{call_within, passthrough};

/// Sends the request's remaining time with it (see the [module docs](crate::send)).
#[derive(Clone, Debug)]
pub struct SendDeadline<S> {
    pub(super) inner: S,
    pub(super) calls: Calls,
    /// Leaves failing the call at the deadline to another layer (no timer).
    pub(super) unenforced: bool,
}

passthrough! {
    impl<B> Service<Request<B>> for SendDeadline<S> {
        fn call(&mut self, mut request: Request<B>) -> Self::Future {
            let deadline = match request.extensions().get::<Deadline>() {
                Some(own) => Some(own.or_current()),
                None => Deadline::current(),
            };
            let Some(deadline) = deadline else {
                return ResponseFuture::unbounded(self.inner.call(request), self.calls.clone());
            };
            if deadline.is_expired() {
                seawall_core::event!(timeout, DEBUG, _, "refused", reason = "deadline_passed");
                return ResponseFuture::refused(self.calls.clone());
            }
            header::write(request.headers_mut(), deadline.remaining());
            call_within(
                &mut self.inner,
                request,
                deadline,
                !self.unenforced,
                &self.calls,
            )
        }
    }
}
