//! Typed rejections: the errors a Seawall layer returns when it refuses work.
//!
//! A rejection is not a failure of the service behind the layer: it is the layer protecting
//! that service (or the caller's deadline). Each rejection type implements [`Rejection`], so
//! code above it can learn *when* to come back ([`Rejection::retry_after`]) and *whether* a
//! retry is worth it at all ([`Rejection::retryable`]).
//!
//! Seawall's own rejections all say "do not retry": retrying a request that was refused
//! because the dependency is overloaded or its circuit is open only adds load where there is
//! already too much, and a request past its deadline has no time left for another attempt.
//! The retry-after hint is for the caller one tier up (the HTTP layer turns it into a
//! `Retry-After` header).
//!
//! Rejections reach callers as `BoxError`s; [`find_rejection`] finds one inside such an
//! error, looking through its [`source`](std::error::Error::source) chain.
//!
//! ```
//! use std::time::Duration;
//! use seawall_core::{find_rejection, rejection::CircuitOpen, BoxError, RejectionKind};
//!
//! let err: BoxError = CircuitOpen::new(Some(Duration::from_secs(3))).into();
//! let rejection = find_rejection(err.as_ref()).expect("a rejection");
//! assert_eq!(rejection.kind(), RejectionKind::CircuitOpen);
//! assert_eq!(rejection.retry_after(), Some(Duration::from_secs(3)));
//! assert!(!rejection.retryable());
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// What kind of refusal a [`Rejection`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// The service is at capacity and shed the request (HTTP 503).
    Overloaded,
    /// A circuit breaker is open for the service (HTTP 503).
    CircuitOpen,
    /// A rate limit refused the request (HTTP 429).
    RateLimited,
    /// The request's deadline passed before it could finish (HTTP 504).
    DeadlineExceeded,
}

/// An error by which a layer refuses work, with what a caller needs to react well.
pub trait Rejection: Error + Send + Sync + 'static {
    /// What kind of refusal this is.
    fn kind(&self) -> RejectionKind;

    /// How long the caller should wait before trying this service again, if the layer knows.
    fn retry_after(&self) -> Option<Duration>;

    /// Whether retrying the request right away could help. `false` means "do not retry".
    fn retryable(&self) -> bool;
}

macro_rules! rejection_type {
    ($(#[$doc:meta])* $name:ident, $kind:ident, $display:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            retry_after: Option<Duration>,
        }

        impl $name {
            /// Creates the rejection, with the time after which the caller may try again if
            /// the layer knows it.
            pub fn new(retry_after: Option<Duration>) -> Self {
                Self { retry_after }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($display)?;
                if let Some(after) = self.retry_after {
                    write!(f, " (retry after {:.3}s)", after.as_secs_f64())?;
                }
                Ok(())
            }
        }

        impl Error for $name {}

        impl Rejection for $name {
            fn kind(&self) -> RejectionKind {
                RejectionKind::$kind
            }

            fn retry_after(&self) -> Option<Duration> {
                self.retry_after
            }

            fn retryable(&self) -> bool {
                false
            }
        }
    };
}

rejection_type!(
    /// The service is at capacity and the request was shed before it started.
    Overloaded,
    Overloaded,
    "service overloaded"
);
rejection_type!(
    /// The circuit breaker in front of the service is open; the call was not attempted.
    CircuitOpen,
    CircuitOpen,
    "circuit open"
);
rejection_type!(
    /// A rate limit refused the request.
    RateLimited,
    RateLimited,
    "rate limited"
);
rejection_type!(
    /// The request's deadline passed before it could complete.
    DeadlineExceeded,
    DeadlineExceeded,
    "deadline exceeded"
);

/// Finds a Seawall rejection in `err` or anywhere in its chain of sources.
pub fn find_rejection<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a dyn Rejection> {
    let mut next: Option<&'a (dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(r) = as_rejection(e) {
            return Some(r);
        }
        next = e.source();
    }
    None
}

fn as_rejection<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a dyn Rejection> {
    if let Some(r) = e.downcast_ref::<Overloaded>() {
        return Some(r);
    }
    if let Some(r) = e.downcast_ref::<CircuitOpen>() {
        return Some(r);
    }
    if let Some(r) = e.downcast_ref::<RateLimited>() {
        return Some(r);
    }
    if let Some(r) = e.downcast_ref::<DeadlineExceeded>() {
        return Some(r);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoxError;

    #[derive(Debug)]
    struct Wrapper(BoxError);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    #[test]
    fn found_through_a_source_chain() {
        let err = Wrapper(Overloaded::new(Some(Duration::from_millis(1500))).into());
        let r = find_rejection(&err).unwrap();
        assert_eq!(r.kind(), RejectionKind::Overloaded);
        assert_eq!(r.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(
            r.to_string(),
            "service overloaded (retry after 1.500s)",
            "display is lowercase and names the hint"
        );
    }

    #[test]
    fn other_errors_are_not_rejections() {
        let err: BoxError = "connection reset".into();
        assert!(find_rejection(err.as_ref()).is_none());
        let err = DeadlineExceeded::new(None);
        assert_eq!(err.to_string(), "deadline exceeded");
        assert_eq!(
            find_rejection(&err).map(|r| r.kind()),
            Some(RejectionKind::DeadlineExceeded)
        );
    }
}
