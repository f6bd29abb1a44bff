//! Transposed fixed-width integer columns: the layout that lets zstd see the entropy.
//!
//! A column of `n` unsigned integers (zig-zagged deltas, offsets from a minimum) is
//! stored as `L` byte planes followed by `H` bit planes:
//!
//! ```text
//! +------+------+------------------------+-----+-----------------------------+
//! | L u8 | H u8 | byte plane 0 (n bytes) | ... | bit plane 0 (ceil(n/8) B).. |
//! +------+------+------------------------+-----+-----------------------------+
//! ```
//!
//! Byte plane `k` holds byte `k` (bits `8k..8k+8`) of every value; bit plane `p` holds
//! bit `8L + p` of every value, eight values per byte, value `8i + j` in bit `j` of byte
//! `i`, unused bits of the last byte zero. Bits at and above `8L + H` are zero.
//!
//! Why this shape: zstd codes literals with one Huffman table per block. Low bits of a
//! delta are close to uniform and cost 8 bits a byte whatever we do; high bits are
//! mostly zero and carry little information, but as whole bytes they would share the
//! Huffman table with the uniform bytes and pay for it (and Huffman cannot go below one
//! bit per byte). As bit planes they become short runs of sparse bytes instead. On the
//! random-walk benchmark (deltas ~ N(0, 100)) plain byte planes reach 1.23 bytes/value
//! after zstd-3, this layout 1.17 (entropy bound 1.09). When the low byte itself is
//! very skewed (deltas of +-1), bit planes win there too; when it is moderately skewed
//! (entropy 3..8 bits) one byte plane wins, because Huffman then sees the joint
//! distribution of its 8 bits. [`choose_layout`] makes that call from a histogram.
//! Byte planes are also the cheapest to decode, so bytes that are uniform anyway are
//! kept as byte planes.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::DecodeError;

/// Values decoded per block: a multiple of 8 that keeps the scratch block in L1.
const BLOCK: usize = 512;

/// Transposes an 8x8 bit matrix: bit `c` of byte `r` moves to bit `r` of byte `c`.
///
/// Three rounds of masked swaps (Hacker's Delight, `transpose8`), branch-free.
#[inline]
fn transpose8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^= t ^ (t << 28);
    x
}

/// Number of byte planes and bit planes for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Byte planes (0..=8).
    pub byte_planes: u8,
    /// Bit planes above the byte planes (0..=64).
    pub bit_planes: u8,
}

impl Layout {
    /// Bytes of plane data (without the 2-byte header) for `n` values, if that fits.
    fn data_len(self, n: usize) -> Option<usize> {
        let bytes = usize::from(self.byte_planes).checked_mul(n)?;
        let bits = usize::from(self.bit_planes).checked_mul(n.div_ceil(8))?;
        bytes.checked_add(bits)
    }
}

