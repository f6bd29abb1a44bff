//! MSB-first bit writer and reader for the Gorilla XOR stream.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::DecodeError;

/// Packs bit fields MSB-first into bytes.
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits, left-aligned: the next bit to write goes right below them.
    acc: u64,
    /// Number of pending bits in `acc` (0..8 between calls).
    pending: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            acc: 0,
            pending: 0,
        }
    }

    /// Writes the low `width` bits of `value` (`width` in 0..=64), most significant first.
    #[inline]
    pub(crate) fn write(&mut self, value: u64, width: u32) {
        debug_assert!(width <= 64);
        if width == 0 {
            return;
        }
        if width > 32 {
            // Keep `pending + width` within 64 bits of accumulator.
            self.write(value >> 32, width - 32);
            self.write(value & 0xffff_ffff, 32);
            return;
        }
        let field = value & ((1u64 << width) - 1);
        self.acc |= field << (64 - self.pending - width);
        self.pending += width;
        while self.pending >= 8 {
            self.out.push((self.acc >> 56) as u8);
            self.acc <<= 8;
            self.pending -= 8;
        }
    }

    /// Flushes the last partial byte, padded with zero bits.
    pub(crate) fn finish(self) {
        if self.pending > 0 {
            self.out.push((self.acc >> 56) as u8);
        }
    }
}

/// Reads bit fields written by [`BitWriter`]; reading past the end is an error.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Index of the next bit to read.
    position: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, position: 0 }
    }

    /// Reads one bit.
    #[inline]
    pub(crate) fn bit(&mut self) -> Result<bool, DecodeError> {
        let byte = self
            .bytes
            .get(self.position / 8)
            .ok_or(DecodeError("bit stream is truncated"))?;
        let bit = (byte >> (7 - self.position % 8)) & 1;
        self.position += 1;
        Ok(bit == 1)
    }

    /// Reads a `width`-bit field (`width` in 0..=64), most significant bit first.
    #[inline]
    pub(crate) fn read(&mut self, width: u32) -> Result<u64, DecodeError> {
        if width > 56 {
            let high = self.read(width - 32)?;
            let low = self.read(32)?;
            return Ok(high << 32 | low);
        }
        if width == 0 {
            return Ok(0);
        }
        let end = self.position + width as usize;
        if end > self.bytes.len() * 8 {
            return Err(DecodeError("bit stream is truncated"));
        }
        // Load the 8 bytes starting at the current byte (zero-filled past the end) and
        // cut the field out of them: at most 7 + 56 bits are needed.
        let first = self.position / 8;
        let rest = self.bytes.get(first..).unwrap_or_default();
        let word = match rest.first_chunk::<8>() {
            Some(window) => u64::from_be_bytes(*window),
            None => {
                let mut window = [0u8; 8];
                for (dst, src) in window.iter_mut().zip(rest) {
                    *dst = *src;
                }
                u64::from_be_bytes(window)
            }
        };
        let value = (word << (self.position % 8)) >> (64 - width);
        self.position = end;
        Ok(value)
    }

    /// Succeeds when every byte was consumed and the padding bits of the last one are
    /// zero, i.e. the stream is exactly what [`BitWriter`] would have produced.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.len() != self.position.div_ceil(8) {
            return Err(DecodeError("trailing bytes after bit stream"));
        }
        let used = self.position % 8;
        if used != 0 {
            let last = self.bytes.last().copied().unwrap_or(0);
            if last & (0xff >> used) != 0 {
                return Err(DecodeError("nonzero padding bits after bit stream"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fields_round_trip(fields in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..100)) {
            let mut bytes = Vec::new();
            let mut writer = BitWriter::new(&mut bytes);
            for &(v, w) in &fields {
                writer.write(v, w);
            }
            writer.finish();
            let total: u32 = fields.iter().map(|&(_, w)| w).sum();
            prop_assert_eq!(bytes.len(), total.div_ceil(8) as usize);
            let mut reader = BitReader::new(&bytes);
            for &(v, w) in &fields {
                let expected = if w == 0 { 0 } else { v & (u64::MAX >> (64 - w)) };
                prop_assert_eq!(reader.read(w)?, expected);
            }
            reader.finish()?;
        }
    }

    #[test]
    fn detects_truncation_and_garbage() {
        let mut r = BitReader::new(&[0xff]);
        assert!(r.read(9).is_err());
        let mut r = BitReader::new(&[0b1010_0000]);
        assert_eq!(r.read(3).unwrap(), 0b101);
        assert!(r.finish().is_ok());
        let mut r = BitReader::new(&[0b1010_0001]);
        assert_eq!(r.read(3).unwrap(), 0b101);
        assert!(r.finish().is_err());
        let r = BitReader::new(&[0]);
        assert!(r.finish().is_err());
    }
}
