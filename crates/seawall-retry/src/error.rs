//! The errors of the retry layer.

use std::error::Error;
use std::fmt;

use seawall_core::BoxError;

pub use seawall_core::ConfigError;

/// A failure that the tier above must not retry: a retry layer below already retried it as
/// much as it could (attempts or budget exhausted), so retrying again would only multiply
/// the load on a dependency that is failing.
///
/// [`RetryErrors`](crate::RetryErrors) wraps the failures it gives up on in this type when
/// [`mark_give_ups`](crate::RetryErrors::mark_give_ups) is on, and never retries a failure
/// that has one in its chain of sources. It displays as the failure it carries, and
/// [`source`](Error::source) and [`into_inner`](Self::into_inner) give that failure back, so
/// [`seawall_core::find_rejection`] and downcasts through the chain still find it.
///
/// The HTTP counterpart is the `seawall-retry: no` response header (see the crate docs).
#[derive(Debug)]
pub struct DoNotRetry {
    source: BoxError,
}

impl DoNotRetry {
    pub(crate) fn new(source: BoxError) -> Self {
        Self { source }
    }

    /// The failure given up on.
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.source.as_ref()
    }

    /// The failure given up on.
    pub fn into_inner(self) -> BoxError {
        self.source
    }
}

impl fmt::Display for DoNotRetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl Error for DoNotRetry {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Whether `err` or any error in its chain of sources is a [`DoNotRetry`] mark.
pub(crate) fn has_do_not_retry(err: &(dyn Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<DoNotRetry>() {
            return true;
        }
        next = e.source();
    }
    false
}
