//! Writes one immutable segment file from sorted, deduplicated series.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::compress::Compressor;
use crate::format::frame::{footer_and_trailer, header};
use crate::segment::encoding::{encode_timestamps, encode_values};
use crate::segment::format::*;
use crate::storage::{FileSystem, WritableFile};

/// Bytes buffered in memory before they are appended to the file.
const WRITE_BUFFER: usize = 1 << 20;

/// Paces writes to a byte rate: after each write, sleeps until the bytes written so far
/// fit the rate since the first write.
struct Throttle {
    bytes_per_sec: u64,
    started: std::time::Instant,
    written: u64,
}

impl Throttle {
    fn after_write(&mut self, bytes: usize) {
        self.written += bytes as u64;
        let due =
            std::time::Duration::from_secs_f64(self.written as f64 / self.bytes_per_sec as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// What a finished segment holds.
#[derive(Debug, Clone)]
pub(crate) struct SegmentSummary {
    pub min_ts: i64,
    pub max_ts: i64,
    pub points: u64,
    pub series: u64,
    pub bytes: u64,
}

/// One compressed chunk, everything of its [`ChunkMeta`] but its place in the file.
#[derive(Debug, Clone)]
struct EncodedChunk {
    len: u32,
    raw_len: u32,
    ts_len: u32,
    crc: u32,
    ts_codec: u8,
    value_codec: u8,
    stats: ChunkStats,
}

/// One series cut into chunks, encoded and compressed, ready for
/// [`SegmentWriter::add_encoded_series`]. Made by [`encode_series`], which needs no
/// writer, so that compaction encodes series on several threads.
#[derive(Debug, Default)]
pub(crate) struct EncodedSeries {
    chunks: Vec<EncodedChunk>,
    /// The chunks' zstd frames, back to back.
    frames: Vec<u8>,
}

/// Encodes and compresses one chunk into `frame` (cleared first); `raw` is scratch.
fn encode_chunk(
    compressor: &mut Compressor,
    ts: &[i64],
    values: &[f64],
    raw: &mut Vec<u8>,
    frame: &mut Vec<u8>,
) -> std::io::Result<EncodedChunk> {
    raw.clear();
    let ts_codec = encode_timestamps(ts, raw);
    let ts_len = raw.len();
    let value_codec = encode_values(values, raw);
    compressor.compress_into(raw, frame)?;
    Ok(EncodedChunk {
        len: frame.len() as u32,
        raw_len: raw.len() as u32,
        ts_len: ts_len as u32,
        crc: crc32fast::hash(frame),
        ts_codec: ts_codec as u8,
        value_codec: value_codec as u8,
        stats: ChunkStats::compute(ts, values),
    })
}

/// A compressor for one zstd level, with scratch for the raw and compressed chunk.
struct Encoder {
    compressor: Compressor,
    raw: Vec<u8>,
    frame: Vec<u8>,
}

thread_local! {
    /// Per-thread encoder for [`encode_series`].
    static ENCODER: std::cell::RefCell<Option<Encoder>> = const { std::cell::RefCell::new(None) };
}

/// Cuts one series (strictly increasing timestamps) into chunks of `chunk_points` and
/// encodes them as [`SegmentWriter`] would, on the calling thread.
pub(crate) fn encode_series(
    ts: &[i64],
    values: &[f64],
    zstd_level: i32,
    chunk_points: usize,
) -> Result<EncodedSeries> {
    if ts.len() != values.len() {
        return Err(Error::Internal("segment column lengths differ".into()));
    }
    if ts.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Internal(
            "series timestamps not strictly increasing".into(),
        ));
    }
    let chunk_points = chunk_points.clamp(1, MAX_CHUNK_POINTS as usize);
    let zstd_error = |e| Error::io("zstd compress", Path::new("<compaction>"), e);
    ENCODER.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell
            .as_ref()
            .is_none_or(|e| e.compressor.level() != zstd_level)
        {
            *cell = Some(Encoder {
                compressor: Compressor::new(zstd_level).map_err(zstd_error)?,
                raw: Vec::new(),
                frame: Vec::new(),
            });
        }
        let Some(Encoder {
            compressor,
            raw,
            frame,
        }) = cell.as_mut()
        else {
            return Err(Error::Internal("encoder missing".into()));
        };
        let mut out = EncodedSeries::default();
        for (ts, values) in ts.chunks(chunk_points).zip(values.chunks(chunk_points)) {
            let chunk = encode_chunk(compressor, ts, values, raw, frame).map_err(zstd_error)?;
            out.frames.extend_from_slice(frame);
            out.chunks.push(chunk);
        }
        Ok(out)
    })
}

/// Streams series into a new segment file. Series must arrive in ascending id order,
/// each with strictly increasing timestamps.
pub(crate) struct SegmentWriter {
    path: PathBuf,
    file: Arc<dyn WritableFile>,
    compressor: Compressor,
    chunk_points: usize,
    buf: Vec<u8>,
    raw: Vec<u8>,
    frame: Vec<u8>,
    written: u64,
    chunks: Vec<ChunkMeta>,
    last_series: Option<u32>,
    min_ts: i64,
    max_ts: i64,
    points: u64,
    series: u64,
    throttle: Option<Throttle>,
}

