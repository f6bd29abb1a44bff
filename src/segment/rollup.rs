//! Rollup files: per series, one summary per bucket of a fixed resolution (count, sum,
//! min, max, first, last with their timestamps, and the sum of squared deviations), for
//! one time partition. Written by compaction when a partition goes cold; read by queries
//! whose buckets are a multiple of the resolution. See FORMAT.md, "Rollup files".
//!
//! The file reuses the segment framing (16-byte header, one zstd frame per block, a
//! footer in a zstd frame, the 36-byte trailer) with its own magic. A block holds
//! all buckets of one series, as ten columns encoded with the segment codecs.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::bytes::{ReadError, Reader};
use crate::format::compress::Compressor;
use crate::format::frame::{
    footer_and_trailer, header, parse_framed, with_frame, FrameRef, HEADER_LEN,
};
use crate::segment::encoding::{
    decode_timestamps, decode_values, encode_timestamps, encode_values,
};
use crate::segment::format::MAX_CHUNK_POINTS;
use crate::storage::{FileBytes, FileSystem, ReadMode};

/// Magic of a rollup file; the last byte is the major format version.
pub(crate) const ROLLUP_MAGIC: [u8; 8] = *b"SDROLUP\x01";
/// Format version of rollup files.
pub(crate) const ROLLUP_VERSION: u32 = 1;
/// Columns of a block, in order.
const COLUMNS: usize = 10;
/// Bytes of one column's frame inside a decompressed block: codec u8 + length u32.
const COLUMN_HEADER: usize = 5;

/// The summary of the non-NaN points of one series in one bucket. Buckets whose points
/// are all NaN are not stored (every aggregate skips NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RollupBucket {
    /// Start of the bucket (a multiple of the resolution).
    pub start: i64,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first_ts: i64,
    pub first: f64,
    pub last_ts: i64,
    pub last: f64,
    /// Sum of squared deviations from the mean (Welford's M2).
    pub m2: f64,
}

impl RollupBucket {
    fn empty(start: i64) -> RollupBucket {
        RollupBucket {
            start,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first_ts: i64::MAX,
            first: f64::NAN,
            last_ts: i64::MIN,
            last: f64::NAN,
            m2: 0.0,
        }
    }

    /// Adds another summary of the same bucket (Chan's merge for M2).
    pub(crate) fn merge(&mut self, other: &RollupBucket) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let delta = other.sum / nb - self.sum / na;
        self.m2 += other.m2 + delta * delta * na * nb / (na + nb);
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.first_ts < self.first_ts {
            self.first_ts = other.first_ts;
            self.first = other.first;
        }
        if other.last_ts >= self.last_ts {
            self.last_ts = other.last_ts;
            self.last = other.last;
        }
    }
}

/// Summarises one series' points (sorted by time, no duplicate timestamps) into buckets
/// of `resolution`, appending to `out`. NaN values are skipped, as aggregates do.
pub(crate) fn summarise(ts: &[i64], values: &[f64], resolution: i64, out: &mut Vec<RollupBucket>) {
    // With the running mean and the sum of absolute values.
    let mut current: Option<(RollupBucket, f64, f64)> = None;
    let finish = |(mut b, _, abs_sum): (RollupBucket, f64, f64)| {
        b.sum = snap_sum(b.sum, abs_sum, b.count);
        b
    };
    for (&t, &v) in ts.iter().zip(values) {
        if v.is_nan() {
            continue;
        }
        let start = t - t.rem_euclid(resolution);
        if current.as_ref().is_some_and(|(b, ..)| b.start != start) {
            if let Some(done) = current.take() {
                out.push(finish(done));
            }
        }
        let (b, mean, abs_sum) =
            current.get_or_insert_with(|| (RollupBucket::empty(start), 0.0, 0.0));
        b.count += 1;
        b.sum += v;
        *abs_sum += v.abs();
        b.min = b.min.min(v);
        b.max = b.max.max(v);
        if t < b.first_ts {
            b.first_ts = t;
            b.first = v;
        }
        if t >= b.last_ts {
            b.last_ts = t;
            b.last = v;
        }
        let delta = v - *mean;
        *mean += delta / b.count as f64;
        b.m2 += delta * (v - *mean);
    }
    if let Some(done) = current {
        out.push(finish(done));
    }
}

