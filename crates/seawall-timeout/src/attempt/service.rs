use std::time::Duration;

use seawall_core::deadline::Deadline;
use seawall_core::Calls;
use tokio::time::Instant;

use crate::future::{instant_after, Expiry, ResponseFuture};
use crate::passthrough::passthrough;

/// A timeout on each attempt, capped by the task's deadline (see the
/// [module docs](crate::attempt)).
#[derive(Clone, Debug)]
pub struct AttemptTimeout<S> {
    pub(super) inner: S,
    pub(super) timeout: Duration,
    pub(super) calls: Calls,
}

passthrough! {
    impl<Req> Service<Req> for AttemptTimeout<S> {
        fn call(&mut self, request: Req) -> Self::Future {
            let end = instant_after(Instant::now(), self.timeout);
            // The attempt ends at its own timeout, or at the task's deadline if that comes first.
            let (end, expiry) = match Deadline::current() {
                Some(deadline) if deadline.is_expired() => {
                    return ResponseFuture::refused(self.calls.clone());
                }
                Some(deadline) if deadline.instant() < end => {
                    (deadline.instant(), Expiry::Deadline)
                }
                _ => (end, Expiry::Attempt(self.timeout)),
            };
            let future = self.inner.call(request);
            ResponseFuture::bounded(future, end, None, expiry, self.calls.clone())
        }
    }
}
