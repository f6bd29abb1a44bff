//! Immutable columnar segment files: rows sorted by (series, time), cut into chunks of
//! at most `chunk_points` points, each chunk's columns encoded by the smallest codec and
//! zstd-compressed, with per-chunk statistics and a checksummed footer.
pub(crate) mod encoding;
pub(crate) mod format;
pub(crate) mod reader;
pub(crate) mod writer;

pub(crate) use reader::Segment;
pub(crate) use writer::SegmentWriter;
pub(crate) mod rollup;

#[cfg(test)]
mod golden_tests;