/// Most decimal digits [`snap_sum`] tries.
const SNAP_DIGITS: i32 = 4;

/// The sum of decimals with few digits (most metrics) is itself such a decimal, but
/// adding them in f64 leaves rounding noise in the last bits, which makes the column
/// incompressible (the Decimal codec needs the exact double nearest a short decimal).
/// When a short decimal lies within the worst-case rounding error of the summation
/// (`n` x epsilon x the sum of absolute values), it is returned instead: for decimal
/// inputs it is the exact sum (closer than the f64 summation); otherwise it differs from
/// the f64 sum by less than any other summation order could.
fn snap_sum(sum: f64, abs_sum: f64, count: u64) -> f64 {
    if !sum.is_finite() {
        return sum;
    }
    let tolerance = count as f64 * f64::EPSILON * abs_sum;
    for digits in 0..=SNAP_DIGITS {
        let scale = 10f64.powi(digits);
        let m = (sum * scale).round();
        if m.abs() >= 9.0e15 {
            break;
        }
        let snapped = m / scale;
        if (snapped - sum).abs() <= tolerance {
            return snapped;
        }
    }
    sum
}

/// Merges two bucket lists sorted by start into `out` (cleared first).
pub(crate) fn merge_buckets(a: &[RollupBucket], b: &[RollupBucket], out: &mut Vec<RollupBucket>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.start == y.start => {
                let mut m = *x;
                m.merge(y);
                out.push(m);
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.start < y.start => {
                out.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                out.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                out.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
}

/// Where one series' block lives.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BlockMeta {
    pub series: u32,
    /// File offset of the block's zstd frame.
    pub offset: u64,
    pub len: u32,
    pub raw_len: u32,
    /// CRC32 of the compressed frame.
    pub crc: u32,
    /// Buckets in the block, 1..=65536.
    pub buckets: u32,
    /// Start of the first and of the last bucket.
    pub min_ts: i64,
    pub max_ts: i64,
}

/// The footer of a rollup file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RollupFooter {
    pub partition: i64,
    pub resolution: i64,
    /// Start of the first bucket and end (exclusive) of the last one, over all series.
    pub min_ts: i64,
    pub max_ts: i64,
    pub buckets: u64,
    pub series: u64,
    /// Sorted by series, one per series.
    pub blocks: Vec<BlockMeta>,
}

/// Bytes of the rollup footer before its block table (FORMAT.md, "Rollup files").
pub(crate) const ROLLUP_FOOTER_FIXED_LEN: usize = 7 * 8;
/// Bytes of one block table entry.
pub(crate) const BLOCK_META_LEN: usize = 4 + 8 + 4 + 4 + 4 + 4 + 8 + 8;
const _: () = assert!(ROLLUP_FOOTER_FIXED_LEN == 56 && BLOCK_META_LEN == 44);

