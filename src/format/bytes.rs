//! Checked little-endian reads: every fixed-width integer of every file format is read
//! through these, which return `None` instead of panicking when the bytes are short.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

/// The `N` bytes at `at`, if `bytes` has them.
#[inline]
pub(crate) fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..)?.first_chunk::<N>().copied()
}

/// The little-endian `u32` at `at`.
#[inline]
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    array_at(bytes, at).map(u32::from_le_bytes)
}

/// The little-endian `u64` at `at`.
#[inline]
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    array_at(bytes, at).map(u64::from_le_bytes)
}

/// Why a [`Reader`] read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// Fewer bytes remain than the read needs.
    Short,
}

impl ReadError {
    /// What is wrong, for error messages.
    pub(crate) fn what(self) -> &'static str {
        match self {
            ReadError::Short => "runs past the end",
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what())
    }
}

/// A cursor over bytes whose every read is bounds-checked and leaves the position
/// unchanged when it fails.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The bytes left, without consuming them.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], ReadError> {
        let end = self.pos.checked_add(len).ok_or(ReadError::Short)?;
        let taken = self.bytes.get(self.pos..end).ok_or(ReadError::Short)?;
        self.pos = end;
        Ok(taken)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let a = array_at::<N>(self.bytes, self.pos).ok_or(ReadError::Short)?;
        self.pos += N;
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ReadError> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ReadError> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, ReadError> {
        self.array().map(u64::from_le_bytes)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, ReadError> {
        self.array().map(i64::from_le_bytes)
    }

    /// An `f64` stored as the little-endian bits of `f64::to_bits`.
    pub(crate) fn f64(&mut self) -> Result<f64, ReadError> {
        self.u64().map(f64::from_bits)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked_and_little_endian() {
        let b = [1u8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x80];
        assert_eq!(u32_at(&b, 0), Some(1));
        assert_eq!(u64_at(&b, 4), Some(0x8000_0000_0000_0002));
        assert_eq!(u64_at(&b, 5), None);
        assert_eq!(u32_at(&b, usize::MAX), None);
        let mut r = Reader::new(&b);
        assert_eq!(r.u32(), Ok(1));
        assert_eq!(r.i64(), Ok(i64::MIN + 2));
        assert_eq!(r.u8(), Err(ReadError::Short));
        assert_eq!(r.remaining(), 0);
        let mut r = Reader::new(&b[..3]);
        assert_eq!(r.u32(), Err(ReadError::Short));
        assert_eq!(r.remaining(), 3, "a failed read does not move");
        assert_eq!(r.take(usize::MAX), Err(ReadError::Short));
        assert_eq!(r.take(2).unwrap(), &[1, 0]);
        assert_eq!(r.rest(), &[0]);
    }
}
