//! The one warning a re-sending layer gives about bodies over the replay cap.

use std::sync::atomic::{AtomicBool, Ordering};

use http::Request;

use super::NotReplayable;

/// The layer that would have sent a request again, for [`CapWarning::report`]: its events'
/// target and `layer` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resender {
    /// The retry layer: target `seawall::retry`.
    Retry,
    /// The hedge layer: target `seawall::hedge`.
    Hedge,
}

/// Says once, at `WARN`, that requests are not being sent again because their bodies are
/// over the replay cap.
///
/// A request whose body outgrew [`ReplayLayer`](super::ReplayLayer)'s cap is sent once and
/// never retried or hedged; that is the right thing to do, but a cap too small for the
/// traffic would otherwise cost every retry silently (each refusal is only a `DEBUG` event).
/// The HTTP policies of the retry and hedge layers each keep one of these, so each layer
/// warns the first time it happens, with the cap, the method and the URI.
///
/// A clone starts afresh: each layer built from a cloned policy warns once on its own.
#[derive(Debug, Default)]
pub struct CapWarning {
    warned: AtomicBool,
}

impl Clone for CapWarning {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl CapWarning {
    /// A warning not given yet.
    pub const fn new() -> Self {
        Self {
            warned: AtomicBool::new(false),
        }
    }

    /// Reports that `request` will not be sent again by `layer` because of `reason`: a
    /// `WARN` event `body_too_large` the first time the reason is the cap, nothing otherwise
    /// (a failed body source is the source's error, not a setting to change).
    pub fn report<B>(&self, layer: Resender, request: &Request<B>, reason: NotReplayable) {
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
