//! Byte quantities in Kubernetes' notation (`64Mi`, `1.5Gi`, `500M`, `1e9`):
//! parsing a memory [`Quantity`] into bytes and writing bytes back, so that
//! the operator can add the shared-memory volume to a user's memory limit.
//!
//! Exact integer arithmetic (no floating point): a quantity is a decimal
//! mantissa times a power of 1024 or 10. Fractions of a byte round up.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// A mebibyte.
pub const MIB: u64 = 1 << 20;

/// Why a quantity is not a byte count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not in Kubernetes' quantity syntax, or negative.
    #[error("{value:?} is not a quantity of bytes (examples: 512Mi, 1Gi, 500M, 1e9)")]
    Syntax {
        /// The text.
        value: String,
    },
    /// More bytes than fit in 2^63.
    #[error("{value:?} is too large")]
    TooLarge {
        /// The text.
        value: String,
    },
}

/// The multiplier of a suffix as (numerator, denominator).
fn suffix_factor(suffix: &str) -> Option<(u128, u128)> {
    let binary = |n: u32| Some((1u128 << (10 * n), 1));
    let decimal = |n: u32| Some((10u128.pow(3 * n), 1));
    match suffix {
        "" => Some((1, 1)),
        "m" => Some((1, 1000)),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "k" => decimal(1),
        "M" => decimal(2),
        "G" => decimal(3),
        "T" => decimal(4),
        "P" => decimal(5),
        "E" => decimal(6),
        exp if exp.starts_with(['e', 'E']) => {
            let e: i32 = exp[1..].parse().ok()?;
            if e.unsigned_abs() > 30 {
                return None;
            }
            let p = 10u128.pow(e.unsigned_abs());
            Some(if e >= 0 { (p, 1) } else { (1, p) })
        }
        _ => None,
    }
}

/// The number of bytes `quantity` stands for (rounded up to a whole byte).
pub fn parse_bytes(quantity: &Quantity) -> Result<u64, QuantityError> {
    let text = quantity.0.trim();
    let syntax = || QuantityError::Syntax {
        value: quantity.0.clone(),
    };
    let text = text.strip_prefix('+').unwrap_or(text);
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') || fraction.len() > 18 {
        return Err(syntax());
    }
    let (num, den) = suffix_factor(suffix).ok_or_else(syntax)?;
    let too_large = || QuantityError::TooLarge {
        value: quantity.0.clone(),
    };
    let digits = format!("{whole}{fraction}");
    let mantissa: u128 = digits.parse().map_err(|_| too_large())?;
    let scale = 10u128.pow(fraction.len() as u32) * den;
    let scaled = mantissa.checked_mul(num).ok_or_else(too_large)?;
    let bytes = scaled.div_ceil(scale);
    if bytes > i64::MAX as u128 {
        return Err(too_large());
    }
    Ok(bytes as u64)
}

/// `bytes` as a quantity: whole mebibytes as `<n>Mi`, anything else as a
/// plain number of bytes.
pub fn format_bytes(bytes: u64) -> Quantity {
    if bytes > 0 && bytes.is_multiple_of(MIB) {
        Quantity(format!("{}Mi", bytes / MIB))
    } else {
        Quantity(bytes.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Result<u64, QuantityError> {
        parse_bytes(&Quantity(s.into()))
    }

    #[test]
    fn suffixes_scale_by_powers_of_1024_or_1000() {
        assert_eq!(bytes("64Mi"), Ok(64 * MIB));
        assert_eq!(bytes("1Gi"), Ok(1 << 30));
        assert_eq!(bytes("1.5Gi"), Ok(3 << 29));
        assert_eq!(bytes("500M"), Ok(500_000_000));
        assert_eq!(bytes("2k"), Ok(2000));
        assert_eq!(bytes("1e9"), Ok(1_000_000_000));
        assert_eq!(bytes("1E3"), Ok(1000));
        assert_eq!(bytes("12345"), Ok(12345));
        assert_eq!(bytes(".5Ki"), Ok(512));
        assert_eq!(bytes("1500m"), Ok(2), "fractions of a byte round up");
    }

    #[test]
    fn malformed_or_negative_quantities_are_errors_naming_the_value() {
        for bad in [
            "", "Mi", "-1Gi", "1.2.3", "12Xi", "1e", "1e99", "abc", "1 Gi",
        ] {
            let e = bytes(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert!(matches!(
            bytes("99999999Ei"),
            Err(QuantityError::TooLarge { .. })
        ));
    }

    #[test]
    fn whole_mebibytes_print_as_mi_and_the_rest_as_bytes() {
        assert_eq!(format_bytes(10 * MIB).0, "10Mi");
        assert_eq!(format_bytes(MIB + 1).0, (MIB + 1).to_string());
        assert_eq!(format_bytes(0).0, "0");
        assert_eq!(bytes(&format_bytes(3 * MIB + 7).0), Ok(3 * MIB + 7));
    }
}
