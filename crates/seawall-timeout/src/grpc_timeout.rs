//! gRPC's `grpc-timeout` encoding: at most eight ASCII digits and a unit.
//!
//! The gRPC over HTTP/2 specification sends a call's timeout as `grpc-timeout`, a positive
//! integer of at most 8 digits followed by a unit: `H` hours, `M` minutes, `S` seconds,
//! `m` milliseconds, `u` microseconds, `n` nanoseconds. tonic, grpc-go, grpc-java and Envoy
//! read and write it, so Seawall does the same on gRPC requests.
//!
//! [`encode`] picks the finest unit in which the duration fits in eight digits and rounds
//! down, so the receiver never believes it has more time than the sender: a value below
//! 0.1 s is exact to the nanosecond, and any value loses less than one part in 100,000.
//! [`decode`] accepts exactly the grammar and nothing else.
//!
//! ```
//! use std::time::Duration;
//! use seawall_timeout::grpc_timeout::{decode, encode};
//!
//! assert_eq!(encode(Duration::from_millis(1500)), "1500000u");
//! assert_eq!(decode(b"1500000u"), Some(Duration::from_millis(1500)));
//! assert_eq!(decode(b"2S"), Some(Duration::from_secs(2)));
//! assert_eq!(decode(b"123456789S"), None, "more than 8 digits");
//! assert_eq!(decode(b"-1S"), None);
//! ```

use std::fmt::Write;
use std::time::Duration;

/// The largest value the eight digits allow.
const MAX_VALUE: u64 = 99_999_999;

/// The units, finest first, with their length in nanoseconds.
const UNITS: [(char, u128); 6] = [
    ('n', 1),
    ('u', 1_000),
    ('m', 1_000_000),
    ('S', 1_000_000_000),
    ('M', 60 * 1_000_000_000),
    ('H', 3_600 * 1_000_000_000),
];

/// The `grpc-timeout` value for `timeout`: the finest unit in which it fits in eight digits,
/// rounded down; `99999999H` (about 11,400 years) for anything longer.
pub fn encode(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    let (unit, value) = UNITS
        .iter()
        .map(|&(unit, len)| (unit, nanos / len))
        .find(|&(_, value)| value <= u128::from(MAX_VALUE))
        .unwrap_or(('H', u128::from(MAX_VALUE)));
    let mut out = String::with_capacity(9);
    let _ = write!(out, "{value}{unit}");
    out
}

/// The timeout in a `grpc-timeout` value, or `None` unless it is one to eight ASCII digits
/// followed by one of `HMSmun` (no sign, no space, no other unit).
pub fn decode(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let count = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(count * 3_600),
        b'M' => Duration::from_secs(count * 60),
        b'S' => Duration::from_secs(count),
        b'm' => Duration::from_millis(count),
        b'u' => Duration::from_micros(count),
        b'n' => Duration::from_nanos(count),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_eight_digit_limit() {
        assert_eq!(encode(Duration::from_nanos(99_999_999)), "99999999n");
        assert_eq!(encode(Duration::from_nanos(100_000_000)), "100000u");
        assert_eq!(encode(Duration::ZERO), "0n");
        assert_eq!(encode(Duration::from_secs(3_600 * 99_999_999)), "99999999H");
        assert_eq!(
            encode(Duration::from_secs(3_600 * 100_000_000)),
            "99999999H"
        );
        assert_eq!(encode(Duration::from_secs(59 * 99_999_999)), "98333332M");
        assert_eq!(encode(Duration::MAX), "99999999H");
        assert_eq!(
            decode(b"99999999H"),
            Some(Duration::from_secs(99_999_999 * 3_600))
        );
        assert_eq!(decode(b"100000000n"), None);
        for bad in [
            &b""[..],
            b"S",
            b"1",
            b"1s",
            b"1 S",
            b" 1S",
            b"+1S",
            b"1.5S",
            b"1SS",
        ] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn encoding_fits_the_grammar_and_never_adds_time(
            timeout in prop_oneof![
                (0u64..1_000_000_000_000).prop_map(Duration::from_nanos),
                (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            ]
        ) {
            let encoded = encode(timeout);
            prop_assert!(encoded.len() <= 9, "{}", encoded);
            let decoded = decode(encoded.as_bytes()).unwrap();
            prop_assert!(decoded <= timeout);
            if timeout < Duration::from_nanos(100_000_000) {
                prop_assert_eq!(decoded, timeout);
            } else if timeout <= Duration::from_secs(99_999_999 * 3_600) {
                prop_assert!((timeout - decoded).as_nanos() * 100_000 <= timeout.as_nanos());
            }
        }

        #[test]
        fn every_valid_value_round_trips_exactly(count in 0u64..=MAX_VALUE, unit in 0usize..6) {
            let unit = UNITS[unit].0;
            let value = format!("{count}{unit}");
            let decoded = decode(value.as_bytes()).unwrap();
            prop_assert_eq!(decode(encode(decoded).as_bytes()), Some(decoded));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Some(timeout) = decode(&bytes) {
                prop_assert!(timeout <= Duration::from_secs(99_999_999 * 3_600));
            }
        }
    }
}
