//! What a segment file holds: its magic and version, the footer and its chunk table
//! (FORMAT.md, "Segment files", is the byte layout). The framing around them (header,
//! zstd frames, trailer) is `crate::format::frame`.

use serde::{Deserialize, Serialize};

pub(crate) const MAGIC: [u8; 8] = *b"SDSEGMT\x01";
pub(crate) const VERSION: u32 = 1;

/// Most points in one chunk; bounds every allocation made while decoding a chunk.
pub(crate) const MAX_CHUNK_POINTS: u32 = 1 << 16;
/// Upper bound of a chunk's uncompressed bytes for `count` points: no codec spends
/// more than 10 bytes per timestamp and 10 per value plus small headers.
pub(crate) fn max_chunk_raw_len(count: u32) -> u64 {
    64 + 20 * u64::from(count)
}

/// Statistics of one chunk, kept uncompressed in memory so that aggregations over
/// whole chunks need no decompression. `min`, `max` and `sum` skip NaN values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChunkStats {
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: u32,
    pub nan_count: u32,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub first: f64,
    pub last: f64,
}

impl ChunkStats {
    /// Statistics of sorted, non-empty columns.
    pub(crate) fn compute(ts: &[i64], values: &[f64]) -> ChunkStats {
        let mut stats = ChunkStats {
            min_ts: ts.first().copied().unwrap_or(0),
            max_ts: ts.last().copied().unwrap_or(0),
            count: values.len() as u32,
            nan_count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            first: values.first().copied().unwrap_or(f64::NAN),
            last: values.last().copied().unwrap_or(f64::NAN),
        };
        for &v in values {
            if v.is_nan() {
                stats.nan_count += 1;
            } else {
                stats.min = stats.min.min(v);
                stats.max = stats.max.max(v);
                stats.sum += v;
            }
        }
        stats
    }
}

/// Where one chunk lives and how it is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChunkMeta {
    pub series: u32,
    /// Offset of the chunk's zstd frame in the file.
    pub offset: u64,
    /// Compressed length.
    pub len: u32,
    /// Decompressed length: timestamp bytes followed by value bytes.
    pub raw_len: u32,
    /// Length of the timestamp bytes inside the decompressed chunk.
    pub ts_len: u32,
    /// CRC32 of the compressed bytes.
    pub crc: u32,
    pub ts_codec: u8,
    pub value_codec: u8,
    pub stats: ChunkStats,
}

/// The footer: segment-wide facts and the chunk table, sorted by (series, min_ts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Footer {
    pub partition: i64,
    pub level: u8,
    pub min_ts: i64,
    pub max_ts: i64,
    pub points: u64,
    pub series: u64,
    pub chunks: Vec<ChunkMeta>,
}
