//! One replay row's fields: the timestamp (epoch milliseconds or RFC 3339),
//! the five decimal values (correctly rounded, bit-identical to Rust's `f64`
//! parser), and the whole-row fast path over the common shape, with the
//! general field-by-field path it must agree with.

use super::super::validate::Rejection;
use aegis_contract::records::Candle;

/// The fast path for the common row shape, parsed straight from the buffer:
/// `digits,decimal,decimal,decimal,decimal,decimal` ending in `\n` or `\r\n`,
/// where a decimal is `[-]digits[.digits]` with at most 19 digits, at most
/// 2^53. Returns the candle and the bytes consumed (with the line ending), or
/// `None` for anything else (including a line not yet complete in the
/// buffer), which the general path then handles with identical results.
pub(super) fn fast_row(bytes: &[u8]) -> Option<(Candle, usize)> {
    let mut pos = 0;
    let mut ts_ms: i64 = 0;
    while let Some(&b) = bytes.get(pos) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        ts_ms = ts_ms.wrapping_mul(10).wrapping_add(i64::from(digit));
        pos += 1;
    }
    if pos == 0 || pos > 18 || bytes.get(pos) != Some(&b',') {
        return None;
    }
    pos += 1;
    let mut values = [0.0; 5];
    for (i, value) in values.iter_mut().enumerate() {
        *value = scan_decimal(bytes, &mut pos)?;
        let ok = match bytes.get(pos) {
            Some(b',') if i < 4 => true,
            Some(b'\n') if i == 4 => true,
            Some(b'\r') if i == 4 => {
                pos += 1;
                bytes.get(pos) == Some(&b'\n')
            }
            _ => false,
        };
        if !ok {
            return None;
        }
        pos += 1;
    }
    let [open, high, low, close, volume] = values;
    let candle = Candle {
        seq: 0,
        ts_ms,
        open,
        high,
        low,
        close,
        volume,
        ingest_ns: 0,
    };
    Some((candle, pos))
}

/// Scans `[-]digits[.digits]` at `*pos` and advances past it: at most 19
/// digits in all and a digit string of at most 2^53, so the value is one
/// correctly rounded division of two exact numbers, bit-identical to
/// `str::parse::<f64>`. `None` (position unchanged) for anything else.
fn scan_decimal(bytes: &[u8], pos: &mut usize) -> Option<f64> {
    let mut i = *pos;
    let negative = bytes.get(i) == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut mantissa: u64 = 0;
    let int_start = i;
    while let Some(&b) = bytes.get(i) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    let mut digits = i - int_start;
    let mut fraction_len = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let fraction_start = i;
        while let Some(&b) = bytes.get(i) {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            i += 1;
        }
        fraction_len = i - fraction_start;
        digits += fraction_len;
    }
    // 19 digits cannot wrap a u64; beyond 2^53 the division would not be exact.
    if digits == 0 || digits > 19 || mantissa > (1 << 53) {
        return None;
    }
    *pos = i;
    let value = mantissa as f64 / POW10[fraction_len];
    Some(if negative { -value } else { value })
}

/// Parses one non-blank data line (without `\r\n`) into a candle, checking its
/// shape only.
pub(super) fn parse_row(line: &[u8], terminated: bool) -> Result<Candle, Rejection> {
    let mut commas = [0usize; 5];
    let mut n = 0;
    for (i, &b) in line.iter().enumerate() {
        if b == b',' {
            if n == commas.len() {
                return Err(Rejection::ExtraFields);
            }
            commas[n] = i;
            n += 1;
        }
    }
    if n < commas.len() {
        return Err(Rejection::Truncated);
    }
    let [c0, c1, c2, c3, c4] = commas;
    let volume = &line[c4 + 1..];
    if !terminated && volume.is_empty() {
        return Err(Rejection::Truncated);
    }
    let ts_ms = parse_timestamp(&line[..c0]).ok_or(Rejection::BadTimestamp)?;
    let number = |field: &[u8]| parse_f64(field).ok_or(Rejection::NonNumeric);
    Ok(Candle {
        seq: 0,
        ts_ms,
        open: number(&line[c0 + 1..c1])?,
        high: number(&line[c1 + 1..c2])?,
        low: number(&line[c2 + 1..c3])?,
        close: number(&line[c3 + 1..c4])?,
        volume: number(volume)?,
        ingest_ns: 0,
    })
}

/// Integer epoch milliseconds or an RFC 3339 date-time, as epoch milliseconds.
pub fn parse_timestamp(field: &[u8]) -> Option<i64> {
    // Fast path: up to 18 plain digits cannot overflow an i64.
    if !field.is_empty() && field.len() <= 18 && field.iter().all(u8::is_ascii_digit) {
        return Some(
            field
                .iter()
                .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0')),
        );
    }
    let text = std::str::from_utf8(field).ok()?.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A decimal number as Rust's `f64` parser reads it (after trimming spaces).
///
/// Fast path for plain decimals (`-123.456`) whose digits fit in 2^53: the
/// value is `digits / 10^fraction_len`, one correctly rounded division of two
/// exact numbers, so the result is bit-identical to `str::parse::<f64>`.
/// Everything else (exponents, long mantissas, `NaN`, spaces) goes to `std`.
pub fn parse_f64(field: &[u8]) -> Option<f64> {
    fast_decimal(field).or_else(|| std::str::from_utf8(field).ok()?.trim().parse().ok())
}

fn fast_decimal(field: &[u8]) -> Option<f64> {
    let mut pos = 0;
    let value = scan_decimal(field, &mut pos)?;
    (pos == field.len()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_decimal_matches_std_parse() {
        for text in [
            "0",
            "1",
            "-1",
            "43250.12",
            "12.345678",
            "0.1",
            ".5",
            "5.",
            "-0.0",
            "000123.4500",
            "9007199254740992",
            "9007199254740993",
            "0.0000000000000000000001",
            "1234567890.123456789",
            "99999999999999999999",
        ] {
            let expected: f64 = text.parse().unwrap();
            let got = parse_f64(text.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
        }
        for text in ["", ".", "-", "-.", "1.2.3", "1,2", "abc", "1-2"] {
            assert_eq!(parse_f64(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn timestamps_parse_as_epoch_ms() {
        assert_eq!(parse_timestamp(b"1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp(b"-5"), Some(-5));
        assert_eq!(parse_timestamp(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_timestamp(b"9223372036854775808"), None);
        assert_eq!(
            parse_timestamp(b"2024-01-01T00:00:00Z"),
            Some(1_704_067_200_000)
        );
        assert_eq!(
            parse_timestamp(b"2024-01-01T01:00:00.250+01:00"),
            Some(1_704_067_200_250)
        );
        assert_eq!(parse_timestamp(b"1700000000000.0"), None);
        assert_eq!(parse_timestamp(b"yesterday"), None);
        assert_eq!(parse_timestamp(b""), None);
    }
}
