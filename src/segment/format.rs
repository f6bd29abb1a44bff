//! What a segment file holds: its magic and version, the footer and its chunk table
//! (FORMAT.md, "Segment files", is the byte layout). The framing around them (header,
//! zstd frames, trailer) is `crate::format::frame`.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::format::bytes::{ReadError, Reader};

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
#[derive(Debug, Clone, Copy, PartialEq)]
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

impl ChunkStats {
    /// The first field in which `self` and `other` differ (floats compared bit for bit,
    /// which is what the writer's [`ChunkStats::compute`] reproduces), as
    /// `(name, self's value, other's value)`.
    pub(crate) fn first_difference(
        &self,
        other: &ChunkStats,
    ) -> Option<(&'static str, String, String)> {
        let ints = [
            ("min_ts", self.min_ts, other.min_ts),
            ("max_ts", self.max_ts, other.max_ts),
            ("count", i64::from(self.count), i64::from(other.count)),
            (
                "nan_count",
                i64::from(self.nan_count),
                i64::from(other.nan_count),
            ),
        ];
        if let Some((name, a, b)) = ints.into_iter().find(|(_, a, b)| a != b) {
            return Some((name, a.to_string(), b.to_string()));
        }
        let floats = [
            ("min", self.min, other.min),
            ("max", self.max, other.max),
            ("sum", self.sum, other.sum),
            ("first", self.first, other.first),
            ("last", self.last, other.last),
        ];
        floats
            .into_iter()
            .find(|(_, a, b)| a.to_bits() != b.to_bits())
            .map(|(name, a, b)| (name, format!("{a:?}"), format!("{b:?}")))
    }
}

/// Where one chunk lives and how it is encoded.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Footer {
    pub partition: i64,
    pub level: u8,
    pub min_ts: i64,
    pub max_ts: i64,
    pub points: u64,
    pub series: u64,
    pub chunks: Vec<ChunkMeta>,
}

/// Bytes of the footer before its chunk table (FORMAT.md, "Segment footer").
pub(crate) const FOOTER_FIXED_LEN: usize = 8 + 1 + 8 + 8 + 8 + 8 + 8;
/// Bytes of one chunk table entry.
pub(crate) const CHUNK_META_LEN: usize = 4 + 8 + 4 + 4 + 4 + 4 + 1 + 1 + 8 + 8 + 4 + 4 + 5 * 8;
const _: () = assert!(FOOTER_FIXED_LEN == 49 && CHUNK_META_LEN == 94);

// The footer is written and read field by field, in the order FORMAT.md lists, rather
// than as the serde form of these structs: reordering or adding a struct field must
// not change the bytes on disk. (These bytes are the ones bincode wrote for format 1.)
impl Footer {
    /// The footer's bytes (before compression).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_FIXED_LEN + CHUNK_META_LEN * self.chunks.len());
        out.extend_from_slice(&self.partition.to_le_bytes());
        out.push(self.level);
        out.extend_from_slice(&self.min_ts.to_le_bytes());
        out.extend_from_slice(&self.max_ts.to_le_bytes());
        out.extend_from_slice(&self.points.to_le_bytes());
        out.extend_from_slice(&self.series.to_le_bytes());
        out.extend_from_slice(&(self.chunks.len() as u64).to_le_bytes());
        for c in &self.chunks {
            out.extend_from_slice(&c.series.to_le_bytes());
            out.extend_from_slice(&c.offset.to_le_bytes());
            out.extend_from_slice(&c.len.to_le_bytes());
            out.extend_from_slice(&c.raw_len.to_le_bytes());
            out.extend_from_slice(&c.ts_len.to_le_bytes());
            out.extend_from_slice(&c.crc.to_le_bytes());
            out.push(c.ts_codec);
            out.push(c.value_codec);
            let s = &c.stats;
            out.extend_from_slice(&s.min_ts.to_le_bytes());
            out.extend_from_slice(&s.max_ts.to_le_bytes());
            out.extend_from_slice(&s.count.to_le_bytes());
            out.extend_from_slice(&s.nan_count.to_le_bytes());
            for v in [s.min, s.max, s.sum, s.first, s.last] {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        out
    }

    /// Decodes footer bytes: exactly [`FOOTER_FIXED_LEN`] plus [`CHUNK_META_LEN`] per
    /// chunk, nothing after. The caller checks what the fields say.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Footer, String> {
        let short = |e: ReadError| format!("footer {e}");
        let mut r = Reader::new(bytes);
        let partition = r.i64().map_err(short)?;
        let level = r.u8().map_err(short)?;
        let min_ts = r.i64().map_err(short)?;
        let max_ts = r.i64().map_err(short)?;
        let points = r.u64().map_err(short)?;
        let series = r.u64().map_err(short)?;
        let count = r.u64().map_err(short)?;
        if count.checked_mul(CHUNK_META_LEN as u64) != Some(r.remaining() as u64) {
            return Err(format!(
                "footer lists {count} chunks but has {} bytes for them",
                r.remaining()
            ));
        }
        let mut chunks = Vec::with_capacity(r.remaining() / CHUNK_META_LEN);
        while r.remaining() > 0 {
            chunks.push(decode_chunk_meta(&mut r).map_err(short)?);
        }
        Ok(Footer {
            partition,
            level,
            min_ts,
            max_ts,
            points,
            series,
            chunks,
        })
    }
}

fn decode_chunk_meta(r: &mut Reader<'_>) -> Result<ChunkMeta, ReadError> {
    Ok(ChunkMeta {
        series: r.u32()?,
        offset: r.u64()?,
        len: r.u32()?,
        raw_len: r.u32()?,
        ts_len: r.u32()?,
        crc: r.u32()?,
        ts_codec: r.u8()?,
        value_codec: r.u8()?,
        stats: ChunkStats {
            min_ts: r.i64()?,
            max_ts: r.i64()?,
            count: r.u32()?,
            nan_count: r.u32()?,
            min: r.f64()?,
            max: r.f64()?,
            sum: r.f64()?,
            first: r.f64()?,
            last: r.f64()?,
        },
    })
}
