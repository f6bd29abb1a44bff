//! Opens segment files and decodes their chunks. Every offset and length read from the
//! file is checked before use: a damaged or hostile file yields `Error::Corruption`
//! naming the file and offset, never a panic or an unbounded allocation.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::frame::{parse_framed, with_frame, FrameRef, HEADER_LEN};
use crate::segment::encoding::{decode_timestamps, decode_values};
use crate::segment::format::*;
use crate::storage::{FileBytes, FileSystem, ReadMode};

/// An open, validated segment file.
pub(crate) struct Segment {
    path: PathBuf,
    bytes: FileBytes,
    footer: Footer,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("path", &self.path)
            .field("chunks", &self.footer.chunks.len())
            .finish()
    }
}

impl Segment {
    /// Opens and validates `path`: header, trailer, footer checksum and every chunk's
    /// placement. Chunk checksums are verified when a chunk is decoded.
    pub(crate) fn open(fs: &dyn FileSystem, path: &Path, mode: ReadMode) -> Result<Segment> {
        let bytes = crate::storage::open_whole(fs, path, mode)?;
        let footer = Self::parse(&bytes, path)?;
        Ok(Segment {
            path: path.to_owned(),
            bytes,
            footer,
        })
    }

    fn parse(b: &[u8], path: &Path) -> Result<Footer> {
        let framed = parse_framed(b, path, &MAGIC, VERSION)?;
        let footer = Footer::decode(&framed.footer).map_err(|e| {
            Error::corruption(
                path,
                framed.footer_offset,
                format!("footer does not decode: {e}"),
            )
        })?;
        Self::validate_chunks(&footer, framed.footer_offset, path)?;
        Ok(footer)
    }

    fn validate_chunks(footer: &Footer, footer_offset: u64, path: &Path) -> Result<()> {
        let mut prev: Option<(u32, i64)> = None;
        let mut points = 0u64;
        for (i, c) in footer.chunks.iter().enumerate() {
            let bad =
                |what: String| Error::corruption(path, footer_offset, format!("chunk {i}: {what}"));
            let s = &c.stats;
            if s.count == 0 || s.count > MAX_CHUNK_POINTS || s.nan_count > s.count {
                return Err(bad(format!("bad point count {}", s.count)));
            }
            if c.offset < HEADER_LEN as u64
                || c.offset.saturating_add(u64::from(c.len)) > footer_offset
            {
                return Err(bad(format!(
                    "bytes {}+{} outside the chunk area",
                    c.offset, c.len
                )));
            }
            if u64::from(c.raw_len) > max_chunk_raw_len(s.count) || c.ts_len > c.raw_len {
                return Err(bad(format!("implausible decoded length {}", c.raw_len)));
            }
            if s.min_ts > s.max_ts || (s.count == 1) != (s.min_ts == s.max_ts) {
                return Err(bad("time bounds inconsistent with count".into()));
            }
            if let Some((ps, pmax)) = prev {
                if (c.series, s.min_ts) <= (ps, pmax) {
                    return Err(bad("chunks out of order".into()));
                }
            }
            prev = Some((c.series, s.max_ts));
            points += u64::from(s.count);
        }
        if points != footer.points {
            return Err(Error::corruption(
                path,
                footer_offset,
                "footer point count disagrees with its chunks",
            ));
        }
        Ok(())
    }

    /// Every chunk, sorted by (series, time).
    /// The file this segment was opened from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn chunks(&self) -> &[ChunkMeta] {
        &self.footer.chunks
    }

    /// The chunks of one series, in time order.
    pub(crate) fn series_chunks(&self, series: u32) -> &[ChunkMeta] {
        let chunks = &self.footer.chunks;
        let start = chunks.partition_point(|c| c.series < series);
        let of_series = chunks.get(start..).unwrap_or_default();
        let len = of_series.partition_point(|c| c.series == series);
        of_series.get(..len).unwrap_or_default()
    }

    /// Decodes one chunk, appending its points to the outputs.
    pub(crate) fn decode_chunk(
        &self,
        chunk: &ChunkMeta,
        ts_out: &mut Vec<i64>,
        val_out: &mut Vec<f64>,
    ) -> Result<()> {
        let at = chunk.offset;
        let count = chunk.stats.count as usize;
        let frame = FrameRef {
            offset: chunk.offset,
            len: chunk.len,
            raw_len: chunk.raw_len,
            crc: chunk.crc,
        };
        with_frame(&self.bytes, &self.path, frame, "chunk", |raw| {
            let (ts_bytes, value_bytes) = raw.split_at(chunk.ts_len as usize);
            let ts_start = ts_out.len();
            decode_timestamps(chunk.ts_codec, ts_bytes, count, ts_out)
                .map_err(|e| Error::corruption(&self.path, at, format!("timestamps: {}", e.0)))?;
            decode_values(chunk.value_codec, value_bytes, count, val_out)
                .map_err(|e| Error::corruption(&self.path, at, format!("values: {}", e.0)))?;
            let decoded = ts_out.get(ts_start..).unwrap_or_default();
            if decoded.first() != Some(&chunk.stats.min_ts)
                || decoded.last() != Some(&chunk.stats.max_ts)
            {
                return Err(Error::corruption(
                    &self.path,
                    at,
                    "decoded timestamps disagree with chunk statistics",
                ));
            }
            Ok(())
        })
    }
}
