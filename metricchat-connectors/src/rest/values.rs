//! Exact parsers for the text values the REST APIs return: decimals (through
//! [`crate::decimal`]) and hex.

#[cfg(feature = "bigquery")]
use arrow::datatypes::i256;

use crate::decimal::{Digits, decimal128};

/// Parses a decimal text (`-12.340`, `1.5E3`) into an integer scaled by `10^scale`.
///
/// Digits beyond `scale` must be zeros unless `truncate` is set, in which case they are dropped
/// (toward zero). `None` for malformed text or overflow.
pub(crate) fn parse_scaled(text: &str, scale: u32, truncate: bool) -> Option<i128> {
    let digits = if truncate {
        Digits::Truncate
    } else {
        Digits::Exact
    };
    decimal128(text, i8::try_from(scale).ok()?, digits).ok()
}

/// [`parse_scaled`] into a 256-bit integer (no truncation).
#[cfg(feature = "bigquery")]
pub(crate) fn parse_scaled_256(text: &str, scale: u32) -> Option<i256> {
    crate::decimal::decimal256(text, i8::try_from(scale).ok()?).ok()
}

/// Decodes lowercase or uppercase hex.
#[cfg(feature = "snowflake")]
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.trim().as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_scaled("12.34", 2, false), Some(1234));
        assert_eq!(parse_scaled("-12.3", 2, false), Some(-1230));
        assert_eq!(parse_scaled("7", 3, false), Some(7000));
        assert_eq!(parse_scaled("1.5E3", 0, false), Some(1500));
        assert_eq!(
            parse_scaled("1.7000000001234561E9", 6, true),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(parse_scaled("12.345", 2, false), None);
        assert_eq!(parse_scaled("12.345", 2, true), Some(1234));
        assert_eq!(parse_scaled("abc", 2, false), None);
        assert_eq!(parse_scaled("-0.500000000", 9, false), Some(-500_000_000));
        assert_eq!(crate::rest::sql_string("it's"), "'it\\'s'");
    }

    #[cfg(feature = "bigquery")]
    #[test]
    fn big_decimals_parse_exactly() {
        use arrow::array::ArrowNativeTypeOp;
        assert_eq!(
            parse_scaled_256("-123.45", 38),
            i256::from_i128(-12345).checked_mul(i256::from_i128(10).pow_wrapping(36))
        );
    }

    #[cfg(feature = "snowflake")]
    #[test]
    fn hex_decodes() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0g"), None);
    }
}
