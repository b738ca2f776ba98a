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
//! `Retry-After` header). [`do_not_retry`](crate::retry_signal::do_not_retry) is the one
//! question every layer asks of an error.
//!
//! Rejections reach callers as `BoxError`s; [`find_rejection`] finds one inside such an
//! error, looking through its [`source`](std::error::Error::source) chain with [`chain`],
//! the one walker of source chains every Seawall crate uses.
//!
//! # One list
//!
//! The rejection types are listed once, in [`for_each_rejection!`](crate::for_each_rejection):
//! the type, its [`RejectionKind`], its message and the HTTP status a server answers it with.
//! Everything else — the types themselves, [`RejectionKind`], [`find_rejection`], and in
//! `seawall-http` the `From` conversions into responses and the error plumbing — is
//! generated from that list, so a new rejection is added in exactly one place.
//!
//! ```
//! use std::time::Duration;
//! use seawall_core::{find_rejection, rejection::CircuitOpen, BoxError, RejectionKind};
//!
//! let err: BoxError = CircuitOpen::new(Some(Duration::from_secs(3))).into();
//! let rejection = find_rejection(err.as_ref()).expect("a rejection");
//! assert_eq!(rejection.kind(), RejectionKind::CircuitOpen);
//! assert_eq!(rejection.kind().http_status(), 503);
//! assert_eq!(rejection.retry_after(), Some(Duration::from_secs(3)));
//! assert!(!rejection.retryable());
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// Calls the macro `$callback` with the one list of Seawall's rejections.
///
/// The list is `/// docs` then `Name, "message", status;` per rejection: the type (in
/// [`seawall_core::rejection`](crate::rejection)), its `Display` message and the HTTP status
/// a server answers it with. Core generates the types, [`RejectionKind`] and
/// [`find_rejection`] from it; other crates generate their per-type impls from it, so that
/// adding a rejection here is the whole change:
///
/// ```
/// macro_rules! names {
///     ($($(#[$doc:meta])* $name:ident, $message:literal, $status:literal;)*) => {
///         [$(stringify!($name)),*]
///     };
/// }
/// let names = seawall_core::for_each_rejection!(names);
/// assert_eq!(names.len(), seawall_core::RejectionKind::ALL.len());
/// assert!(names.contains(&"CircuitOpen"));
/// ```
#[macro_export]
macro_rules! for_each_rejection {
    ($callback:ident) => {
        $callback! {
            /// The service is at capacity and the request was shed before it started.
            Overloaded, "service overloaded", 503;
            /// The circuit breaker in front of the service is open; the call was not attempted.
            CircuitOpen, "circuit open", 503;
            /// A rate limit refused the request.
            RateLimited, "rate limited", 429;
            /// The request's deadline passed before it could complete.
            DeadlineExceeded, "deadline exceeded", 504;
        }
    };
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

macro_rules! define_rejections {
    ($($(#[$doc:meta])* $name:ident, $display:literal, $status:literal;)*) => {
        /// What kind of refusal a [`Rejection`] is: one variant per rejection type.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum RejectionKind {
            $($(#[$doc])* $name,)*
        }

        impl RejectionKind {
            /// Every kind, in the order of the list.
            pub const ALL: &'static [RejectionKind] = &[$(RejectionKind::$name),*];

            /// The HTTP status a server answers this rejection with: 503 for an overloaded
            /// service or an open circuit, 429 for a rate limit, 504 for a deadline.
            pub const fn http_status(self) -> u16 {
                match self {
                    $(RejectionKind::$name => $status,)*
                }
            }

            /// The rejection's message, which is also how its error displays (without the
            /// retry-after hint): `"circuit open"`, … Usable as a metric label.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RejectionKind::$name => $display,)*
                }
            }
        }

        $(
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq, Eq)]
            pub struct $name {
                retry_after: Option<Duration>,
            }

            impl $name {
                /// Creates the rejection, with the time after which the caller may try again
                /// if the layer knows it.
                pub fn new(retry_after: Option<Duration>) -> Self {
                    Self { retry_after }
                }
            }

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    display(f, $display, self.retry_after)
                }
            }

            impl Error for $name {}

            impl Rejection for $name {
                fn kind(&self) -> RejectionKind {
                    RejectionKind::$name
                }

                fn retry_after(&self) -> Option<Duration> {
                    self.retry_after
                }

                fn retryable(&self) -> bool {
                    false
                }
            }
        )*

        /// `e` itself as a rejection, if it is one of the listed types.
        pub(crate) fn as_rejection<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a dyn Rejection> {
            $(
                if let Some(r) = e.downcast_ref::<$name>() {
                    return Some(r);
                }
            )*
            None
        }
    };
}

for_each_rejection!(define_rejections);

fn display(f: &mut fmt::Formatter<'_>, message: &str, after: Option<Duration>) -> fmt::Result {
    f.write_str(message)?;
    if let Some(after) = after {
        write!(f, " (retry after {:.3}s)", after.as_secs_f64())?;
    }
    Ok(())
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `err` and then each error in its chain of [`source`](Error::source)s, outermost first.
///
/// The one walker of source chains in Seawall: [`find_rejection`],
/// [`do_not_retry`](crate::retry_signal::do_not_retry) and `seawall-http`'s transient-error
/// check all walk with it.
///
/// ```
/// use seawall_core::{rejection::chain, retry_signal::DoNotRetry, BoxError};
///
/// let err = DoNotRetry::new("connection reset".into());
/// let messages: Vec<String> = chain(&err).map(|e| e.to_string()).collect();
/// assert_eq!(messages, ["connection reset", "connection reset"]);
/// ```
pub fn chain<'a>(
    err: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&e| e.source())
}

/// Finds a Seawall rejection in `err` or anywhere in its chain of sources.
pub fn find_rejection<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a dyn Rejection> {
    chain(err).find_map(as_rejection)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::retry_signal::{do_not_retry, retry_after};
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

    /// Every type in the one list is a kind with a status, is found by the walker under a
    /// wrapper, and says "do not retry" with its hint: what a new entry gets for free.
    #[test]
    fn every_listed_rejection_is_a_kind_found_by_the_walker() {
        macro_rules! check {
            ($($(#[$doc:meta])* $name:ident, $display:literal, $status:literal;)*) => {{
                let mut seen = Vec::new();
                $(
                    let hint = Some(Duration::from_secs(2));
                    let err = Wrapper(Box::new(Wrapper($name::new(hint).into())));
                    let found = find_rejection(&err).unwrap();
                    assert_eq!(found.kind().as_str(), $display);
                    assert_eq!(found.kind().http_status(), $status);
                    assert!((400..600).contains(&found.kind().http_status()));
                    assert!(do_not_retry(&err), "{} says do not retry", $display);
                    assert_eq!(retry_after(&err), hint);
                    assert_eq!(chain(&err).count(), 3);
                    seen.push(found.kind());
                )*
                seen
            }};
        }
        let seen = for_each_rejection!(check);
        assert_eq!(seen, RejectionKind::ALL, "the kinds are the list, in order");
    }
}
