//! The "do not retry" signal between services: the `seawall-retry: no` response header.
//!
//! Retries at every tier of a call chain multiply: three tiers that each try three times turn
//! one failure into 27 calls on the service at the bottom. The cure is that only the tier
//! directly above a failure retries it. A service says "this failure was already retried as
//! much as is wise below me, or retrying cannot help" by adding `seawall-retry: no` to its
//! response, and the caller's retry policy then passes the response up instead of retrying.
//!
//! The header is the wire form of `seawall_core`'s one "do not retry" mark
//! ([`seawall_core::retry_signal`]): [`do_not_retry`] asks the same question of an HTTP
//! result, reading the header on a response and the core mark (or a rejection) in an error.
//!
//! Who sets it: [`RejectionResponse`](crate::RejectionResponse) on every rejection that says
//! "do not retry" (all of Seawall's: overloaded, circuit open, rate limited, deadline
//! exceeded), and `seawall-retry`'s HTTP policy on responses it gave up on. Who reads it:
//! `seawall-retry`'s HTTP policy, and any other client that wants to honour it.
//!
//! ```
//! use http::HeaderMap;
//! use seawall_http::retry_signal::{is_marked_do_not_retry, mark_do_not_retry};
//!
//! let mut headers = HeaderMap::new();
//! assert!(!is_marked_do_not_retry(&headers));
//! mark_do_not_retry(&mut headers);
//! assert_eq!(headers["seawall-retry"], "no");
//! assert!(is_marked_do_not_retry(&headers));
//! ```

use http::{HeaderMap, HeaderName, HeaderValue, Response};

use crate::classify::AsDynError;

/// The header's name: `seawall-retry`.
pub const DO_NOT_RETRY: HeaderName = HeaderName::from_static("seawall-retry");

/// The header's value that means "do not retry": `no`.
pub const DO_NOT_RETRY_VALUE: HeaderValue = HeaderValue::from_static("no");

/// Adds `seawall-retry: no` to `headers`, replacing any earlier value.
pub fn mark_do_not_retry(headers: &mut HeaderMap) {
    headers.insert(DO_NOT_RETRY, DO_NOT_RETRY_VALUE);
}

/// Whether `headers` carry `seawall-retry: no` (the value compared without regard to case).
pub fn is_marked_do_not_retry(headers: &HeaderMap) -> bool {
    headers.get_all(DO_NOT_RETRY).iter().any(|v| {
        v.as_bytes()
            .eq_ignore_ascii_case(DO_NOT_RETRY_VALUE.as_bytes())
    })
}

/// Whether an HTTP result says "do not retry": a response carrying `seawall-retry: no`, or an
/// error for which [`seawall_core::do_not_retry`] holds (a Seawall rejection or a
/// [`DoNotRetry`](seawall_core::DoNotRetry) mark anywhere in its chain of sources).
pub fn do_not_retry<B, E: AsDynError>(result: &Result<Response<B>, E>) -> bool {
    match result {
        Ok(response) => is_marked_do_not_retry(response.headers()),
        Err(error) => seawall_core::do_not_retry(error.as_dyn_error()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use seawall_core::{rejection::Overloaded, BoxError, DoNotRetry};

    #[test]
    fn responses_and_errors_say_it_alike() {
        let mut marked = Response::new(());
        mark_do_not_retry(marked.headers_mut());
        assert!(do_not_retry::<_, BoxError>(&Ok(marked)));
        assert!(!do_not_retry::<_, BoxError>(&Ok(Response::new(()))));
        let shed: Result<Response<()>, BoxError> = Err(Overloaded::new(None).into());
        assert!(do_not_retry(&shed));
        let given_up: Result<Response<()>, BoxError> = Err(DoNotRetry::mark("reset".into()));
        assert!(do_not_retry(&given_up));
        let reset: Result<Response<()>, BoxError> = Err("reset".into());
        assert!(!do_not_retry(&reset));
    }
}
