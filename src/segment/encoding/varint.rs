//! LEB128 varints and zig-zag mapping, for the few per-chunk header integers.
//!
//! Bulk integer columns do not use varints (see `planes`): varints interleave length
//! and payload bits in every byte, which hides the byte statistics from zstd.

use super::DecodeError;

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

/// Appends `v` as an unsigned LEB128 varint (1..=10 bytes).
pub(crate) fn write_u64(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zig-zagged as a LEB128 varint.
pub(crate) fn write_i64(v: i64, out: &mut Vec<u8>) {
    write_u64(zigzag(v), out);
}

/// Reads one LEB128 varint from the front of `bytes`, advancing it.
///
/// Rejects truncation, encodings longer than 10 bytes, bits beyond 64, and non-minimal
/// encodings (a trailing `0x00` continuation), so that every value has exactly one
/// encoding and corrupted bytes are less likely to slip through.
pub(crate) fn read_u64(bytes: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        let payload = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if i == 9 && byte > 1 {
            return Err(DecodeError("varint overflows 64 bits"));
        }
        value |= payload << shift;
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(DecodeError("varint is not minimally encoded"));
            }
            *bytes = bytes.get(i + 1..).unwrap_or_default();
            return Ok(value);
        }
    }
    Err(DecodeError("varint is truncated or longer than 10 bytes"))
}

/// Reads one zig-zagged LEB128 varint.
pub(crate) fn read_i64(bytes: &mut &[u8]) -> Result<i64, DecodeError> {
    read_u64(bytes).map(unzigzag)
}

#[cfg(test)]
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
    fn rejects_malformed_varints() {
        for bad in [
            &[][..],
            &[0x80],
            &[0x80, 0x00],
            &[0xff; 10],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ] {
            let mut s = bad;
            assert!(read_u64(&mut s).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(v: u64, s: i64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            prop_assert_eq!(unzigzag(zigzag(s)), s);
            let mut buf = Vec::new();
            write_u64(v, &mut buf);
            write_i64(s, &mut buf);
            buf.extend_from_slice(&tail);
            let mut rest = &buf[..];
            prop_assert_eq!(read_u64(&mut rest)?, v);
            prop_assert_eq!(read_i64(&mut rest)?, s);
            prop_assert_eq!(rest, &tail[..]);
        }
    }
}