/// Bit length of `v` (0 for 0).
#[inline]
fn bit_len(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

/// Sum of the bit lengths of `values`: a cheap proxy for their entropy, used to compare
/// two transforms of the same column before either is written.
pub(crate) fn total_bits(values: impl Iterator<Item = u64>) -> u64 {
    values.map(|v| u64::from(bit_len(v))).sum()
}

/// Picks the layout for `values` (see the module docs for the reasoning).
///
/// Whole bytes below the 10th-percentile magnitude are close to uniform: they become byte
/// planes (fast to decode, and bit planes could not compress them either). If there are
/// none, the low byte becomes a byte plane when its histogram has an entropy of at least
/// 3 bits. Everything above goes to bit planes.
pub(crate) fn choose_layout(values: &[u64]) -> Layout {
    let total_bits = bit_len(values.iter().fold(0, |acc, &v| acc | v));
    if total_bits == 0 {
        return Layout {
            byte_planes: 0,
            bit_planes: 0,
        };
    }
    let mut length_histogram = [0usize; 65];
    for &v in values {
        if let Some(slot) = length_histogram.get_mut(bit_len(v) as usize) {
            *slot += 1;
        }
    }
    let tenth = values.len().div_ceil(10);
    let mut seen = 0;
    let mut p10_bits = 0u32;
    for (len, &count) in length_histogram.iter().enumerate() {
        seen += count;
        if seen >= tenth {
            p10_bits = len as u32;
            break;
        }
    }
    let mut byte_planes = (p10_bits / 8).min(total_bits / 8);
    // Only a lone byte plane may be skewed: next to uniform byte planes it would share
    // their Huffman table (deltas ~ N(0, 1000): 1.73 bytes/value as two byte planes,
    // 1.58 as one byte plane and bit planes).
    if byte_planes == 0 && low_byte_entropy(values) >= 3.0 {
        byte_planes = 1;
    }
    Layout {
        byte_planes: byte_planes as u8,
        bit_planes: total_bits.saturating_sub(8 * byte_planes) as u8,
    }
}

/// Shannon entropy in bits of the low bytes of `values`.
fn low_byte_entropy(values: &[u64]) -> f64 {
    let mut histogram = [0u32; 256];
    for &v in values {
        if let Some(slot) = histogram.get_mut(usize::from(v as u8)) {
            *slot += 1;
        }
    }
    let n = values.len() as f64;
    histogram
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Appends `values` in the layout chosen by [`choose_layout`].
pub(crate) fn encode(values: &[u64], out: &mut Vec<u8>) {
    encode_with(values, choose_layout(values), out);
}

/// Appends `values` in `layout`, which must cover every set bit.
pub(crate) fn encode_with(values: &[u64], layout: Layout, out: &mut Vec<u8>) {
    debug_assert!(u32::from(layout.byte_planes) * 8 + u32::from(layout.bit_planes) <= 64);
    out.push(layout.byte_planes);
    out.push(layout.bit_planes);
    for k in 0..u32::from(layout.byte_planes) {
        out.extend(values.iter().map(|&v| (v >> (8 * k)) as u8));
    }
    let bit_planes = usize::from(layout.bit_planes);
    if bit_planes == 0 {
        return;
    }
    let plane_len = values.len().div_ceil(8);
    let start = out.len();
    out.resize(start + bit_planes * plane_len, 0);
    let planes = out.get_mut(start..).unwrap_or_default();
    let base_shift = 8 * u32::from(layout.byte_planes);
    for group in 0..bit_planes.div_ceil(8) {
        let shift = base_shift + 8 * group as u32;
        let in_group = (bit_planes - 8 * group).min(8);
        for (i, eight) in values.chunks(8).enumerate() {
            // Byte j of `rows` = this group's 8 bits of value j; transposed, byte r holds
            // bit r of all eight values, i.e. one byte of bit plane 8 * group + r.
            let rows = eight
                .iter()
                .enumerate()
                .fold(0u64, |acc, (j, &v)| acc | ((v >> shift) & 0xff) << (8 * j));
            let columns = transpose8(rows);
            for r in 0..in_group {
                // In bounds: `planes` has `bit_planes` planes of `plane_len` bytes.
                if let Some(byte) = planes.get_mut((8 * group + r) * plane_len + i) {
                    *byte = (columns >> (8 * r)) as u8;
                }
            }
        }
    }
}

/// Decodes exactly `n` values from `bytes` (the whole encoding), handing them to `sink`
/// in order, in blocks of at most [`BLOCK`] values that it may overwrite (to undo its
/// delta coding in place). Allocates nothing.
pub(crate) fn decode(
    bytes: &[u8],
    n: usize,
    mut sink: impl FnMut(&mut [u64]),
) -> Result<(), DecodeError> {
    let [byte_planes, bit_planes, data @ ..] = bytes else {
        return Err(DecodeError("plane header is truncated"));
    };
    let layout = Layout {
        byte_planes: *byte_planes,
        bit_planes: *bit_planes,
    };
    if u32::from(layout.byte_planes) * 8 + u32::from(layout.bit_planes) > 64 {
        return Err(DecodeError("plane layout is wider than 64 bits"));
    }
    match layout.data_len(n) {
        Some(len) if len == data.len() => {}
        Some(len) if len > data.len() => return Err(DecodeError("planes are truncated")),
        Some(_) => return Err(DecodeError("trailing bytes after planes")),
        None => return Err(DecodeError("plane sizes overflow")),
    }
    let byte_plane_bytes = usize::from(layout.byte_planes) * n;
    let (byte_data, bit_data) = data.split_at(byte_plane_bytes.min(data.len()));
    let plane_len = n.div_ceil(8);
    if !n.is_multiple_of(8) && plane_len > 0 {
        // Unused high bits of each bit plane's last byte must be zero: one encoding per
        // column, and a cheap corruption check.
        let used_mask = (1u8 << (n % 8)) - 1;
        if bit_data
            .chunks_exact(plane_len)
            .any(|plane| plane.last().is_some_and(|&b| b & !used_mask != 0))
        {
            return Err(DecodeError("nonzero padding bits in a bit plane"));
        }
    }

    let base_shift = 8 * u32::from(layout.byte_planes);
    let mut block = [0u64; BLOCK];
    let mut start = 0;
    while start < n {
        let len = (n - start).min(BLOCK);
        let values = block
            .get_mut(..len)
            .ok_or(DecodeError("internal: block overflow"))?;
        let mut byte_planes = byte_data.chunks_exact(n.max(1));
        // The low plane assigns (its length was checked above); the others add their
        // bytes on top.
        match byte_planes.next() {
            Some(plane) => {
                let part = plane.get(start..start + len).unwrap_or_default();
                for (v, &b) in values.iter_mut().zip(part) {
                    *v = u64::from(b);
                }
            }
            None => values.fill(0),
        }
        for (k, plane) in byte_planes.enumerate() {
            let shift = 8 * (k as u32 + 1);
            let part = plane.get(start..start + len).unwrap_or_default();
            for (v, &b) in values.iter_mut().zip(part) {
                *v |= u64::from(b) << shift;
            }
        }
        if plane_len > 0 {
            let first_byte = start / 8;
            let block_bytes = len.div_ceil(8);
            for (group, planes) in bit_data.chunks(8 * plane_len).enumerate() {
                let shift = base_shift + 8 * group as u32;
                // This block's bytes of each plane in the group (at most 8 planes).
                let mut rows: [&[u8]; 8] = [&[]; 8];
                let mut in_group = 0;
                for (row, plane) in rows.iter_mut().zip(planes.chunks_exact(plane_len)) {
                    *row = plane
                        .get(first_byte..first_byte + block_bytes)
                        .unwrap_or_default();
                    in_group += 1;
                }
                let rows = rows.get(..in_group).unwrap_or_default();
                let mut eights = values.chunks_exact_mut(8);
                for (i, eight) in eights.by_ref().enumerate() {
                    let columns = gather(rows, i).to_le_bytes();
                    for (v, &bits) in eight.iter_mut().zip(&columns) {
                        *v |= u64::from(bits) << shift;
                    }
                }
                let tail = eights.into_remainder();
                if !tail.is_empty() {
                    let columns = gather(rows, len / 8).to_le_bytes();
                    for (v, &bits) in tail.iter_mut().zip(&columns) {
                        *v |= u64::from(bits) << shift;
                    }
                }
            }
        }
        sink(values);
        start += len;
    }
    Ok(())
}

/// `SPREAD[b]` has bit `j` of `b` in bit 0 of byte `j`: one bit plane byte fanned out to
/// the eight values it covers.
// Evaluated at compile time, where an index out of bounds is a compile error.
#[allow(clippy::indexing_slicing)]
const SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            table[b] |= ((b as u64 >> j) & 1) << (8 * j);
            j += 1;
        }
        b += 1;
    }
    table
};

