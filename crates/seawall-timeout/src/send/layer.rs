use tower_layer::Layer;

use super::service::SendDeadline;

/// Wraps a client in [`SendDeadline`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SendDeadlineLayer {
    /// Fails the call with `DeadlineExceeded` when the deadline passes (a timer per request).
    unenforced: bool,
}

impl SendDeadlineLayer {
    /// The layer.
    pub fn new() -> Self {
        Self { unenforced: false }
    }

    /// The layer without its timer: it writes the header, refuses a request whose deadline
    /// has passed and runs the inner service with the deadline as the task's current one,
    /// but does not fail the call when the deadline passes — for a layer above an
    /// [`AttemptTimeoutLayer`](crate::AttemptTimeoutLayer) (which ends each attempt by the
    /// task's deadline), where a second timer for the same instant would cost a timer
    /// registration per request and never fire first.
    pub fn unenforced() -> Self {
        Self { unenforced: true }
    }
}

impl<S> Layer<S> for SendDeadlineLayer {
    type Service = SendDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SendDeadline {
            inner,
            calls: crate::future::calls("send"),
            unenforced: self.unenforced,
        }
    }
}
