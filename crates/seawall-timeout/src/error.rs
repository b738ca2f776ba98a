//! The error of a per-attempt timeout.

use std::error::Error;
use std::fmt;
use std::io;
use std::time::Duration;

/// One attempt took longer than its [`AttemptTimeout`](crate::AttemptTimeout) allows.
///
/// Unlike [`DeadlineExceeded`](seawall_core::rejection::DeadlineExceeded), which says "do
/// not retry" because the request has no time left, this error is worth a retry: the next
/// attempt may be faster, and the request's deadline (if any) still has room. Its
/// [`source`](Error::source) is an `io::Error` of kind `TimedOut`, so Seawall's HTTP retry
/// policy counts it as a transient failure like any other timeout.
#[derive(Debug)]
pub struct AttemptTimedOut {
    after: Duration,
    source: io::Error,
}

impl AttemptTimedOut {
    pub(crate) fn new(after: Duration) -> Self {
        Self {
            after,
            source: io::Error::from(io::ErrorKind::TimedOut),
        }
    }

    /// How long the attempt ran before it was given up.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for AttemptTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attempt timed out after {:.3}s",
            self.after.as_secs_f64()
        )
    }
}

impl Error for AttemptTimedOut {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}
