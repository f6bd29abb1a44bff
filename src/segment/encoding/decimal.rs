//! Decimal codec: values that are short decimals, stored as scaled integers.
//!
//! Most metrics are decimals with a few digits (`12.5`, `0.01`, `1024`). Such a value is
//! `m / 10^e` for an integer `m`; the deltas of `m` from one point to the next are small
//! integers, which `planes` lays out for zstd. This is the trick behind
//! VictoriaMetrics' density.
//!
//! ```text
//! +-------+--------------------------+---------------------------------------------+
//! | e: u8 | m0: zig-zag varint       | planes: zig-zag(m[i] - m[i-1]), i in 1..n   |
//! +-------+--------------------------+---------------------------------------------+
//! ```
//!
//! Decoding computes `m as f64 / 10^e` (a correctly rounded IEEE division by an exactly
//! representable power of ten), so the encoder accepts a chunk only if that expression
//! gives back every value's exact bits: `-0.0`, NaN and infinities never qualify.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::{planes, DecodeError};
use crate::format::varint::{read_i64, unzigzag, write_i64, zigzag};

/// `10^e` for `e` in `0..=15`, all exactly representable in an f64. 10^15 is the largest
/// power of ten below 2^53; larger exponents would leave no room for a mantissa.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Magnitude bound for `m`: beyond 2^53 an i64 -> f64 conversion would round.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0;

/// The scaled integer `m` with `m / 10^e == v` bit-exactly, if there is one.
#[inline]
fn mantissa(v: f64, scale: f64) -> Option<i64> {
    let x = v * scale;
    // NaN and infinities fail here too.
    if x.is_nan() || x.abs() >= MAX_MANTISSA {
        return None;
    }
    // Rounds half away from zero as `f64::round`, without its libm call: below 2^53
    // `x - trunc(x)` is exact.
    let t = x as i64;
    let frac = x - t as f64;
    let m = if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    };
    ((m as f64 / scale).to_bits() == v.to_bits()).then_some(m)
}

/// The smallest exponent `e` in `0..=15` at which every value is `m / 10^e`, and the
/// values' mantissas `m` at that exponent.
///
/// If `v == m / 10^e` then also `v == (m * 10^k) / 10^(e+k)` (the same real quotient,
/// correctly rounded, as long as `m * 10^k` is below 2^53), so each value's own smallest
/// exponent works for every larger one too and the answer is the maximum over the
/// values. One pass: a value that needs a larger exponent than those before it scales
/// their mantissas up exactly, which happens at most 15 times per column.
fn mantissas(values: &[f64], out: &mut Vec<i64>) -> Option<u8> {
    let mut e = 0usize;
    for &v in values {
        let m = loop {
            if let Some(m) = mantissa(v, *POW10.get(e)?) {
                break m;
            }
            e += 1;
            if e >= POW10.len() {
                return None;
            }
            for m in out.iter_mut() {
                *m = m.checked_mul(10)?;
                if m.unsigned_abs() >= MAX_MANTISSA as u64 {
                    return None;
                }
            }
        };
        out.push(m);
    }
    Some(e as u8)
}

#[cfg(test)]
fn common_exponent(values: &[f64]) -> Option<u8> {
    mantissas(values, &mut Vec::new())
}

/// Appends the decimal encoding of `values` (len >= 1) and returns the number of
/// meaningful bits per delta, or returns `None` (leaving `out` untouched) when the values
/// are not all short decimals.
pub(crate) fn encode(values: &[f64], out: &mut Vec<u8>) -> Option<u32> {
    let mut ms = Vec::with_capacity(values.len());
    let e = mantissas(values, &mut ms)?;
    let (&first, rest) = ms.split_first()?;
    let mut previous = first;
    let deltas: Vec<u64> = rest
        .iter()
        .map(|&m| {
            let d = zigzag(m.wrapping_sub(previous));
            previous = m;
            d
        })
        .collect();
    out.push(e);
    write_i64(first, out);
    planes::encode(&deltas, out);
    Some(u64::BITS - deltas.iter().fold(0, |acc, &d| acc | d).leading_zeros())
}

/// Decodes exactly `count` values (count >= 1) from the whole encoding `bytes`.
pub(crate) fn decode(bytes: &[u8], count: usize, out: &mut Vec<f64>) -> Result<(), DecodeError> {
    let (&e, mut rest) = bytes
        .split_first()
        .ok_or(DecodeError("decimal: header is truncated"))?;
    let scale = *POW10
        .get(usize::from(e))
        .ok_or(DecodeError("decimal: exponent above 15"))?;
    let mut m = read_i64(&mut rest)?;
    if count == 0 {
        return Err(DecodeError("decimal: empty column"));
    }
    out.reserve(count);
    out.push(m as f64 / scale);
    planes::decode(rest, count - 1, |block| {
        // Two passes: the running sum is a serial chain of adds (the conversions hang
        // off it without lengthening it); the divisions are independent and vectorise
        // once they are out of that chain. A local keeps the sum in a register.
        let mut running = m;
        for d in block.iter_mut() {
            running = running.wrapping_add(unzigzag(*d));
            *d = (running as f64).to_bits();
        }
        m = running;
        if e == 0 {
            // Integers (counters): the division by 1 is exact, skip it.
            out.extend(block.iter().map(|&bits| f64::from_bits(bits)));
        } else {
            out.extend(block.iter().map(|&bits| f64::from_bits(bits) / scale));
        }
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_smallest_exponent() {
        assert_eq!(common_exponent(&[1.0, 2.0, -7.0]), Some(0));
        assert_eq!(common_exponent(&[1.5, 2.25]), Some(2));
        assert_eq!(common_exponent(&[0.1, 0.2, 0.3]), Some(1));
        assert_eq!(common_exponent(&[1e-15]), Some(15));
        assert_eq!(common_exponent(&[0.1 + 0.2]), None);
        assert_eq!(common_exponent(&[-0.0]), None);
        assert_eq!(common_exponent(&[f64::NAN]), None);
        assert_eq!(common_exponent(&[f64::INFINITY]), None);
        assert_eq!(common_exponent(&[1e300]), None);
        assert_eq!(common_exponent(&[9007199254740991.0]), Some(0));
        assert_eq!(common_exponent(&[9007199254740992.0]), None);
    }

    #[test]
    fn earlier_mantissas_are_rescaled_when_the_exponent_grows() {
        let mut ms = Vec::new();
        assert_eq!(mantissas(&[1.0, -2.5, 3.25, 7.0], &mut ms), Some(2));
        assert_eq!(ms, vec![100, -250, 325, 700]);
        // Rescaling past 2^53 gives up rather than wrap.
        assert_eq!(mantissas(&[9007199254740991.0, 0.5], &mut Vec::new()), None);
        let values = [0.0, 12.5, 12.75, -3.0, 1e-3, 4503599627370495.0];
        let mut out = Vec::new();
        assert!(encode(&values[..5], &mut out).is_some());
        let mut back = Vec::new();
        decode(&out, 5, &mut back).unwrap();
        assert_eq!(back, values[..5]);
        assert!(
            encode(&values, &mut Vec::new()).is_none(),
            "1e-3 needs 10^3, too big"
        );
    }

    #[test]
    fn rejects_exponent_above_15() {
        let mut out = Vec::new();
        assert!(decode(&[16, 0, 0, 0], 1, &mut out).is_err());
        assert!(decode(&[15, 0, 0, 0], 1, &mut out).is_ok());
    }
}
