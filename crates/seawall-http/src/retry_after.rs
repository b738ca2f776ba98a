//! The `Retry-After` header: parsing both of its forms, and formatting it.
//!
//! # Why
//!
//! A server that answers 503 or 429 can say when to come back, and a client that honours it
//! stops adding load exactly when it hurts most. But the header comes from the network: it
//! may be a delay in seconds (`120`) or an HTTP-date, and it may be garbage, negative, or so
//! large that waiting for it would hang the caller for years. [`RetryAfterParser`] reads both
//! forms, treats a date in the past as "now", caps every delay at a configured maximum, and
//! turns anything else into a [`RetryAfterError`] — it never panics, whatever the bytes.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::HeaderValue;
//! use seawall_http::retry_after::{format_retry_after, RetryAfterParser};
//!
//! let parser = RetryAfterParser::new(Duration::from_secs(60));
//! let now = SystemTime::now();
//! assert_eq!(parser.parse(&HeaderValue::from_static("5"), now), Ok(Duration::from_secs(5)));
//! assert_eq!(parser.parse(&HeaderValue::from_static("86400"), now), Ok(Duration::from_secs(60)));
//! let past = HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT");
//! assert_eq!(parser.parse(&past, now), Ok(Duration::ZERO));
//! assert!(parser.parse(&HeaderValue::from_static("soon"), now).is_err());
//!
//! // Sub-second delays round up, so a client never comes back early.
//! assert_eq!(format_retry_after(Duration::from_millis(1500)), "2");
//! ```
//!
//! # Knobs
//!
//! - the maximum delay: [`DEFAULT_MAX_RETRY_AFTER`] (5 minutes) unless given to
//!   [`RetryAfterParser::new`].

use std::error::Error;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue};

/// The default cap on a parsed `Retry-After`: 5 minutes.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Parses `Retry-After` values, capping them at a maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfterParser {
    max: Duration,
}

impl Default for RetryAfterParser {
    /// A parser with the cap [`DEFAULT_MAX_RETRY_AFTER`].
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RETRY_AFTER)
    }
}

/// A `Retry-After` value that is neither delay-seconds nor an HTTP-date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryAfterError {
    /// The value is empty.
    Empty,
    /// The value is a negative number of seconds.
    Negative,
    /// The value is neither a non-negative integer nor an HTTP-date.
    Invalid,
}

impl fmt::Display for RetryAfterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty Retry-After value",
            Self::Negative => "negative Retry-After delay",
            Self::Invalid => "Retry-After value is neither delay-seconds nor an HTTP-date",
        })
    }
}

impl Error for RetryAfterError {}