impl SegmentWriter {
    /// Creates the file at `path` (which must not exist).
    pub(crate) fn create(
        fs: &dyn FileSystem,
        path: &Path,
        zstd_level: i32,
        chunk_points: usize,
    ) -> Result<SegmentWriter> {
        let file = fs
            .create_new(path)
            .map_err(|e| Error::io("create", path, e))?;
        let compressor =
            Compressor::new(zstd_level).map_err(|e| Error::io("zstd init", path, e))?;
        let mut buf = Vec::with_capacity(WRITE_BUFFER + (1 << 16));
        buf.extend_from_slice(&header(&MAGIC, VERSION));
        Ok(SegmentWriter {
            path: path.to_owned(),
            file,
            compressor,
            chunk_points: chunk_points.clamp(1, MAX_CHUNK_POINTS as usize),
            buf,
            raw: Vec::new(),
            frame: Vec::new(),
            written: 0,
            chunks: Vec::new(),
            last_series: None,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            points: 0,
            series: 0,
            throttle: None,
        })
    }

    /// Limits the write rate (used by compaction, never by flush, which must keep up
    /// with ingest).
    pub(crate) fn with_io_limit(mut self, bytes_per_sec: Option<u64>) -> Self {
        self.throttle = bytes_per_sec.map(|bytes_per_sec| Throttle {
            bytes_per_sec: bytes_per_sec.max(1),
            started: std::time::Instant::now(),
            written: 0,
        });
        self
    }

    /// Adds one series' points.
    pub(crate) fn add_series(&mut self, series: u32, ts: &[i64], values: &[f64]) -> Result<()> {
        if ts.len() != values.len() {
            return Err(Error::Internal("segment column lengths differ".into()));
        }
        if ts.is_empty() {
            return Ok(());
        }
        if self.last_series.is_some_and(|last| last >= series) {
            return Err(Error::Internal(format!(
                "series {series} added out of order"
            )));
        }
        if ts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::Internal(format!(
                "series {series} timestamps not strictly increasing"
            )));
        }
        self.last_series = Some(series);
        self.series += 1;
        for (ts, values) in ts
            .chunks(self.chunk_points)
            .zip(values.chunks(self.chunk_points))
        {
            self.add_chunk(series, ts, values)?;
        }
        Ok(())
    }

    fn add_chunk(&mut self, series: u32, ts: &[i64], values: &[f64]) -> Result<()> {
        let chunk = encode_chunk(
            &mut self.compressor,
            ts,
            values,
            &mut self.raw,
            &mut self.frame,
        )
        .map_err(|e| Error::io("zstd compress", &self.path, e))?;
        self.append_chunk(series, chunk, None)
    }

    /// Adds one series whose chunks [`encode_series`] made (on any thread), in order.
    pub(crate) fn add_encoded_series(
        &mut self,
        series: u32,
        encoded: &EncodedSeries,
    ) -> Result<()> {
        if encoded.chunks.is_empty() {
            return Ok(());
        }
        if self.last_series.is_some_and(|last| last >= series) {
            return Err(Error::Internal(format!(
                "series {series} added out of order"
            )));
        }
        self.last_series = Some(series);
        self.series += 1;
        let mut frames = &encoded.frames[..];
        for chunk in &encoded.chunks {
            let (frame, rest) = frames
                .split_at_checked(chunk.len as usize)
                .ok_or_else(|| Error::Internal("encoded series shorter than its chunks".into()))?;
            frames = rest;
            self.append_chunk(series, chunk.clone(), Some(frame))?;
        }
        Ok(())
    }

    /// Appends a compressed chunk: its frame is `frame`, or `self.frame` when `None`.
    fn append_chunk(
        &mut self,
        series: u32,
        chunk: EncodedChunk,
        frame: Option<&[u8]>,
    ) -> Result<()> {
        let offset = self.written + self.buf.len() as u64;
        self.buf.extend_from_slice(frame.unwrap_or(&self.frame[..]));
        let stats = chunk.stats;
        self.chunks.push(ChunkMeta {
            series,
            offset,
            len: chunk.len,
            raw_len: chunk.raw_len,
            ts_len: chunk.ts_len,
            crc: chunk.crc,
            ts_codec: chunk.ts_codec,
            value_codec: chunk.value_codec,
            stats,
        });
        self.min_ts = self.min_ts.min(stats.min_ts);
        self.max_ts = self.max_ts.max(stats.max_ts);
        self.points += u64::from(stats.count);
        if self.buf.len() >= WRITE_BUFFER {
            self.flush_buffer()?;
        }
        Ok(())
    }

    fn flush_buffer(&mut self) -> Result<()> {
        self.file
            .append(&self.buf)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.written += self.buf.len() as u64;
        if let Some(throttle) = &mut self.throttle {
            throttle.after_write(self.buf.len());
        }
        self.buf.clear();
        Ok(())
    }

    /// Points added so far.
    pub(crate) fn points(&self) -> u64 {
        self.points
    }

    /// Writes footer and trailer and fsyncs the file. The caller fsyncs the directory.
    pub(crate) fn finish(mut self, partition: i64, level: u8) -> Result<SegmentSummary> {
        let footer = Footer {
            partition,
            level,
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            points: self.points,
            series: self.series,
            chunks: std::mem::take(&mut self.chunks),
        };
        let raw = footer.encode();
        let footer_offset = self.written + self.buf.len() as u64;
        let tail = footer_and_trailer(
            &mut self.compressor,
            &raw,
            footer_offset,
            &MAGIC,
            VERSION,
            &self.path,
        )?;
        self.buf.extend_from_slice(&tail);
        self.flush_buffer()?;
        self.file
            .sync()
            .map_err(|e| Error::io("fsync", &self.path, e))?;
        Ok(SegmentSummary {
            min_ts: footer.min_ts,
            max_ts: footer.max_ts,
            points: footer.points,
            series: footer.series,
            bytes: self.written,
        })
    }
}
