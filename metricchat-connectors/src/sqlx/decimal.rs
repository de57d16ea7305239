//! Decimal text from the client/server engines (never in exponent form) to Arrow's scaled
//! integers, through [`crate::decimal`].

#[cfg(feature = "mysql")]
use arrow::datatypes::i256;

use crate::decimal::{Digits, decimal128};

/// An i128 with `scale` implied decimals from decimal text (`"-12.5"`, 2 → `-1250`); digits
/// beyond the scale must be zeros.
pub(crate) fn decimal_from_text(text: &str, scale: i8) -> std::result::Result<i128, String> {
    decimal128(plain(text)?, scale, Digits::Exact)
}

/// [`decimal_from_text`] for `Decimal256`.
#[cfg(feature = "mysql")]
pub(crate) fn decimal256_from_text(text: &str, scale: i8) -> std::result::Result<i256, String> {
    crate::decimal::decimal256(plain(text)?, scale)
}

/// `text` unless it is in exponent form, which these engines never send for a decimal.
fn plain(text: &str) -> std::result::Result<&str, String> {
    if text.contains(['e', 'E']) {
        return Err(format!("`{text}` is not a decimal number"));
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decimals_scale_exactly() {
        assert_eq!(decimal_from_text("-12.5", 2).unwrap(), -1250);
        assert_eq!(decimal_from_text("0.001", 3).unwrap(), 1);
        assert_eq!(decimal_from_text("12345.678", 4).unwrap(), 123_456_780);
        assert!(decimal_from_text("1.234", 2).is_err());
        assert!(decimal_from_text("1e5", 0).is_err());
        #[cfg(feature = "mysql")]
        assert_eq!(
            decimal256_from_text("123.4", 3).unwrap(),
            i256::from_i128(123_400)
        );
    }
}
