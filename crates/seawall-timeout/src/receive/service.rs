use http::Request;
use seawall_core::deadline::Deadline;
use seawall_core::Calls;

use super::layer::Config;
use crate::future::ResponseFuture;
use crate::header;
use crate::passthrough::{call_within, passthrough};

/// Takes the caller's deadline and hands it on (see the [module docs](crate::receive)).
#[derive(Clone, Debug)]
pub struct ReceiveDeadline<S> {
    pub(super) inner: S,
    pub(super) config: Config,
    pub(super) calls: Calls,
}

passthrough! {
    impl<B> Service<Request<B>> for ReceiveDeadline<S> {
        fn call(&mut self, request: Request<B>) -> Self::Future {
            let config = &self.config;
            let timeout = header::read(request.headers())
                .map(|timeout| timeout.min(config.max_timeout))
                .or(config.default_timeout);
            let from_header = timeout.map(Deadline::after);
            let deadline = match (from_header, request.extensions().get::<Deadline>()) {
                (Some(a), Some(b)) => Some(a.min(*b)),
                (a, b) => a.or(b.copied()),
            };
            let Some(deadline) = deadline else {
                return ResponseFuture::unbounded(self.inner.call(request), self.calls.clone());
            };
            if !deadline.allows(config.min_remaining) {
                seawall_core::event!(
                    timeout,
                    DEBUG,
                    _,
                    "refused",
                    reason = "deadline_too_close",
                    remaining = ?deadline.remaining(),
                    min_remaining = ?config.min_remaining
                );
                return ResponseFuture::refused(self.calls.clone());
            }
            call_within(&mut self.inner, request, deadline, true, &self.calls)
        }
    }
}