// Written and read field by field, as the segment footer is (see `Footer::encode`).
impl RollupFooter {
    /// The footer's bytes (before compression).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(ROLLUP_FOOTER_FIXED_LEN + BLOCK_META_LEN * self.blocks.len());
        for field in [self.partition, self.resolution, self.min_ts, self.max_ts] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        for field in [self.buckets, self.series, self.blocks.len() as u64] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        for b in &self.blocks {
            out.extend_from_slice(&b.series.to_le_bytes());
            out.extend_from_slice(&b.offset.to_le_bytes());
            for field in [b.len, b.raw_len, b.crc, b.buckets] {
                out.extend_from_slice(&field.to_le_bytes());
            }
            out.extend_from_slice(&b.min_ts.to_le_bytes());
            out.extend_from_slice(&b.max_ts.to_le_bytes());
        }
        out
    }

    /// Decodes footer bytes: exactly [`ROLLUP_FOOTER_FIXED_LEN`] plus
    /// [`BLOCK_META_LEN`] per block, nothing after.
    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<RollupFooter, String> {
        let short = |e: ReadError| format!("footer {e}");
        let mut r = Reader::new(bytes);
        let partition = r.i64().map_err(short)?;
        let resolution = r.i64().map_err(short)?;
        let min_ts = r.i64().map_err(short)?;
        let max_ts = r.i64().map_err(short)?;
        let buckets = r.u64().map_err(short)?;
        let series = r.u64().map_err(short)?;
        let count = r.u64().map_err(short)?;
        if count.checked_mul(BLOCK_META_LEN as u64) != Some(r.remaining() as u64) {
            return Err(format!(
                "footer lists {count} blocks but has {} bytes for them",
                r.remaining()
            ));
        }
        let mut blocks = Vec::with_capacity(r.remaining() / BLOCK_META_LEN);
        while r.remaining() > 0 {
            let block = (|| {
                Ok::<_, ReadError>(BlockMeta {
                    series: r.u32()?,
                    offset: r.u64()?,
                    len: r.u32()?,
                    raw_len: r.u32()?,
                    crc: r.u32()?,
                    buckets: r.u32()?,
                    min_ts: r.i64()?,
                    max_ts: r.i64()?,
                })
            })()
            .map_err(short)?;
            blocks.push(block);
        }
        Ok(RollupFooter {
            partition,
            resolution,
            min_ts,
            max_ts,
            buckets,
            series,
            blocks,
        })
    }
}

/// What a finished rollup file holds.
#[derive(Debug, Clone)]
pub(crate) struct RollupSummary {
    pub min_ts: i64,
    pub max_ts: i64,
    pub buckets: u64,
    pub series: u64,
    pub bytes: u64,
}

/// Builds a rollup file in memory (it is small next to the raw data it summarises) and
/// writes it in one go.
pub(crate) struct RollupWriter {
    resolution: i64,
    compressor: Compressor,
    buf: Vec<u8>,
    raw: Vec<u8>,
    blocks: Vec<BlockMeta>,
    buckets: u64,
    min_ts: i64,
    max_ts: i64,
}

impl RollupWriter {
    pub(crate) fn new(resolution: i64, zstd_level: i32) -> Result<RollupWriter> {
        let compressor =
            Compressor::new(zstd_level).map_err(|e| Error::Internal(format!("zstd init: {e}")))?;
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(&header(&ROLLUP_MAGIC, ROLLUP_VERSION));
        Ok(RollupWriter {
            resolution,
            compressor,
            buf,
            raw: Vec::new(),
            blocks: Vec::new(),
            buckets: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
        })
    }

