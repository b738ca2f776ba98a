//! Human-readable durations in configuration files: `"250ms"`, `"30s"`, `"1m30s"`.
//!
//! A duration is one or more parts, each a whole number and a unit: `ns`, `us`, `ms`, `s`,
//! `m`, `h` (`"1h2m3s"`). No fractions and no spaces inside a part; a bare number is refused,
//! because `timeout = 30` could mean seconds or milliseconds. This is all a resilience
//! configuration needs, in forty lines, so it is not worth a dependency.
//!
//! With the `serde` feature, the module is also a `#[serde(with = "seawall_core::duration")]`
//! helper for a `Duration` field, and [`option`] one for an `Option<Duration>` field, so
//! that every crate's configuration reads durations the same way.
//!
//! ```
//! use std::time::Duration;
//! use seawall_core::duration;
//!
//! assert_eq!(duration::parse("1m30s"), Ok(Duration::from_secs(90)));
//! assert_eq!(duration::format(Duration::from_millis(250)), "250ms");
//! assert!(duration::parse("30").is_err(), "a bare number has no unit");
//! ```

use std::time::Duration;

#[cfg(feature = "serde")]
use serde::{Deserialize, Deserializer, Serializer};

/// Parses `text` as a duration (see the module docs).
///
/// # Errors
///
/// A message saying what is wrong with `text`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty duration (write \"250ms\", \"30s\", \"1m30s\")".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_end = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .map_or(rest.len(), |i| digits + i);
        let (number, unit) = (&rest[..digits], &rest[digits..unit_end]);
        let n: u64 = number.parse().map_err(|_| {
            format!("{text:?} is not a duration (write \"250ms\", \"30s\", \"1m30s\")")
        })?;
        let part = match unit {
            "ns" => Some(Duration::from_nanos(n)),
            "us" | "µs" => Some(Duration::from_micros(n)),
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            "" => {
                return Err(format!(
                    "{text:?} has no unit (write \"{n}ms\" or \"{n}s\")"
                ))
            }
            other => {
                return Err(format!(
                    "{text:?} has an unknown unit {other:?} (ns, us, ms, s, m, h)"
                ))
            }
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

/// Formats `duration` so that [`parse`] reads it back exactly: `"250ms"`, `"30s"`.
pub fn format(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration.as_nanos() % 1_000_000 == 0 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}ns", duration.as_nanos())
    }
}

/// `#[serde(with = "seawall_core::duration")]` for a `Duration` field: writes [`format()`].
///
/// # Errors
///
/// The serializer's.
#[cfg(feature = "serde")]
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

/// `#[serde(with = "seawall_core::duration")]` for a `Duration` field: reads [`parse`].
///
/// # Errors
///
/// The deserializer's, or what [`parse`] says of the text.
#[cfg(feature = "serde")]
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// `#[serde(with = "seawall_core::duration::option")]` for an `Option<Duration>` field
/// (give it `#[serde(default)]` too, so that a missing field is `None`).
#[cfg(feature = "serde")]
pub mod option {
    use super::*;

    /// Writes `Some` as [`format()`] does, `None` as nothing.
    ///
    /// # Errors
    ///
    /// The serializer's.
    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(d) => serializer.serialize_some(&format(*d)),
            None => serializer.serialize_none(),
        }
    }

    /// Reads an optional duration as [`parse`] does.
    ///
    /// # Errors
    ///
    /// The deserializer's, or what [`parse`] says of the text.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_what_it_writes_and_refuses_the_ambiguous() {
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        for d in [
            Duration::from_millis(250),
            Duration::from_secs(30),
            Duration::from_nanos(7),
        ] {
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
        for bad in [
            "",
            "30",
            "ms",
            "1.5s",
            "3 s",
            "5d",
            "-1s",
            "99999999999999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
