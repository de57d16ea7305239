//! Serde helpers shared by every config type (a leaf module: it imports nothing from the crate).
//!
//! ## Durations
//! Every `Duration` in a metricchat config has one serde form:
//! - **read**: a number of milliseconds (`30000`, `2.5`) or a string with a unit
//!   (`"30s"`, `"1.5s"`, `"250ms"`, `"2m"`, `"1h"`, `"1m30s"`; a bare number in a string is
//!   milliseconds too);
//! - **written**: an integer number of milliseconds, so configs written by earlier versions and
//!   by this one read the same.
//!
//! Use it with `#[serde(with = "metricchat_core::serde_util::duration_ms")]` (or
//! `duration_ms_opt` for an `Option<Duration>`, where `null` means "no limit").

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};

/// Parses a duration in the human form: one or more `<number><unit>` parts, units `ms`, `s`,
/// `m`, `h` (`"30s"`, `"1.5s"`, `"1m30s"`); a bare number is milliseconds.
///
/// ```
/// use std::time::Duration;
/// use metricchat_core::serde_util::parse_duration;
///
/// assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "invalid duration {text:?}: expected milliseconds or a number with a unit, like \"30s\", \"250ms\", \"2m\", \"1h\""
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(ms) = text.parse::<f64>() {
        return millis(ms).ok_or_else(bad);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let scale = match unit {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return Err(bad()),
        };
        total += millis(value * scale).ok_or_else(bad)?;
        rest = tail.trim_start();
    }
    Ok(total)
}

/// `ms` milliseconds, when it is a finite, non-negative number.
fn millis(ms: f64) -> Option<Duration> {
    if ms >= 0.0 {
        Duration::try_from_secs_f64(ms / 1_000.0).ok()
    } else {
        None
    }
}

/// Reads the serde form of a duration (see the module docs).
struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration: milliseconds or a string like \"30s\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_millis)
            .map_err(|_| E::custom(format!("a duration cannot be negative, not {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        millis(v).ok_or_else(|| {
            E::custom(format!(
                "a duration must be a finite, non-negative number of milliseconds, not {v}"
            ))
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
}

/// An optional duration: `null` (or absent, with `#[serde(default)]`) is `None`.
struct OptDurationVisitor;

impl<'de> Visitor<'de> for OptDurationVisitor {
    type Value = Option<Duration>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null or a duration: milliseconds or a string like \"30s\"")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(DurationVisitor).map(Some)
    }
}

/// Serde for a `Duration` in the one duration form (see the module docs).
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    /// Writes integer milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads milliseconds or a string with a unit.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(super::DurationVisitor)
    }
}

/// Serde for an `Option<Duration>` in the one duration form; `null` is `None`.
pub mod duration_ms_opt {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    /// Writes integer milliseconds or `null`.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    /// Reads `null`, milliseconds or a string with a unit.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_option(super::OptDurationVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    use super::parse_duration;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        #[serde(with = "super::duration_ms")]
        a: Duration,
        #[serde(with = "super::duration_ms_opt", default)]
        b: Option<Duration>,
    }

    #[test]
    fn reads_millis_and_units_and_writes_millis() {
        let t: T = serde_json::from_str(r#"{"a": 1500, "b": "2m"}"#).unwrap();
        assert_eq!(t.a, Duration::from_millis(1500));
        assert_eq!(t.b, Some(Duration::from_secs(120)));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"a":1500,"b":120000}"#
        );
        let t: T = serde_json::from_str(r#"{"a": "1.5s", "b": null}"#).unwrap();
        assert_eq!(t.a, Duration::from_millis(1500));
        assert_eq!(t.b, None);
        let t: T = serde_json::from_str(r#"{"a": 2.5}"#).unwrap();
        assert_eq!(t.a, Duration::from_micros(2500));
        assert_eq!(t.b, None);
        assert_eq!(
            parse_duration("1h 1m 1s 1ms"),
            Ok(Duration::from_millis(3_661_001))
        );
        for bad in [
            r#"{"a": -1}"#,
            r#"{"a": "10 parsecs"}"#,
            r#"{"a": "s"}"#,
            r#"{"a": ""}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
