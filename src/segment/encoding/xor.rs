//! Gorilla-style XOR codec: handles every bit pattern (NaN payloads, infinities, -0.0).
//!
//! ```text
//! +------------------------+-------------------------------------------------+
//! | first value: u64 LE    | bit stream, MSB first, zero-padded to a byte:   |
//! | (raw f64 bits)         | per further value, x = bits XOR previous bits:  |
//! +------------------------+   '0'                      x == 0               |
//!                          |   '10' + m bits            x fits the previous  |
//!                          |                            window (m bits)      |
//!                          |   '11' + 5 bits lead       new window: lead in  |
//!                          |        + 6 bits m (0=64)   0..=31 zero bits     |
//!                          |        + m bits            above m meaningful   |
//!                          +-------------------------------------------------+
//! ```
//!
//! Bit-packed rather than byte-aligned: the meaningful bits of XORs of unrelated floats
//! are close to random, so zstd gains little either way and the packed form is smaller.
//! This is the fallback for values that are not short decimals.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::bits::{BitReader, BitWriter};
use super::DecodeError;

/// Appends the XOR encoding of `values` (len >= 1).
pub(crate) fn encode(values: &[f64], out: &mut Vec<u8>) {
    let Some((first, rest)) = values.split_first() else {
        return;
    };
    out.extend_from_slice(&first.to_bits().to_le_bytes());
    let mut writer = BitWriter::new(out);
    let mut previous = first.to_bits();
    // Current window as (leading zeros, meaningful bits); None until the first '11'.
    let mut window: Option<(u32, u32)> = None;
    for value in rest {
        let bits = value.to_bits();
        let xor = bits ^ previous;
        previous = bits;
        if xor == 0 {
            writer.write(0, 1);
            continue;
        }
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        match window {
            Some((lead, meaningful)) if leading >= lead && trailing >= 64 - lead - meaningful => {
                writer.write(0b10, 2);
                writer.write(xor >> (64 - lead - meaningful), meaningful);
            }
            _ => {
                let meaningful = 64 - leading - trailing;
                writer.write(0b11, 2);
                writer.write(u64::from(leading), 5);
                writer.write(u64::from(meaningful & 63), 6);
                writer.write(xor >> trailing, meaningful);
                window = Some((leading, meaningful));
            }
        }
    }
    writer.finish();
}

/// Decodes exactly `count` values (count >= 1) from the whole encoding `bytes`.
pub(crate) fn decode(bytes: &[u8], count: usize, out: &mut Vec<f64>) -> Result<(), DecodeError> {
    let (first, stream) = bytes
        .split_first_chunk::<8>()
        .ok_or(DecodeError("xor: first value is truncated"))?;
    if count == 0 {
        return Err(DecodeError("xor: empty column"));
    }
    // Every further value takes at least one bit: refuse before reserving memory.
    if count - 1 > stream.len().saturating_mul(8) {
        return Err(DecodeError("xor: stream too short for the count"));
    }
    out.reserve(count);
    let mut previous = u64::from_le_bytes(*first);
    out.push(f64::from_bits(previous));
    let mut reader = BitReader::new(stream);
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..count {
        if reader.bit()? {
            let (lead, meaningful) = if reader.bit()? {
                let lead = reader.read(5)? as u32;
                let meaningful = match reader.read(6)? as u32 {
                    0 => 64,
                    m => m,
                };
                if lead + meaningful > 64 {
                    return Err(DecodeError("xor: window wider than 64 bits"));
                }
                window = Some((lead, meaningful));
                (lead, meaningful)
            } else {
                window.ok_or(DecodeError("xor: window reused before it was set"))?
            };
            let field = reader.read(meaningful)?;
            previous ^= field << (64 - lead - meaningful);
        }
        out.push(f64::from_bits(previous));
    }
    reader.finish()
}
