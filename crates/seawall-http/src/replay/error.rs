//! Errors of replayable bodies.

use std::error::Error;
use std::fmt;

/// Why a request body cannot be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotReplayable {
    /// The body is larger than the replay buffer's cap (or announced that it would be), so its
    /// bytes were streamed through without being kept.
    TooLarge {
        /// The cap in bytes.
        cap: usize,
    },
    /// Reading the body failed, so there is no complete copy of it to send again.
    SourceFailed,
}

impl fmt::Display for NotReplayable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { cap } => {
                write!(
                    f,
                    "body is larger than the replay buffer cap of {cap} bytes"
                )
            }
            Self::SourceFailed => f.write_str("body failed while it was read"),
        }
    }
}

impl Error for NotReplayable {}

/// The error a replay of a body yields when it cannot produce the original bytes.
///
/// A replay that was started while the body still fit in its buffer fails with this error
/// if, before it caught up, another reader of the same body read past the cap (the buffered
/// bytes are then dropped) or the source body failed. It never yields wrong bytes instead:
/// everything it yielded before the error is a prefix of the original body.
#[derive(Debug)]
pub struct ReplayError {
    reason: NotReplayable,
}

impl ReplayError {
    pub(crate) fn new(reason: NotReplayable) -> Self {
        Self { reason }
    }

    /// Why the replay could not go on.
    pub fn reason(&self) -> NotReplayable {
        self.reason
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot replay request body: {}", self.reason)
    }
}

impl Error for ReplayError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.reason)
    }
}
