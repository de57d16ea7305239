//! Decimal text (`-12.340`, `1.5E3`) to Arrow's scaled integers, through arrow's own parser
//! ([`parse_decimal`]), which drops digits beyond the scale: [`Digits::Exact`] refuses to.

use arrow::compute::kernels::cast_utils::parse_decimal;
use arrow::datatypes::{DECIMAL128_MAX_PRECISION, Decimal128Type};
#[cfg(any(feature = "bigquery", feature = "mysql"))]
use arrow::datatypes::{Decimal256Type, i256};

/// What to do with digits beyond the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digits {
    /// They must be zeros (a value is never changed silently).
    Exact,
    /// They are dropped (toward zero).
    Truncate,
}

/// Decimal text as an `i128` with `scale` implied decimals.
pub(crate) fn decimal128(text: &str, scale: i8, digits: Digits) -> Result<i128, String> {
    let text = checked(text, scale, digits)?;
    parse_decimal::<Decimal128Type>(text, DECIMAL128_MAX_PRECISION, scale)
        .map_err(|_| format!("{text} does not fit Decimal128"))
}

/// Decimal text as an `i256` with `scale` implied decimals (digits beyond it must be zeros).
#[cfg(any(feature = "bigquery", feature = "mysql"))]
pub(crate) fn decimal256(text: &str, scale: i8) -> Result<i256, String> {
    use arrow::datatypes::DECIMAL256_MAX_PRECISION;
    let text = checked(text, scale, Digits::Exact)?;
    parse_decimal::<Decimal256Type>(text, DECIMAL256_MAX_PRECISION, scale)
        .map_err(|_| format!("{text} does not fit Decimal256"))
}

/// `text` trimmed, once it is known to be a decimal number whose digits beyond `scale` are
/// zeros (unless `digits` allows dropping them).
fn checked(text: &str, scale: i8, digits: Digits) -> Result<&str, String> {
    let text = text.trim();
    let not_decimal = || format!("`{text}` is not a decimal number");
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (
            &unsigned[..i],
            unsigned[i + 1..]
                .parse::<i64>()
                .map_err(|_| not_decimal())?,
        ),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(not_decimal());
    }
    if digits == Digits::Exact {
        // Digits at or after `kept` fall beyond the scale once the exponent moved the point.
        let all = int.len() + frac.len();
        let kept = i64::try_from(int.len())
            .unwrap_or(i64::MAX)
            .saturating_add(exponent)
            .saturating_add(i64::from(scale))
            .clamp(0, i64::try_from(all).unwrap_or(i64::MAX));
        let kept = usize::try_from(kept).unwrap_or(all);
        let mut dropped = int.bytes().chain(frac.bytes()).skip(kept);
        if dropped.any(|b| b != b'0') {
            return Err(format!("{text} has more than {scale} decimals"));
        }
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_refuses_what_truncate_drops() {
        assert_eq!(decimal128("12.34", 2, Digits::Exact).unwrap(), 1234);
        assert_eq!(decimal128(" -12.3 ", 2, Digits::Exact).unwrap(), -1230);
        assert_eq!(decimal128("1.5E3", 0, Digits::Exact).unwrap(), 1500);
        assert_eq!(decimal128("12.340", 2, Digits::Exact).unwrap(), 1234);
        assert!(decimal128("12.345", 2, Digits::Exact).is_err());
        assert!(decimal128("15E-1", 0, Digits::Exact).is_err());
        assert_eq!(decimal128("12.345", 2, Digits::Truncate).unwrap(), 1234);
        assert!(decimal128("1.2.3", 2, Digits::Exact).is_err());
        assert!(decimal128("-", 2, Digits::Exact).is_err());
    }
}