impl RetryAfterParser {
    /// A parser that caps every delay at `max`. Any `max` is valid; `Duration::ZERO` makes
    /// every well-formed value mean "now".
    pub fn new(max: Duration) -> Self {
        Self { max }
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay `value` asks for, as of `now`, capped at the maximum.
    ///
    /// Delay-seconds too large for any integer type are capped too; an HTTP-date in the past
    /// is a delay of zero.
    ///
    /// # Errors
    ///
    /// When `value` is empty, a negative number, or neither delay-seconds nor an HTTP-date
    /// (IMF-fixdate, RFC 850 or asctime format).
    pub fn parse(&self, value: &HeaderValue, now: SystemTime) -> Result<Duration, RetryAfterError> {
        let bytes = trim(value.as_bytes());
        if bytes.is_empty() {
            return Err(RetryAfterError::Empty);
        }
        if bytes.iter().all(u8::is_ascii_digit) {
            return Ok(self.cap_seconds(bytes));
        }
        if let [b'-', rest @ ..] = bytes {
            if !rest.is_empty() && rest.iter().all(u8::is_ascii_digit) {
                return Err(RetryAfterError::Negative);
            }
        }
        let text = std::str::from_utf8(bytes).map_err(|_| RetryAfterError::Invalid)?;
        let at = httpdate::parse_http_date(text).map_err(|_| RetryAfterError::Invalid)?;
        Ok(at
            .duration_since(now)
            .map_or(Duration::ZERO, |delay| delay.min(self.max)))
    }

    /// The delay the `Retry-After` header in `headers` asks for, if there is one. With
    /// several, the first counts.
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub fn from_headers(
        &self,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Option<Result<Duration, RetryAfterError>> {
        headers.get(RETRY_AFTER).map(|value| self.parse(value, now))
    }

    /// The wait the `Retry-After` header in `headers` asks for from now, if it holds a
    /// valid one: the hint a retry or a hedge waits out (a malformed value is no hint).
    pub fn wait(&self, headers: &HeaderMap) -> Option<Duration> {
        self.from_headers(headers, SystemTime::now())
            .and_then(Result::ok)
    }

    fn cap_seconds(&self, digits: &[u8]) -> Duration {
        let mut seconds: u64 = 0;
        for digit in digits {
            match seconds
                .checked_mul(10)
                .and_then(|s| s.checked_add(u64::from(digit - b'0')))
            {
                Some(s) => seconds = s,
                None => return self.max,
            }
        }
        Duration::from_secs(seconds).min(self.max)
    }
}

fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// `delay` as a `Retry-After` value in delay-seconds, rounded up to a whole second so that a
/// client never comes back early.
pub fn format_retry_after(delay: Duration) -> HeaderValue {
    let seconds = delay
        .as_secs()
        .saturating_add(u64::from(delay.subsec_nanos() > 0));
    HeaderValue::from(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(value: &str, now: SystemTime) -> Result<Duration, RetryAfterError> {
        RetryAfterParser::new(Duration::from_secs(3600))
            .parse(&HeaderValue::from_str(value).unwrap(), now)
    }

    #[test]
    fn the_wait_is_a_valid_header_capped_and_nothing_otherwise() {
        let parser = RetryAfterParser::new(Duration::from_secs(60));
        let mut headers = HeaderMap::new();
        assert_eq!(parser.wait(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(parser.wait(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("600"));
        assert_eq!(parser.wait(&headers), Some(Duration::from_secs(60)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parser.wait(&headers), None, "a malformed value is no hint");
    }

    #[test]
    fn delay_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse("0", now), Ok(Duration::ZERO));
        assert_eq!(parse("120", now), Ok(Duration::from_secs(120)));
        assert_eq!(parse(" 7 ", now), Ok(Duration::from_secs(7)));
        assert_eq!(parse("0007", now), Ok(Duration::from_secs(7)));
        assert_eq!(parse("3601", now), Ok(Duration::from_secs(3600)), "capped");
        assert_eq!(
            parse("99999999999999999999999999999999", now),
            Ok(Duration::from_secs(3600)),
            "overflowing values are capped, not wrapped"
        );
    }

    #[test]
    fn garbage_and_negative_values_are_errors() {
        let now = SystemTime::now();
        assert_eq!(parse("", now), Err(RetryAfterError::Empty));
        assert_eq!(parse("   ", now), Err(RetryAfterError::Empty));
        assert_eq!(parse("-5", now), Err(RetryAfterError::Negative));
        assert_eq!(parse("-", now), Err(RetryAfterError::Invalid));
        assert_eq!(parse("+5", now), Err(RetryAfterError::Invalid));
        assert_eq!(parse("1.5", now), Err(RetryAfterError::Invalid));
        assert_eq!(parse("5s", now), Err(RetryAfterError::Invalid));
        assert_eq!(parse("tomorrow", now), Err(RetryAfterError::Invalid));
        assert_eq!(
            parse("Sun, 32 Nov 1994 08:49:37 GMT", now),
            Err(RetryAfterError::Invalid)
        );
        let non_utf8 = HeaderValue::from_bytes(&[0xff, 0xfe, b'1']).unwrap();
        assert_eq!(
            RetryAfterParser::default().parse(&non_utf8, now),
            Err(RetryAfterError::Invalid)
        );
        assert_eq!(
            RetryAfterError::Negative.to_string(),
            "negative Retry-After delay"
        );
    }

    #[test]
    fn http_dates_in_all_three_formats() {
        let date = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let now = date - Duration::from_secs(90);
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse(value, now), Ok(Duration::from_secs(90)), "{value}");
        }
        assert_eq!(
            parse(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                date + Duration::from_secs(1)
            ),
            Ok(Duration::ZERO),
            "a date in the past means now"
        );
        let far = date - Duration::from_secs(10 * 365 * 24 * 3600);
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:49:37 GMT", far),
            Ok(Duration::from_secs(3600)),
            "a date far ahead is capped"
        );
    }

    #[test]
    fn from_headers_reads_the_header() {
        let mut headers = HeaderMap::new();
        let parser = RetryAfterParser::default();
        assert_eq!(parser.from_headers(&headers, SystemTime::now()), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(
            parser.from_headers(&headers, SystemTime::now()),
            Some(Ok(Duration::from_secs(3)))
        );
    }

    #[test]
    fn formatting_rounds_up() {
        assert_eq!(format_retry_after(Duration::ZERO), "0");
        assert_eq!(format_retry_after(Duration::from_nanos(1)), "1");
        assert_eq!(format_retry_after(Duration::from_secs(30)), "30");
        assert_eq!(format_retry_after(Duration::from_millis(30_001)), "31");
        assert_eq!(
            format_retry_after(Duration::MAX),
            u64::MAX.to_string().as_str()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary bytes never panic, and whatever parses is within the cap.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            max_secs in 0u64..100_000,
            now_secs in 0u64..4_000_000_000,
        ) {
            let parser = RetryAfterParser::new(Duration::from_secs(max_secs));
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now_secs);
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                if let Ok(delay) = parser.parse(&value, now) {
                    prop_assert!(delay <= parser.max());
                }
            }
        }

        /// Strings shaped like the real forms never panic either.
        #[test]
        fn plausible_values_never_panic(value in "[-+ 0-9]{0,30}|[A-Za-z]{3}, [0-9]{1,3} [A-Za-z]{3} [0-9]{1,5} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2} [A-Z]{3}") {
            if let Ok(value) = HeaderValue::from_str(&value) {
                let _ = RetryAfterParser::default().parse(&value, SystemTime::now());
            }
        }

        /// What we format, we parse back: rounded up to whole seconds, then capped.
        #[test]
        fn format_then_parse(nanos in any::<u64>(), max_secs in 0u64..1_000_000) {
            let delay = Duration::from_nanos(nanos);
            let parser = RetryAfterParser::new(Duration::from_secs(max_secs));
            let parsed = parser.parse(&format_retry_after(delay), SystemTime::now()).unwrap();
            let whole = Duration::from_secs(delay.as_secs() + u64::from(delay.subsec_nanos() > 0));
            prop_assert_eq!(parsed, whole.min(parser.max()));
        }

        /// An HTTP-date `n` seconds ahead is a delay of `n` seconds (capped); behind, zero.
        ///
        /// `now` starts far enough after the epoch that `now + ahead` never precedes it: an
        /// HTTP-date cannot express such a time (`httpdate` panics formatting one).
        #[test]
        fn dates_are_relative_to_now(now_secs in 100_000u64..4_000_000_000, ahead in -100_000i64..100_000) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now_secs);
            let at = if ahead >= 0 {
                now + Duration::from_secs(ahead.unsigned_abs())
            } else {
                now - Duration::from_secs(ahead.unsigned_abs())
            };
            let value = HeaderValue::from_str(&httpdate::fmt_http_date(at)).unwrap();
            let parser = RetryAfterParser::new(Duration::from_secs(50_000));
            let expected = Duration::from_secs(ahead.max(0).unsigned_abs()).min(parser.max());
            prop_assert_eq!(parser.parse(&value, now), Ok(expected));
        }
    }
}
