//! Numbers as text: values (with NaN and infinities), integer timestamps in a precision,
//! and decimal seconds, all exact in both directions.

use sedimentdb::{MAX_TIMESTAMP, MIN_TIMESTAMP};

/// The unit of integer timestamps in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Millis,
    /// Microseconds.
    Micros,
    /// Nanoseconds.
    #[default]
    Nanos,
}

impl Precision {
    /// Nanoseconds per unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Seconds => 1_000_000_000,
            Precision::Millis => 1_000_000,
            Precision::Micros => 1_000,
            Precision::Nanos => 1,
        }
    }

    /// Parses `s`, `ms`, `us` or `ns` (the names InfluxDB's `precision` parameter uses).
    pub fn parse(text: &str) -> Option<Precision> {
        match text {
            "s" => Some(Precision::Seconds),
            "ms" => Some(Precision::Millis),
            "us" | "u" => Some(Precision::Micros),
            "ns" | "n" => Some(Precision::Nanos),
            _ => None,
        }
    }
}

/// Checks that a timestamp lies in the engine's range.
pub(crate) fn check_range(ns: i64) -> Result<i64, String> {
    if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ns) {
        Ok(ns)
    } else {
        Err(format!(
            "timestamp {ns} ns is outside the supported range [{MIN_TIMESTAMP}, {MAX_TIMESTAMP}]"
        ))
    }
}

/// A decimal integer (optional `-` or `+`), without allocating.
pub(crate) fn parse_i64(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(b - b'0'))?;
    }
    if neg {
        Some(n)
    } else {
        n.checked_neg()
    }
}

/// An integer timestamp in `precision`, as nanoseconds in the engine's range.
pub(crate) fn parse_int_timestamp(text: &[u8], precision: Precision) -> Result<i64, String> {
    let n = parse_i64(text).ok_or_else(|| {
        format!(
            "timestamp {:?} is not an integer",
            String::from_utf8_lossy(text)
        )
    })?;
    let ns = n
        .checked_mul(precision.nanos())
        .ok_or_else(|| format!("timestamp {n} overflows 64-bit nanoseconds"))?;
    check_range(ns)
}

/// A float value: decimal or scientific notation, `NaN`, `Inf`, `+Inf`, `-Inf` (any case).
pub(crate) fn parse_f64(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse::<f64>().ok()
}

/// Writes a value so that [`parse_f64`] reads back the same bits (NaN as `NaN`).
pub(crate) fn write_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        let mut buf = ryu::Buffer::new();
        out.extend_from_slice(buf.format_finite(value).as_bytes());
    }
}

/// Writes an integer.
pub(crate) fn write_i64(out: &mut Vec<u8>, n: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n).as_bytes());
}

/// Decimal seconds (`1451606400`, `1451606400.25`, `-0.5`, `1.4516064e9`) as nanoseconds;
/// exact for plain decimals (no float rounding), `unit` scales for millisecond inputs.
pub(crate) fn parse_decimal_timestamp(text: &[u8], precision: Precision) -> Result<i64, String> {
    let bad = || {
        format!(
            "timestamp {:?} is not a number",
            String::from_utf8_lossy(text)
        )
    };
    let (neg, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = match memchr::memchr(b'.', body) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &b""[..]),
    };
    let plain = !int.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.iter().all(u8::is_ascii_digit);
    if !plain {
        // Scientific notation: rare in exposition; exact to the float's precision.
        let f = parse_f64(text).filter(|f| f.is_finite()).ok_or_else(bad)?;
        let ns = f * precision.nanos() as f64;
        if !(i64::MIN as f64..i64::MAX as f64).contains(&ns) {
            return Err(format!("timestamp {f} overflows 64-bit nanoseconds"));
        }
        return check_range(ns.round() as i64);
    }
    let unit = precision.nanos();
    let whole = parse_i64(int)
        .and_then(|w| w.checked_mul(unit))
        .ok_or_else(|| {
            format!(
                "timestamp {} overflows 64-bit nanoseconds",
                String::from_utf8_lossy(text)
            )
        })?;
    // Fraction digits below one nanosecond are dropped (truncated toward zero).
    let mut part: i64 = 0;
    let mut scale = unit;
    for &d in frac {
        if scale == 1 {
            break;
        }
        scale /= 10;
        part += i64::from(d - b'0') * scale;
    }
    let abs = whole.checked_add(part).ok_or_else(bad)?;
    check_range(if neg { -abs } else { abs })
}

/// Writes nanoseconds as decimal seconds, trailing zeros of the fraction left out.
pub(crate) fn write_decimal_seconds(out: &mut Vec<u8>, ns: i64) {
    let abs = ns.unsigned_abs();
    if ns < 0 {
        out.push(b'-');
    }
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(abs / 1_000_000_000).as_bytes());
    let frac = abs % 1_000_000_000;
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push(b'.');
        out.extend_from_slice(digits.trim_end_matches('0').as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_their_limits() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"12a"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b""), None);
    }

    #[test]
    fn timestamps_scale_and_stay_in_range() {
        assert_eq!(
            parse_int_timestamp(b"1451606400", Precision::Seconds),
            Ok(1_451_606_400_000_000_000)
        );
        assert!(parse_int_timestamp(b"9223372036854775", Precision::Millis)
            .unwrap_err()
            .contains("overflows"));
        assert!(
            parse_int_timestamp(&MAX_TIMESTAMP.to_string().into_bytes(), Precision::Nanos).is_ok()
        );
        assert!(parse_int_timestamp(
            &(MAX_TIMESTAMP + 1).to_string().into_bytes(),
            Precision::Nanos
        )
        .unwrap_err()
        .contains("outside"));
    }

    #[test]
    fn decimal_seconds_are_exact_both_ways() {
        for ns in [
            0,
            1,
            -1,
            1_500_000_000,
            -1_500_000_000,
            MAX_TIMESTAMP,
            MIN_TIMESTAMP,
            123_456_789,
        ] {
            let mut out = Vec::new();
            write_decimal_seconds(&mut out, ns);
            assert_eq!(
                parse_decimal_timestamp(&out, Precision::Seconds),
                Ok(ns),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
        assert_eq!(
            parse_decimal_timestamp(b"1.5e9", Precision::Seconds),
            Ok(1_500_000_000_000_000_000)
        );
        assert_eq!(
            parse_decimal_timestamp(b"1500", Precision::Millis),
            Ok(1_500_000_000)
        );
        assert!(parse_decimal_timestamp(b"1.2.3", Precision::Seconds).is_err());
    }

    #[test]
    fn special_values_round_trip() {
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            89.05,
            1e-300,
        ] {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            let back = parse_f64(&out).unwrap();
            assert!(
                back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()),
                "{v}"
            );
        }
    }
}
