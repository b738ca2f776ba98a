use tower_layer::Layer;

use super::service::RejectionResponseService;

/// What [`RejectionResponseLayer`] does with errors that are not rejections: return them
/// unchanged. The service's error type is the inner service's.
#[derive(Clone, Copy, Debug, Default)]
pub struct PassOtherErrors;

/// What [`RejectionResponseLayer`] does with errors that are not rejections: log them and
/// answer 500 Internal Server Error. The service's error type is `Infallible`, as axum's
/// `Router::layer` requires.
#[derive(Clone, Copy, Debug, Default)]
pub struct OtherErrorsAs500;

/// Turns every Seawall rejection from the inner service into the response a client should
/// see (see [`RejectionResponse`](super::RejectionResponse)).
///
/// - [`RejectionResponseLayer::new`] passes every other error through unchanged: for client
///   stacks and for servers that handle errors further out.
/// - [`RejectionResponseLayer::infallible`] answers every other error with a 500 and makes
///   the service infallible, so a Seawall stack goes straight into axum's `Router::layer`
///   with no `HandleErrorLayer`. Like axum's own `HandleError`, it waits for the inner
///   service's readiness inside the response future (the inner service must be `Clone`).
#[derive(Clone, Copy, Debug, Default)]
pub struct RejectionResponseLayer<M = PassOtherErrors> {
    mode: M,
}

impl RejectionResponseLayer {
    /// Rejections become responses; other errors pass through.
    pub fn new() -> Self {
        Self {
            mode: PassOtherErrors,
        }
    }

    /// Rejections become responses and other errors become 500s: the service never fails.
    pub fn infallible() -> RejectionResponseLayer<OtherErrorsAs500> {
        RejectionResponseLayer {
            mode: OtherErrorsAs500,
        }
    }
}

impl<S, M: Copy> Layer<S> for RejectionResponseLayer<M> {
    type Service = RejectionResponseService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RejectionResponseService::with_mode(inner, self.mode)
    }
}
