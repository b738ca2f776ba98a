use tower_layer::Layer;

use super::service::SendDeadline;

/// Wraps a client in [`SendDeadline`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SendDeadlineLayer {
    _private: (),
}

impl SendDeadlineLayer {
    /// The layer.
    pub fn new() -> Self {
        Self { _private: () }
    }
}

impl<S> Layer<S> for SendDeadlineLayer {
    type Service = SendDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SendDeadline {
            inner,
            calls: crate::future::calls("send"),
        }
    }
}
