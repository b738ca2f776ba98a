//! The headers that carry a request's remaining time between services.
//!
//! | request | header | value |
//! |---|---|---|
//! | gRPC (`content-type: application/grpc…`) | `grpc-timeout` | gRPC's encoding (see [`crate::grpc_timeout`]) |
//! | any other | `seawall-deadline-ms` | whole milliseconds left, decimal, rounded down |
//!
//! Both carry time *left*, not an instant, so the two hosts need no synchronised clocks;
//! the time a request spends on the wire is not subtracted, and the receiver's deadline
//! is that much later than the sender's (the receiver's reply, not the sender's clock, is
//! what is late). Why a header of its own for plain HTTP, and not `grpc-timeout`
//! everywhere, is in `docs/deadlines.md`: proxies and gRPC bridges act on `grpc-timeout`,
//! and a plain decimal number of milliseconds is what a person types into `curl -H`.

use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::grpc_timeout;

/// The header that carries the remaining time of a plain HTTP request, in whole milliseconds.
pub const DEADLINE_MS: HeaderName = HeaderName::from_static("seawall-deadline-ms");

/// The header that carries the remaining time of a gRPC request.
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// Whether `headers` belong to a gRPC request: a `content-type` of `application/grpc`,
/// alone or followed by `+proto`, `+json` or `;` parameters.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| {
        let value = value.as_bytes();
        value.len() >= 16
            && value[..16].eq_ignore_ascii_case(b"application/grpc")
            && matches!(value.get(16), None | Some(b'+' | b';'))
    })
}

/// The remaining time the request's headers carry: `grpc-timeout` on a gRPC request,
/// `seawall-deadline-ms` on any other. `None` when the header is missing or not a valid
/// value (garbage, a sign, a fraction, non-ASCII bytes); a number of milliseconds too large
/// for a `u64` reads as the largest.
pub fn read(headers: &HeaderMap) -> Option<Duration> {
    if is_grpc(headers) {
        grpc_timeout::decode(headers.get(GRPC_TIMEOUT)?.as_bytes())
    } else {
        parse_millis(headers.get(DEADLINE_MS)?.as_bytes())
    }
}

/// Writes `remaining` into the header that fits the request, replacing any value there.
pub fn write(headers: &mut HeaderMap, remaining: Duration) {
    if is_grpc(headers) {
        if let Ok(value) = HeaderValue::try_from(grpc_timeout::encode(remaining)) {
            headers.insert(GRPC_TIMEOUT, value);
        }
    } else {
        let millis = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
        headers.insert(DEADLINE_MS, HeaderValue::from(millis));
    }
}

fn parse_millis(value: &[u8]) -> Option<Duration> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let millis = digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::try_from(*k).unwrap(),
                    HeaderValue::try_from(*v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn grpc_content_types() {
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC;x=1",
        ] {
            assert!(is_grpc(&headers(&[("content-type", grpc)])), "{grpc}");
        }
        for plain in [
            "application/json",
            "application/grpc-web",
            "application/grp",
            "",
        ] {
            assert!(!is_grpc(&headers(&[("content-type", plain)])), "{plain}");
        }
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn each_kind_of_request_reads_its_own_header() {
        let both = [("grpc-timeout", "2S"), ("seawall-deadline-ms", "1500")];
        assert_eq!(read(&headers(&both)), Some(Duration::from_millis(1500)));
        let mut grpc = headers(&both);
        grpc.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        assert_eq!(read(&grpc), Some(Duration::from_secs(2)));
    }

    #[test]
    fn garbage_is_ignored_and_huge_values_saturate() {
        for bad in ["-5", "1.5", "abc", "", "12ms", "0x10", "+3"] {
            let h = headers(&[("seawall-deadline-ms", bad)]);
            assert_eq!(read(&h), None, "{bad:?}");
        }
        let h = headers(&[("seawall-deadline-ms", " 250 ")]);
        assert_eq!(read(&h), Some(Duration::from_millis(250)));
        let h = headers(&[("seawall-deadline-ms", "99999999999999999999999999")]);
        assert_eq!(read(&h), Some(Duration::from_millis(u64::MAX)));
    }

    #[test]
    fn write_replaces_and_rounds_down() {
        let mut h = headers(&[("seawall-deadline-ms", "999999")]);
        write(&mut h, Duration::from_micros(1_999_999));
        assert_eq!(h[DEADLINE_MS], "1999");
        assert_eq!(h.get_all(DEADLINE_MS).iter().count(), 1);
        let mut h = headers(&[("content-type", "application/grpc")]);
        write(&mut h, Duration::from_millis(1500));
        assert_eq!(h[GRPC_TIMEOUT], "1500000u");
        assert!(h.get(DEADLINE_MS).is_none());
    }
}
