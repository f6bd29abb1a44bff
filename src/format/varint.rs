//! The one LEB128 varint of every file format (FORMAT.md, "Conventions"): unsigned, 7
//! bits per byte, least significant group first, the high bit set on every byte but the
//! last, at most 10 bytes; and zigzag, which maps signed integers to unsigned ones before
//! they are written as varints.
//!
//! The decoder is strict: it rejects truncation, values above `2^64 - 1` and non-minimal
//! encodings (a last byte of `0x00` after a continuation byte), so that every value has
//! exactly one encoding and damage is less likely to decode as something else.
//!
//! Bulk integer columns of segments do not use varints (see `segment::encoding::planes`):
//! varints interleave length and payload bits in every byte, which hides the byte
//! statistics from zstd.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

/// Longest encoding of a `u64`.
pub(crate) const MAX_LEN: usize = 10;

/// Why bytes are not a varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The bytes end before the last byte of the varint.
    Truncated,
    /// The value does not fit in 64 bits (or the encoding is longer than 10 bytes).
    Overflow,
    /// A shorter encoding of the same value exists.
    NonMinimal,
}

impl VarintError {
    /// What is wrong, for error messages (each mentions "varint").
    pub(crate) fn what(self) -> &'static str {
        match self {
            VarintError::Truncated => "varint is truncated",
            VarintError::Overflow => "varint overflows 64 bits",
            VarintError::NonMinimal => "varint is not minimally encoded",
        }
    }
}

impl std::error::Error for VarintError {}

impl std::fmt::Display for VarintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what())
    }
}

