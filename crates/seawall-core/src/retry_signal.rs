//! "Do not retry": the one mark, and the one question every layer asks of an error.
//!
//! Retries at every tier of a call chain multiply: three tiers that each try three times
//! turn one failure into 27 calls on the service at the bottom. The cure is that only the
//! tier directly above a failure retries it. A failure says "do not retry" in one of two
//! ways, both found by [`do_not_retry`]:
//!
//! - it is a Seawall [rejection](crate::rejection) that is not
//!   [`retryable`](crate::Rejection::retryable) (none of Seawall's are: retrying into an
//!   overloaded service or an open circuit only adds load);
//! - it carries the [`DoNotRetry`] mark, which a retry layer puts on the failures it gave
//!   up on (attempts or budget exhausted).
//!
//! Either may sit anywhere in the error's chain of sources. Over HTTP the same mark is the
//! response header `seawall-retry: no` (`seawall_http::retry_signal`), which
//! `seawall-http` sets on every rejection response and reads back, for responses and
//! errors alike, with the functions here.
//!
//! ```
//! use std::time::Duration;
//! use seawall_core::retry_signal::{do_not_retry, retry_after, DoNotRetry};
//! use seawall_core::{rejection::Overloaded, BoxError};
//!
//! let reset: BoxError = "connection reset".into();
//! assert!(!do_not_retry(reset.as_ref()));
//! let given_up = DoNotRetry::mark(reset);
//! assert!(do_not_retry(given_up.as_ref()));
//! assert_eq!(given_up.to_string(), "connection reset", "the mark displays as the failure");
//!
//! let shed: BoxError = Overloaded::new(Some(Duration::from_secs(1))).into();
//! assert!(do_not_retry(shed.as_ref()));
//! assert_eq!(retry_after(shed.as_ref()), Some(Duration::from_secs(1)));
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::rejection::{as_rejection, chain, find_rejection};
use crate::BoxError;

/// A failure that the tier above must not retry: a retry layer below already retried it as
/// much as it could (attempts or budget exhausted), so retrying again would only multiply
/// the load on a dependency that is failing.
///
/// It displays as the failure it carries, and [`source`](Error::source) and
/// [`into_inner`](Self::into_inner) give that failure back, so
/// [`find_rejection`] and downcasts through the chain still find it.
/// [`do_not_retry`] finds the mark anywhere in a chain.
///
/// The HTTP counterpart is the `seawall-retry: no` response header
/// (`seawall_http::retry_signal`).
#[derive(Debug)]
pub struct DoNotRetry {
    source: BoxError,
}

impl DoNotRetry {
    /// Marks `source` as "do not retry".
    pub fn new(source: BoxError) -> Self {
        Self { source }
    }

    /// `error` marked "do not retry", or `error` unchanged when it already says so
    /// ([`do_not_retry`]): marks are not stacked.
    pub fn mark(error: BoxError) -> BoxError {
        if do_not_retry(error.as_ref()) {
            error
        } else {
            Box::new(Self::new(error))
        }
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

/// Whether `err` says "do not retry": a [`DoNotRetry`] mark, or a rejection that is not
/// [`retryable`](crate::Rejection::retryable), anywhere in its chain of sources.
pub fn do_not_retry(err: &(dyn Error + 'static)) -> bool {
    chain(err).any(|e| e.is::<DoNotRetry>() || as_rejection(e).is_some_and(|r| !r.retryable()))
}

/// The wait the error asks for before the next try: the
/// [`retry_after`](crate::Rejection::retry_after) of the first rejection in its chain.
pub fn retry_after(err: &(dyn Error + 'static)) -> Option<Duration> {
    find_rejection(err).and_then(|r| r.retry_after())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rejection::CircuitOpen;

    #[test]
    fn marks_are_found_and_not_stacked() {
        let err = DoNotRetry::mark("boom".into());
        assert!(err.is::<DoNotRetry>());
        let again = DoNotRetry::mark(err);
        let inner = again.downcast::<DoNotRetry>().map(|m| m.into_inner());
        assert!(
            inner.is_ok_and(|e| !e.is::<DoNotRetry>()),
            "marking twice wraps once"
        );
        let open: BoxError = CircuitOpen::new(None).into();
        let open = DoNotRetry::mark(open);
        assert!(
            open.is::<CircuitOpen>(),
            "a rejection already says do not retry"
        );
        let plain: BoxError = "reset".into();
        assert!(!do_not_retry(plain.as_ref()));
        assert_eq!(retry_after(plain.as_ref()), None);
    }
}
