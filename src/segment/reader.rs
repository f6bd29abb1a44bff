//! Opens segment files and decodes their chunks. Every offset and length read from the
//! file is checked before use: a damaged or hostile file yields `Error::Corruption`
//! naming the file and offset, never a panic or an unbounded allocation.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use bincode::Options as _;

use crate::error::{Error, Result};
use crate::segment::encoding::{decode_timestamps, decode_values};
use crate::segment::format::*;
use crate::storage::{FileBytes, FileSystem, ReadMode};

thread_local! {
    /// Decompression context and scratch buffer reused across chunks on one thread.
    static SCRATCH: RefCell<Option<(zstd::bulk::Decompressor<'static>, Vec<u8>)>> = const { RefCell::new(None) };
}

/// Where one checksummed zstd frame (a segment chunk or a rollup block) lies in a file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameRef {
    pub offset: u64,
    pub len: u32,
    pub raw_len: u32,
    pub crc: u32,
}

/// Checks `frame`'s bounds and CRC in `bytes`, decompresses it into this thread's
/// scratch buffer (one decompression context per thread, not one per frame) and hands
/// the decompressed bytes to `decode`. Every failure is a corruption error naming `path`
/// and the frame's offset; `what` names the frame kind in the message.
pub(crate) fn with_frame<R>(
    bytes: &[u8],
    path: &Path,
    frame: FrameRef,
    what: &str,
    decode: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    let at = frame.offset;
    let corrupt = |msg: String| Error::corruption(path, at, msg);
    let data = usize::try_from(at)
        .ok()
        .and_then(|start| Some(start..start.checked_add(frame.len as usize)?))
        .and_then(|range| bytes.get(range))
        .ok_or_else(|| corrupt(format!("{what} outside the file")))?;
    if crc32fast::hash(data) != frame.crc {
        return Err(corrupt(format!("{what} checksum mismatch")));
    }
    SCRATCH.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let d = zstd::bulk::Decompressor::new().map_err(|e| Error::io("zstd init", path, e))?;
            *cell = Some((d, Vec::new()));
        }
        let Some((decompressor, raw)) = cell.as_mut() else {
            return Err(Error::Internal("scratch buffer missing".into()));
        };
        raw.clear();
        raw.reserve(frame.raw_len as usize);
        let n = decompressor
            .decompress_to_buffer(data, raw)
            .map_err(|e| corrupt(format!("{what} does not decompress: {e}")))?;
        if n != frame.raw_len as usize || raw.len() != n {
            return Err(corrupt(format!("{what} decompressed to the wrong length")));
        }
        decode(raw)
    })
}

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

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
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
        let (footer, footer_offset) = parse_framed::<Footer>(b, path, &MAGIC, VERSION)?;
        Self::validate_chunks(&footer, footer_offset, path)?;
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
    pub(crate) fn chunks(&self) -> &[ChunkMeta] {
        &self.footer.chunks
    }

    /// The chunks of one series, in time order.
    pub(crate) fn series_chunks(&self, series: u32) -> &[ChunkMeta] {
        let chunks = &self.footer.chunks;
        let start = chunks.partition_point(|c| c.series < series);
        let end = start + chunks[start..].partition_point(|c| c.series == series);
        &chunks[start..end]
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
            let decoded = &ts_out[ts_start..];
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

/// Checks the framing shared by segment and rollup files (header, trailer, footer
/// checksum and size) and decodes the footer. Returns it with its offset.
pub(crate) fn parse_framed<F: serde::de::DeserializeOwned>(
    b: &[u8],
    path: &Path,
    magic: &[u8; 8],
    supported: u32,
) -> Result<(F, u64)> {
    let corrupt = |offset: usize, what: String| Error::corruption(path, offset as u64, what);
    if b.len() < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt(
            0,
            format!("file of {} bytes is too short for a segment", b.len()),
        ));
    }
    if b[HEADER_MAGIC..HEADER_MAGIC + 7] != magic[..7] {
        return Err(corrupt(0, "bad segment magic".into()));
    }
    let version = le_u32(b, HEADER_VERSION);
    // The magic's last byte is the major version: when it differs, it is the version to
    // report (the field after it may well still say 1).
    let major = b[HEADER_MAGIC + 7];
    if version > supported || major != magic[7] {
        return Err(Error::UnsupportedVersion {
            file: path.into(),
            found: if major != magic[7] {
                u32::from(major)
            } else {
                version
            },
            supported,
        });
    }
    if version == 0 {
        return Err(corrupt(HEADER_VERSION, "segment version 0".into()));
    }
    // No flag is defined yet. The header is outside every checksum, so this check
    // is what catches damage here, and a file from a writer that sets a flag this
    // build does not know is refused rather than misread (as the catalog does).
    let flags = le_u32(b, HEADER_FLAGS);
    if flags != 0 {
        return Err(corrupt(HEADER_FLAGS, format!("unknown flags {flags:#x}")));
    }
    let t_at = b.len() - TRAILER_LEN;
    let t = &b[t_at..];
    if t[TRAILER_MAGIC..] != *magic {
        return Err(corrupt(
            t_at + TRAILER_MAGIC,
            "bad trailer magic (truncated file?)".into(),
        ));
    }
    if crc32fast::hash(&t[..TRAILER_CRC]) != le_u32(t, TRAILER_CRC) {
        return Err(corrupt(t_at, "trailer checksum mismatch".into()));
    }
    if le_u32(t, TRAILER_VERSION) != version {
        return Err(corrupt(
            t_at + TRAILER_VERSION,
            "trailer and header versions differ".into(),
        ));
    }
    let footer_offset = le_u64(t, TRAILER_FOOTER_OFFSET);
    let footer_len = u64::from(le_u32(t, TRAILER_FOOTER_LEN));
    let footer_raw_len = u64::from(le_u32(t, TRAILER_FOOTER_RAW_LEN));
    if footer_offset < HEADER_LEN as u64 || footer_offset.saturating_add(footer_len) != t_at as u64
    {
        return Err(corrupt(
            t_at,
            format!("footer at {footer_offset}+{footer_len} does not end at the trailer"),
        ));
    }
    let footer_offset = footer_offset as usize;
    let compressed = &b[footer_offset..t_at];
    if crc32fast::hash(compressed) != le_u32(t, TRAILER_FOOTER_CRC) {
        return Err(corrupt(footer_offset, "footer checksum mismatch".into()));
    }
    if footer_raw_len > MAX_FOOTER_RAW_LEN || footer_raw_len > footer_len.saturating_mul(1024) {
        return Err(corrupt(
            t_at,
            format!("implausible footer size {footer_raw_len}"),
        ));
    }
    let raw = zstd::bulk::decompress(compressed, footer_raw_len as usize)
        .map_err(|e| corrupt(footer_offset, format!("footer does not decompress: {e}")))?;
    if raw.len() as u64 != footer_raw_len {
        return Err(corrupt(
            footer_offset,
            "footer decompressed to the wrong length".into(),
        ));
    }
    let footer: F = bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(footer_raw_len)
        .deserialize(&raw)
        .map_err(|e| corrupt(footer_offset, format!("footer does not decode: {e}")))?;
    Ok((footer, footer_offset as u64))
}
