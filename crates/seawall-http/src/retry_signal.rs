//! The "do not retry" signal between services: the `seawall-retry: no` response header.
//!
//! Retries at every tier of a call chain multiply: three tiers that each try three times turn
//! one failure into 27 calls on the service at the bottom. The cure is that only the tier
//! directly above a failure retries it. A service says "this failure was already retried as
//! much as is wise below me, or retrying cannot help" by adding `seawall-retry: no` to its
//! response, and the caller's retry policy then passes the response up instead of retrying.
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

use http::{HeaderMap, HeaderName, HeaderValue};

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