/// Maps signed to unsigned so that small magnitudes of either sign become small numbers
/// (0, -1, 1, -2 .. -> 0, 1, 2, 3 ..).
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`]; total over all `u64`.
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends `v` as a varint (1..=10 bytes).
#[inline]
pub(crate) fn write_u64(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzagged as a varint.
#[inline]
pub(crate) fn write_i64(v: i64, out: &mut Vec<u8>) {
    write_u64(zigzag(v), out);
}

/// Writes `v` as a varint at `buf[*pos..]` and advances `*pos`, for hot loops that size a
/// buffer for the worst case once instead of checking a `Vec`'s capacity per byte.
/// Returns `None`, with `*pos` unchanged, if the varint does not fit in `buf`.
#[inline(always)]
pub(crate) fn write_u64_at(buf: &mut [u8], pos: &mut usize, mut v: u64) -> Option<()> {
    let mut len = 0;
    for slot in buf.get_mut(*pos..)? {
        len += 1;
        if v < 0x80 {
            *slot = v as u8;
            *pos += len;
            return Some(());
        }
        *slot = (v as u8) | 0x80;
        v >>= 7;
    }
    None
}

/// Reads one varint from the front of `bytes`, advancing it past the varint.
#[inline]
pub(crate) fn read_u64(bytes: &mut &[u8]) -> Result<u64, VarintError> {
    let mut pos = 0;
    let v = read_u64_at(bytes, &mut pos)?;
    *bytes = bytes.get(pos..).unwrap_or_default();
    Ok(v)
}

/// Reads one zigzagged varint from the front of `bytes`, advancing it.
#[inline]
pub(crate) fn read_i64(bytes: &mut &[u8]) -> Result<i64, VarintError> {
    read_u64(bytes).map(unzigzag)
}

/// Reads the varint at `buf[*pos..]`, advancing `*pos` past it (left unchanged on
/// error). One-byte varints (most timestamp deltas-of-deltas) take the inlined path.
#[inline(always)]
pub(crate) fn read_u64_at(buf: &[u8], pos: &mut usize) -> Result<u64, VarintError> {
    match buf.get(*pos) {
        Some(&byte) if byte < 0x80 => {
            *pos += 1;
            Ok(u64::from(byte))
        }
        _ => read_u64_at_slow(buf, pos),
    }
}

#[inline(never)]
fn read_u64_at_slow(buf: &[u8], pos: &mut usize) -> Result<u64, VarintError> {
    let rest = buf.get(*pos..).unwrap_or_default();
    let mut value = 0u64;
    for (i, &byte) in rest.iter().enumerate().take(MAX_LEN) {
        if i == MAX_LEN - 1 && byte > 1 {
            return Err(VarintError::Overflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * i as u32);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(VarintError::NonMinimal);
            }
            *pos += i + 1;
            return Ok(value);
        }
    }
    if rest.len() >= MAX_LEN {
        Err(VarintError::Overflow)
    } else {
        Err(VarintError::Truncated)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zigzag_orders_by_magnitude() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i64::MAX), u64::MAX - 1);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
    }

    #[test]
    fn known_encodings() {
        for (v, bytes) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            write_u64(v, &mut out);
            assert_eq!(out, bytes, "{v}");
            let mut s = bytes;
            assert_eq!(read_u64(&mut s), Ok(v));
            assert!(s.is_empty());
        }
    }

    #[test]
    fn rejects_malformed_varints() {
        for (bad, why) in [
            (&[][..], VarintError::Truncated),
            (&[0x80], VarintError::Truncated),
            (&[0xff; 9], VarintError::Truncated),
            (&[0x80, 0x00], VarintError::NonMinimal),
            (&[0x81, 0x80, 0x00], VarintError::NonMinimal),
            (&[0xff; 10], VarintError::Overflow),
            (&[0xff; 11], VarintError::Overflow),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                VarintError::Overflow,
            ),
            (
                &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
                VarintError::NonMinimal,
            ),
        ] {
            let mut s = bad;
            assert_eq!(read_u64(&mut s), Err(why), "{bad:?}");
            assert_eq!(s, bad, "the input is not advanced on error");
            let mut pos = 0;
            assert_eq!(read_u64_at(bad, &mut pos), Err(why), "{bad:?}");
            assert_eq!(pos, 0);
        }
    }

    #[test]
    fn write_at_refuses_what_does_not_fit() {
        let mut buf = [0u8; 3];
        let mut pos = 1;
        assert_eq!(write_u64_at(&mut buf, &mut pos, 300), Some(()));
        assert_eq!((pos, buf), (3, [0, 0xac, 0x02]));
        assert_eq!(write_u64_at(&mut buf, &mut pos, 0), None);
        let mut pos = 2;
        assert_eq!(write_u64_at(&mut buf, &mut pos, 300), None);
        assert_eq!(pos, 2);
    }

    proptest! {
        #[test]
        fn round_trips(v: u64, s: i64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            prop_assert_eq!(unzigzag(zigzag(s)), s);
            let mut buf = Vec::new();
            write_u64(v, &mut buf);
            write_i64(s, &mut buf);
            let mut at = vec![0u8; 2 * MAX_LEN];
            let mut pos = 0;
            write_u64_at(&mut at, &mut pos, v).unwrap();
            write_u64_at(&mut at, &mut pos, zigzag(s)).unwrap();
            prop_assert_eq!(&at[..pos], &buf[..]);
            buf.extend_from_slice(&tail);
            let mut rest = &buf[..];
            prop_assert_eq!(read_u64(&mut rest)?, v);
            prop_assert_eq!(read_i64(&mut rest)?, s);
            prop_assert_eq!(rest, &tail[..]);
            let mut pos = 0;
            prop_assert_eq!(read_u64_at(&buf, &mut pos)?, v);
            prop_assert_eq!(unzigzag(read_u64_at(&buf, &mut pos)?), s);
            prop_assert_eq!(&buf[pos..], &tail[..]);
        }

        #[test]
        fn only_minimal_encodings_decode(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let mut s = &bytes[..];
            if let Ok(v) = read_u64(&mut s) {
                let mut again = Vec::new();
                write_u64(v, &mut again);
                prop_assert_eq!(&bytes[..bytes.len() - s.len()], &again[..]);
            }
        }
    }
}
