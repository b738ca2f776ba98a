//! What the HTTP policies of the layers that send a request again share: which requests
//! may be sent again, and the one warning about bodies over the replay cap.

use std::sync::atomic::{AtomicBool, Ordering};

use http::Request;

use super::{try_clone_idempotent, NotReplayable, ReplayableBody};

/// Decides, for the HTTP policy of a layer that sends requests again (retry, hedge), whether
/// a request may be sent again, and copies it; says once when a body over the replay cap
/// stops it.
///
/// - A request is copied only when its method makes a second send safe, or it is a POST
///   with an `Idempotency-Key` and [`allow_keyed_post`](Self::allow_keyed_post) vouches
///   that the server honours the key ([`try_clone_idempotent`]), and while its body can
///   still be replayed.
/// - A request whose body outgrew [`ReplayLayer`](super::ReplayLayer)'s cap is sent once
///   and never again. That is right, but a cap too small for the traffic would otherwise
///   cost every retry or hedge silently (each refusal is only a `DEBUG` event): the first
///   time it happens, a `WARN` event `body_too_large` on the layer's target (`seawall::retry`,
///   `seawall::hedge`) gives the cap, the method and the URI.
///
/// # Clone
///
/// A clone has the same settings and warns once on its own: each layer built from a cloned
/// policy warns once.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use seawall_http::replay::{make_replayable, Resend, Resender};
///
/// let resend = Resend::new(Resender::Retry);
/// let put = make_replayable(
///     http::Request::put("http://upstream/doc").body(Full::new(Bytes::from("v2"))).unwrap(),
///     64 * 1024,
/// );
/// assert!(resend.try_copy(&put).is_some());
/// let post = make_replayable(
///     http::Request::post("http://upstream/orders").body(Full::new(Bytes::new())).unwrap(),
///     64 * 1024,
/// );
/// assert!(resend.try_copy(&post).is_none(), "a POST is never sent twice by default");
/// ```
#[derive(Clone, Debug)]
pub struct Resend {
    layer: Resender,
    allow_keyed_post: bool,
    cap_warning: CapWarning,
}

impl Resend {
    /// Idempotent methods only, for the layer `layer`.
    pub const fn new(layer: Resender) -> Self {
        Self {
            layer,
            allow_keyed_post: false,
            cap_warning: CapWarning::new(),
        }
    }

    /// Also sends again POSTs that carry a non-empty `Idempotency-Key` (default: off).
    pub fn allow_keyed_post(mut self, allow: bool) -> Self {
        self.allow_keyed_post = allow;
        self
    }

    /// A copy of `request` for another attempt, or `None` when it must not be sent again:
    /// its method does not allow it, or its body can no longer be replayed (reported once
    /// at `WARN` when the reason is the cap).
    pub fn try_copy<B>(
        &self,
        request: &Request<ReplayableBody<B>>,
    ) -> Option<Request<ReplayableBody<B>>> {
        try_clone_idempotent(request, self.allow_keyed_post).unwrap_or_else(|reason| {
            self.cap_warning.report(self.layer, request, reason);
            None
        })
    }

    /// Whether `replay`, a copy kept for further attempts, can still be sent: `false` once
    /// its body stopped being replayable while the first attempt read it (reported once at
    /// `WARN` when the reason is the cap).
    pub fn can_replay<B>(&self, replay: &Request<ReplayableBody<B>>) -> bool {
        match replay.body().replay_status() {
            Ok(()) => true,
            Err(reason) => {
                self.cap_warning.report(self.layer, replay, reason);
                false
            }
        }
    }
}

/// The layer that would have sent a request again: the target and `layer` field of
/// [`Resend`]'s warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resender {
    /// The retry layer: target `seawall::retry`.
    Retry,
    /// The hedge layer: target `seawall::hedge`.
    Hedge,
}

/// Says once, at `WARN`, that requests are not being sent again because their bodies are
/// over the replay cap. A clone starts afresh.
#[derive(Debug, Default)]
struct CapWarning {
    warned: AtomicBool,
}

impl Clone for CapWarning {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl CapWarning {
    const fn new() -> Self {
        Self {
            warned: AtomicBool::new(false),
        }
    }

    /// Reports that `request` will not be sent again by `layer` because of `reason`: a
    /// `WARN` event `body_too_large` the first time the reason is the cap, nothing otherwise
    /// (a failed body source is the source's error, not a setting to change).
    fn report<B>(&self, layer: Resender, request: &Request<B>, reason: NotReplayable) {
        let NotReplayable::TooLarge { cap } = reason else {
            return;
        };
        if self.warned.swap(true, Ordering::Relaxed) {
            return;
        }
        // A target must be a constant, hence one event per layer.
        macro_rules! warn_as {
            ($target:literal, $layer:literal, $verb:literal) => {
                tracing::warn!(
                    target: $target,
                    layer = $layer,
                    event = "body_too_large",
                    cap,
                    method = %request.method(),
                    uri = %request.uri(),
                    concat!(
                        "a request body is larger than the replay cap of {} bytes, so requests \
                         like it are not ",
                        $verb,
                        "; raise the cap of ReplayLayer if they should be (reported once per ",
                        $layer,
                        " layer)"
                    ),
                    cap
                )
            };
        }
        match layer {
            Resender::Retry => warn_as!("seawall::retry", "retry", "retried"),
            Resender::Hedge => warn_as!("seawall::hedge", "hedge", "hedged"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_the_cap_warns_and_only_once_and_a_clone_warns_again() {
        let warning = CapWarning::new();
        let request = Request::new(());
        // A failed source is not the cap: nothing, and the warning is still to be given.
        warning.report(Resender::Retry, &request, NotReplayable::SourceFailed);
        assert!(!warning.warned.load(Ordering::Relaxed));
        warning.report(
            Resender::Retry,
            &request,
            NotReplayable::TooLarge { cap: 4 },
        );
        assert!(warning.warned.load(Ordering::Relaxed));
        let clone = warning.clone();
        assert!(
            !clone.warned.load(Ordering::Relaxed),
            "a clone starts afresh"
        );
    }
}