    /// Adds one series' buckets (ascending start, at most 65536). Series must arrive in
    /// ascending id order.
    pub(crate) fn add_series(&mut self, series: u32, buckets: &[RollupBucket]) -> Result<()> {
        let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
            return Ok(());
        };
        if self.blocks.last().is_some_and(|b| b.series >= series)
            || buckets.len() > MAX_CHUNK_POINTS as usize
            || buckets
                .windows(2)
                .any(|w| matches!(w, [a, b] if a.start >= b.start))
        {
            return Err(Error::Internal(format!(
                "rollup of series {series} added out of order"
            )));
        }
        self.raw.clear();
        let ts_col = |f: fn(&RollupBucket) -> i64| buckets.iter().map(f).collect::<Vec<i64>>();
        let val_col = |f: fn(&RollupBucket) -> f64| buckets.iter().map(f).collect::<Vec<f64>>();
        for col in [
            ts_col(|b| b.start),
            ts_col(|b| b.first_ts),
            ts_col(|b| b.last_ts),
        ] {
            put_column(&mut self.raw, |out| encode_timestamps(&col, out) as u8);
        }
        for col in [
            val_col(|b| b.count as f64),
            val_col(|b| b.sum),
            val_col(|b| b.min),
            val_col(|b| b.max),
            val_col(|b| b.first),
            val_col(|b| b.last),
            val_col(|b| b.m2),
        ] {
            put_column(&mut self.raw, |out| encode_values(&col, out) as u8);
        }
        let frame = self
            .compressor
            .compress(&self.raw)
            .map_err(|e| Error::Internal(format!("zstd compress: {e}")))?;
        self.blocks.push(BlockMeta {
            series,
            offset: self.buf.len() as u64,
            len: frame.len() as u32,
            raw_len: self.raw.len() as u32,
            crc: crc32fast::hash(&frame),
            buckets: buckets.len() as u32,
            min_ts: first.start,
            max_ts: last.start,
        });
        self.buf.extend_from_slice(&frame);
        self.buckets += buckets.len() as u64;
        self.min_ts = self.min_ts.min(first.start);
        self.max_ts = self.max_ts.max(last.start.saturating_add(self.resolution));
        Ok(())
    }

    /// Writes the file at `path` (which must not exist) and fsyncs it; `None` when no
    /// series was added (no file is written). The caller fsyncs the directory.
    pub(crate) fn finish(
        mut self,
        fs: &dyn FileSystem,
        path: &Path,
        partition: i64,
    ) -> Result<Option<RollupSummary>> {
        if self.blocks.is_empty() {
            return Ok(None);
        }
        let footer = RollupFooter {
            partition,
            resolution: self.resolution,
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            buckets: self.buckets,
            series: self.blocks.len() as u64,
            blocks: std::mem::take(&mut self.blocks),
        };
        let raw = footer.encode();
        let footer_offset = self.buf.len() as u64;
        let tail = footer_and_trailer(
            &mut self.compressor,
            &raw,
            footer_offset,
            &ROLLUP_MAGIC,
            ROLLUP_VERSION,
            path,
        )?;
        self.buf.extend_from_slice(&tail);
        let file = fs
            .create_new(path)
            .map_err(|e| Error::io("create", path, e))?;
        file.append(&self.buf)
            .map_err(|e| Error::io("write", path, e))?;
        file.sync().map_err(|e| Error::io("fsync", path, e))?;
        Ok(Some(RollupSummary {
            min_ts: footer.min_ts,
            max_ts: footer.max_ts,
            buckets: footer.buckets,
            series: footer.series,
            bytes: self.buf.len() as u64,
        }))
    }
}

/// Appends a column frame: codec byte, u32 length, then the bytes `encode` appends.
fn put_column(raw: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>) -> u8) {
    let at = raw.len();
    raw.extend_from_slice(&[0; COLUMN_HEADER]);
    let codec = encode(raw);
    let [a, b, c, d] = ((raw.len() - at - COLUMN_HEADER) as u32).to_le_bytes();
    if let Some(header) = raw.get_mut(at..at + COLUMN_HEADER) {
        header.copy_from_slice(&[codec, a, b, c, d]);
    }
}

/// An open, validated rollup file.
pub(crate) struct Rollup {
    path: PathBuf,
    bytes: FileBytes,
    footer: RollupFooter,
}

impl std::fmt::Debug for Rollup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollup")
            .field("path", &self.path)
            .field("blocks", &self.footer.blocks.len())
            .finish()
    }
}

/// Largest decompressed block of `buckets` buckets: ten column frames, none of whose
/// codecs spends more than 10 bytes a value plus a small header.
fn max_block_raw_len(buckets: u32) -> u64 {
    COLUMNS as u64 * (COLUMN_HEADER as u64 + 64 + 10 * u64::from(buckets))
}