/// The transpose of byte `i` of each row (row `r` in bit `r` of each result byte), by
/// table lookups: cheaper than gathering the bytes and calling [`transpose8`] when, as
/// usual, a group holds only a few planes.
#[inline]
fn gather(rows: &[&[u8]], i: usize) -> u64 {
    rows.iter().enumerate().fold(0u64, |acc, (r, row)| {
        let byte = row.get(i).copied().unwrap_or(0);
        acc | SPREAD.get(usize::from(byte)).copied().unwrap_or(0) << r
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8], n: usize) -> Result<Vec<u64>, DecodeError> {
        let mut out = Vec::new();
        decode(bytes, n, |block| out.extend_from_slice(block))?;
        Ok(out)
    }

    #[test]
    fn spread_table_is_the_transpose_of_one_row() {
        for b in 0..=255u8 {
            assert_eq!(gather(&[&[b]], 0), transpose8(u64::from(b)));
        }
        let rows: [&[u8]; 3] = [&[0b1010_0101], &[0xff], &[0b0000_0001]];
        let expected = transpose8(0x01_ff_a5);
        assert_eq!(gather(&rows, 0), expected);
    }

    #[test]
    fn transpose_moves_bit_rc_to_cr() {
        for r in 0..8 {
            for c in 0..8 {
                assert_eq!(transpose8(1 << (8 * r + c)), 1 << (8 * c + r));
            }
        }
    }

    #[test]
    fn layout_follows_the_statistics() {
        // Uniform low byte, skewed high bits: one byte plane, the rest as bit planes.
        let wide: Vec<u64> = (0..2000u64).map(|i| (i * 37) % 700).collect();
        assert_eq!(
            choose_layout(&wide),
            Layout {
                byte_planes: 1,
                bit_planes: 2
            }
        );
        // Mostly 0/1/2: bit planes only.
        let narrow: Vec<u64> = (0..2000u64).map(|i| (i % 7) / 3).collect();
        assert_eq!(
            choose_layout(&narrow),
            Layout {
                byte_planes: 0,
                bit_planes: 2
            }
        );
        assert_eq!(choose_layout(&[0, 0]).bit_planes, 0);
        assert_eq!(choose_layout(&[u64::MAX]).byte_planes, 8);
    }

    #[test]
    fn rejects_bad_headers_and_lengths() {
        assert!(decode_all(&[], 1).is_err());
        assert!(decode_all(&[9, 0], 0).is_err());
        assert!(decode_all(&[8, 1], 0).is_err());
        assert!(decode_all(&[1, 0, 5], 2).is_err());
        assert!(decode_all(&[1, 0, 5, 6, 7], 2).is_err());
        assert!(decode_all(&[0, 1, 0b100], 2).is_err(), "padding bit set");
        assert_eq!(decode_all(&[0, 1, 0b10], 2).unwrap(), vec![0, 1]);
        assert_eq!(decode_all(&[0, 0], 3).unwrap(), vec![0, 0, 0]);
    }

    fn layouts() -> impl Strategy<Value = (u8, u8)> {
        (0u8..=8).prop_flat_map(|l| (Just(l), 0u8..=(64 - 8 * l)))
    }

    proptest! {
        #[test]
        fn round_trips_in_every_layout(
            raw in proptest::collection::vec(any::<u64>(), 0..1200),
            (l, h) in layouts(),
        ) {
            let width = 8 * u32::from(l) + u32::from(h);
            let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
            let values: Vec<u64> = raw.iter().map(|v| v & mask).collect();
            let mut bytes = Vec::new();
            encode_with(&values, Layout { byte_planes: l, bit_planes: h }, &mut bytes);
            prop_assert_eq!(decode_all(&bytes, values.len())?, values.clone());
            let mut chosen = Vec::new();
            encode(&values, &mut chosen);
            prop_assert_eq!(decode_all(&chosen, values.len())?, values.clone());
            for cut in 0..chosen.len() {
                prop_assert!(decode_all(&chosen[..cut], values.len()).is_err());
            }
        }

        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..600) {
            let _ = decode_all(&bytes, n);
        }
    }
}
