//! The one place that calls zstd. Every compressed thing on disk is one independent zstd
//! frame (FORMAT.md: segment chunks and footers, rollup blocks and footers, catalog
//! blocks); the sizes around it are checked by the callers before anything here
//! allocates.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::io;

/// A reusable compression context for one zstd level: one per writer or thread, not
/// one per frame.
pub(crate) struct Compressor {
    level: i32,
    inner: zstd::bulk::Compressor<'static>,
}

impl Compressor {
    pub(crate) fn new(level: i32) -> io::Result<Compressor> {
        Ok(Compressor {
            level,
            inner: zstd::bulk::Compressor::new(level)?,
        })
    }

    /// The level this context compresses at.
    pub(crate) fn level(&self) -> i32 {
        self.level
    }

    /// `src` as one zstd frame, in a new buffer.
    pub(crate) fn compress(&mut self, src: &[u8]) -> io::Result<Vec<u8>> {
        self.inner.compress(src)
    }

    /// `src` as one zstd frame, into `dst` (cleared first; grown to the worst case).
    pub(crate) fn compress_into(&mut self, src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
        dst.clear();
        dst.reserve(zstd::zstd_safe::compress_bound(src.len()));
        self.inner.compress_to_buffer(src, dst).map(|_| ())
    }
}

/// A reusable decompression context.
pub(crate) struct Decompressor {
    inner: zstd::bulk::Decompressor<'static>,
}

impl Decompressor {
    pub(crate) fn new() -> io::Result<Decompressor> {
        Ok(Decompressor {
            inner: zstd::bulk::Decompressor::new()?,
        })
    }

    /// Decompresses the frame `src` into `dst` (cleared first, grown to hold at least
    /// `capacity` bytes; a frame that decompresses to more than `dst` holds is an error).
    /// Returns the decompressed length, which the caller compares with the length it
    /// expects: `dst` may have room for more than `capacity`.
    pub(crate) fn decompress_into(
        &mut self,
        src: &[u8],
        dst: &mut Vec<u8>,
        capacity: usize,
    ) -> io::Result<usize> {
        dst.clear();
        dst.reserve(capacity);
        self.inner.decompress_to_buffer(src, dst)
    }
}

/// `src` as one zstd frame at `level`, with a one-off context.
pub(crate) fn compress(src: &[u8], level: i32) -> io::Result<Vec<u8>> {
    zstd::bulk::compress(src, level)
}

/// Decompresses the frame `src`, which must not decompress to more than `capacity`
/// bytes, with a one-off context.
pub(crate) fn decompress(src: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
    zstd::bulk::decompress(src, capacity)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn contexts_round_trip_and_bound_the_output() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut c = Compressor::new(3).unwrap();
        assert_eq!(c.level(), 3);
        let mut frame = Vec::new();
        c.compress_into(&data, &mut frame).unwrap();
        assert_eq!(frame, c.compress(&data).unwrap());
        assert_eq!(frame, compress(&data, 3).unwrap());
        let mut d = Decompressor::new().unwrap();
        let mut out = Vec::new();
        assert_eq!(
            d.decompress_into(&frame, &mut out, data.len()).unwrap(),
            data.len()
        );
        assert_eq!(out, data);
        let mut small = Vec::new();
        assert!(d.decompress_into(&frame, &mut small, 100).is_err());
        assert_eq!(decompress(&frame, data.len()).unwrap(), data);
        assert!(decompress(&frame, 100).is_err());
        assert!(decompress(b"not zstd", 100).is_err());
    }
}