impl Rollup {
    /// Opens and validates `path`: framing, footer, and every block's placement.
    /// Block checksums are verified when a block is decoded.
    pub(crate) fn open(fs: &dyn FileSystem, path: &Path, mode: ReadMode) -> Result<Rollup> {
        let bytes = fs
            .open_bytes(path, mode)
            .map_err(|e| Error::io("open", path, e))?;
        let framed = parse_framed(&bytes, path, &ROLLUP_MAGIC, ROLLUP_VERSION)?;
        let footer_offset = framed.footer_offset;
        let footer = RollupFooter::decode(&framed.footer).map_err(|e| {
            Error::corruption(path, footer_offset, format!("footer does not decode: {e}"))
        })?;
        validate_footer(&footer, footer_offset, path)?;
        Ok(Rollup {
            path: path.to_owned(),
            bytes,
            footer,
        })
    }

    pub(crate) fn resolution(&self) -> i64 {
        self.footer.resolution
    }

    /// Every block, sorted by series.
    pub(crate) fn blocks(&self) -> &[BlockMeta] {
        &self.footer.blocks
    }

    /// The block of `series`, if it has one.
    pub(crate) fn block(&self, series: u32) -> Option<&BlockMeta> {
        let blocks = &self.footer.blocks;
        let i = blocks.partition_point(|b| b.series < series);
        blocks.get(i).filter(|b| b.series == series)
    }

    /// Decodes one block, appending its buckets to `out`.
    pub(crate) fn decode_block(
        &self,
        block: &BlockMeta,
        out: &mut Vec<RollupBucket>,
    ) -> Result<()> {
        let frame = FrameRef {
            offset: block.offset,
            len: block.len,
            raw_len: block.raw_len,
            crc: block.crc,
        };
        with_frame(&self.bytes, &self.path, frame, "rollup block", |raw| {
            self.decode_columns(block, raw, out)
        })
    }

    /// Decodes the ten columns of a decompressed block into buckets.
    fn decode_columns(
        &self,
        block: &BlockMeta,
        raw: &[u8],
        out: &mut Vec<RollupBucket>,
    ) -> Result<()> {
        let at = block.offset;
        let corrupt = |what: String| Error::corruption(&self.path, at, what);
        let n = block.buckets as usize;
        let mut rest = raw;
        let mut ts_cols: [Vec<i64>; 3] = Default::default();
        let mut val_cols: [Vec<f64>; 7] = Default::default();
        for (i, col) in ts_cols.iter_mut().enumerate() {
            let (codec, bytes) =
                take_column(&mut rest).ok_or_else(|| corrupt(format!("column {i} truncated")))?;
            decode_timestamps(codec, bytes, n, col)
                .map_err(|e| corrupt(format!("column {i}: {}", e.0)))?;
        }
        for (i, col) in val_cols.iter_mut().enumerate() {
            let (codec, bytes) = take_column(&mut rest)
                .ok_or_else(|| corrupt(format!("column {} truncated", i + 3)))?;
            decode_values(codec, bytes, n, col)
                .map_err(|e| corrupt(format!("column {}: {}", i + 3, e.0)))?;
        }
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes after the rollup columns".into()));
        }
        let [starts, first_ts, last_ts] = &ts_cols;
        let [count, sum, min, max, first, last, m2] = &val_cols;
        let res = self.footer.resolution;
        out.reserve(n);
        let mut previous_start = None;
        for i in 0..n {
            let ts = |col: &[i64]| col.get(i).copied();
            let val = |col: &[f64]| col.get(i).copied();
            let (Some(start), Some(first_ts), Some(last_ts)) =
                (ts(starts), ts(first_ts), ts(last_ts))
            else {
                return Err(corrupt(format!("rollup bucket {i} is missing")));
            };
            let (Some(count), Some(sum), Some(min), Some(max)) =
                (val(count), val(sum), val(min), val(max))
            else {
                return Err(corrupt(format!("rollup bucket {i} is missing")));
            };
            let (Some(first), Some(last), Some(m2)) = (val(first), val(last), val(m2)) else {
                return Err(corrupt(format!("rollup bucket {i} is missing")));
            };
            let end = start.saturating_add(res);
            let ok = start.rem_euclid(res) == 0
                && previous_start.is_none_or(|p| p < start)
                && (start..end).contains(&first_ts)
                && (first_ts..end).contains(&last_ts)
                && count >= 1.0
                && count <= MAX_CHUNK_POINTS as f64 * 1e6
                && count.fract() == 0.0;
            if !ok {
                return Err(corrupt(format!("rollup bucket {i} is inconsistent")));
            }
            previous_start = Some(start);
            out.push(RollupBucket {
                start,
                count: count as u64,
                sum,
                min,
                max,
                first_ts,
                first,
                last_ts,
                last,
                m2,
            });
        }
        if starts.first() != Some(&block.min_ts) || starts.last() != Some(&block.max_ts) {
            return Err(corrupt(
                "rollup buckets disagree with the block index".into(),
            ));
        }
        Ok(())
    }
}

fn take_column<'a>(rest: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let mut r = Reader::new(rest);
    let codec = r.u8().ok()?;
    let len = usize::try_from(r.u32().ok()?).ok()?;
    let bytes = r.take(len).ok()?;
    *rest = r.rest();
    Some((codec, bytes))
}

fn validate_footer(footer: &RollupFooter, footer_offset: u64, path: &Path) -> Result<()> {
    let bad = |what: String| Error::corruption(path, footer_offset, what);
    let res = footer.resolution;
    if res <= 0 {
        return Err(bad(format!("rollup resolution {res}")));
    }
    let mut buckets = 0u64;
    let mut prev: Option<u32> = None;
    for (i, b) in footer.blocks.iter().enumerate() {
        if prev.is_some_and(|p| p >= b.series) {
            return Err(bad(format!("block {i}: blocks out of order")));
        }
        prev = Some(b.series);
        if b.buckets == 0 || b.buckets > MAX_CHUNK_POINTS {
            return Err(bad(format!("block {i}: bad bucket count {}", b.buckets)));
        }
        if b.offset < HEADER_LEN as u64 || b.offset.saturating_add(u64::from(b.len)) > footer_offset
        {
            return Err(bad(format!("block {i}: bytes outside the block area")));
        }
        if u64::from(b.raw_len) > max_block_raw_len(b.buckets) {
            return Err(bad(format!("block {i}: implausible decoded length")));
        }
        if b.min_ts > b.max_ts
            || b.min_ts < footer.min_ts
            || b.max_ts.saturating_add(res) > footer.max_ts
            || (b.buckets == 1) != (b.min_ts == b.max_ts)
        {
            return Err(bad(format!("block {i}: bucket span inconsistent")));
        }
        buckets += u64::from(b.buckets);
    }
    if buckets != footer.buckets || footer.blocks.len() as u64 != footer.series {
        return Err(bad("rollup footer totals disagree with its blocks".into()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::storage::OsFileSystem;

    #[test]
    fn summaries_round_trip_through_a_file() {
        let fs = OsFileSystem;
        let dir = tempfile::tempdir().unwrap();
        let path = &dir.path().join("r.seg");
        let ts: Vec<i64> = (0..1000).map(|i| i * 7).collect();
        let vals: Vec<f64> = (0..1000)
            .map(|i| {
                if i % 97 == 0 {
                    f64::NAN
                } else {
                    (i % 13) as f64 * 0.5
                }
            })
            .collect();
        let mut buckets = Vec::new();
        summarise(&ts, &vals, 100, &mut buckets);
        assert_eq!(buckets.len(), 70);
        let total: u64 = buckets.iter().map(|b| b.count).sum();
        assert_eq!(total, 1000 - 11);
        let mut w = RollupWriter::new(100, 3).unwrap();
        w.add_series(3, &buckets).unwrap();
        w.add_series(9, &buckets[..5]).unwrap();
        assert!(w.add_series(9, &buckets).is_err());
        let summary = w.finish(&fs, path, 0).unwrap().unwrap();
        assert_eq!(summary.buckets, 75);
        let r = Rollup::open(&fs, path, ReadMode::Buffered).unwrap();
        assert!(r.block(4).is_none());
        let mut back = Vec::new();
        r.decode_block(r.block(3).unwrap(), &mut back).unwrap();
        assert_eq!(back.len(), buckets.len());
        for (a, b) in back.iter().zip(&buckets) {
            assert_eq!(a.start, b.start);
            assert_eq!(a.count, b.count);
            assert_eq!(a.sum.to_bits(), b.sum.to_bits());
            assert_eq!((a.first_ts, a.last_ts), (b.first_ts, b.last_ts));
            assert_eq!(a.m2.to_bits(), b.m2.to_bits());
        }
    }

    #[test]
    fn sums_of_short_decimals_are_exact_and_others_barely_move() {
        let cents: Vec<f64> = (0..30)
            .map(|i| f64::from(i * 37 % 1000) / 100.0 + 0.01)
            .collect();
        let ts: Vec<i64> = (0..30).collect();
        let mut b = Vec::new();
        summarise(&ts, &cents, 100, &mut b);
        let exact: i64 = (0..30).map(|i| i64::from(i * 37 % 1000) + 1).sum();
        assert_eq!(b[0].sum, exact as f64 / 100.0);
        let mut enc = Vec::new();
        assert_eq!(
            encode_values(&[b[0].sum, b[0].sum + 1.25], &mut enc),
            crate::segment::encoding::ValueCodec::Decimal
        );
        let odd: Vec<f64> = (0..30)
            .map(|i| (f64::from(i) * 0.731).sin() / 3.0)
            .collect();
        let naive: f64 = odd.iter().sum();
        b.clear();
        summarise(&ts, &odd, 100, &mut b);
        assert!((b[0].sum - naive).abs() <= 30.0 * f64::EPSILON * 10.0);
    }

    #[test]
    fn merged_summaries_equal_one_summary() {
        let ts: Vec<i64> = (0..500).map(|i| i * 3).collect();
        let vals: Vec<f64> = (0..500).map(|i| ((i * 37) % 101) as f64).collect();
        let mut whole = Vec::new();
        summarise(&ts, &vals, 50, &mut whole);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        summarise(&ts[..251], &vals[..251], 50, &mut a);
        summarise(&ts[251..], &vals[251..], 50, &mut b);
        let mut merged = Vec::new();
        merge_buckets(&a, &b, &mut merged);
        assert_eq!(merged.len(), whole.len());
        for (m, w) in merged.iter().zip(&whole) {
            assert_eq!(
                (m.start, m.count, m.min, m.max),
                (w.start, w.count, w.min, w.max)
            );
            assert_eq!((m.first, m.last), (w.first, w.last));
            assert!((m.sum - w.sum).abs() < 1e-9);
            assert!((m.m2 - w.m2).abs() <= 1e-9 * w.m2.abs().max(1.0));
        }
    }

    #[test]
    fn damage_is_reported_not_panicked_on() {
        let fs = OsFileSystem;
        let dir = tempfile::tempdir().unwrap();
        let path = &dir.path().join("r.seg");
        let mut buckets = Vec::new();
        summarise(&[1, 2, 150], &[1.0, 2.0, 3.0], 100, &mut buckets);
        let mut w = RollupWriter::new(100, 3).unwrap();
        w.add_series(1, &buckets).unwrap();
        w.finish(&fs, path, 0).unwrap();
        let good = fs.read(path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            let p = dir.path().join(format!("bad{i}"));
            let f = fs.create_new(&p).unwrap();
            f.append(&bad).unwrap();
            match Rollup::open(&fs, &p, ReadMode::Buffered) {
                Err(_) => {}
                Ok(r) => {
                    let mut out = Vec::new();
                    let block = r.blocks()[0].clone();
                    assert!(r.decode_block(&block, &mut out).is_err(), "byte {i}");
                }
            }
        }
    }
}
