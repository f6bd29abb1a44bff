//! The manifest: which segment and catalog files are live, and where WAL replay starts.
//!
//! Replaced atomically (write a temporary file, fsync, rename, fsync the directory), so
//! after a crash it is either the old or the new version. The byte layout is in
//! FORMAT.md ("Manifest"), the one description of it.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::bytes::u32_at;
use crate::format::frame::{from_bincode, to_bincode};

pub(crate) const MAGIC: [u8; 8] = *b"SDMANIF\x01";
pub(crate) const VERSION: u32 = 2;
/// The first version, whose body ends after `hidden_series`.
const VERSION_NO_ROLLUPS: u32 = 1;
const HEADER_LEN: usize = 20;
/// A manifest larger than this is damaged: even a million segments fit in far less.
const MAX_BODY_LEN: usize = 256 << 20;

/// One live segment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SegmentEntry {
    /// Unique, increasing with age of creation; larger ids win on equal timestamps.
    pub id: u64,
    /// Time partition (see [`crate::version::partition::partition_of`]).
    pub partition: i64,
    /// 0 = written by a flush; higher = produced by compaction.
    pub level: u8,
    pub min_ts: i64,
    pub max_ts: i64,
    pub points: u64,
    pub series: u64,
    pub bytes: u64,
}

/// A deletion: points of `series` in `[start, end)` are hidden in segments with an id up
/// to `max_segment_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TombstoneEntry {
    pub series: Vec<u32>,
    pub start: i64,
    pub end: i64,
    pub max_segment_id: u64,
}

/// One live rollup file (`segments/{id:020}.seg`, see FORMAT.md "Rollup files"): the
/// buckets of `resolution` of one partition, summarising the raw segments of that
/// partition with smaller ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RollupEntry {
    /// From the segment id sequence: larger than the raw segment written with it.
    pub id: u64,
    pub partition: i64,
    /// Bucket width in nanoseconds.
    pub resolution: i64,
    /// Start of the first bucket, end (exclusive) of the last.
    pub min_ts: i64,
    pub max_ts: i64,
    pub buckets: u64,
    pub series: u64,
    pub bytes: u64,
    /// The raw segments this rollup summarised were dropped by retention: the rollup is
    /// the only copy of that data, and a later compaction of the partition merges new
    /// raw points into it instead of rebuilding it.
    pub raw_dropped: bool,
}

/// Version 1 of the body (no rollups).
#[derive(Deserialize)]
struct ManifestBodyV1 {
    generation: u64,
    next_segment_id: u64,
    wal_checkpoint: u64,
    catalog_seq: u64,
    catalog_series: u64,
    segments: Vec<SegmentEntry>,
    tombstones: Vec<TombstoneEntry>,
    hidden_series: Vec<u32>,
}

/// Everything the manifest records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ManifestBody {
    /// Incremented on every write of the manifest.
    pub generation: u64,
    /// Next segment id to hand out.
    pub next_segment_id: u64,
    /// WAL files with a smaller sequence number are wholly contained in the segments and
    /// catalog listed here; replay starts at this sequence number.
    pub wal_checkpoint: u64,
    /// Sequence number of the live catalog file (0 = none yet).
    pub catalog_seq: u64,
    /// Series in that catalog file.
    pub catalog_series: u64,
    pub segments: Vec<SegmentEntry>,
    /// Deletions not yet carried out by compaction.
    pub tombstones: Vec<TombstoneEntry>,
    /// Series whose points were all deleted: left out of listings and selections until
    /// they are written again.
    pub hidden_series: Vec<u32>,
    /// Live rollup files (version 2).
    pub rollups: Vec<RollupEntry>,
}

impl ManifestBody {
    /// Serialises the manifest file.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let body = to_bincode(self)?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parses a manifest file; `path` names it in errors.
    pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<ManifestBody> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or_else(|| Error::corruption(path, 0, "manifest shorter than its header"))?;
        if header.get(..7) != MAGIC.get(..7) {
            return Err(Error::corruption(path, 0, "bad manifest magic"));
        }
        let field = |at: usize| {
            u32_at(header, at)
                .ok_or_else(|| Error::corruption(path, 0, "manifest shorter than its header"))
        };
        let version = field(8)?;
        if version == 0 {
            return Err(Error::corruption(path, 8, "manifest version 0"));
        }
        if version > VERSION || header.get(7) != MAGIC.get(7) {
            return Err(Error::UnsupportedVersion {
                file: path.into(),
                found: version,
                supported: VERSION,
            });
        }
        let body_len = field(12)? as usize;
        let crc = field(16)?;
        if body_len > MAX_BODY_LEN || bytes.len() != HEADER_LEN + body_len {
            return Err(Error::corruption(
                path,
                12,
                format!(
                    "body length {body_len} does not match file length {}",
                    bytes.len()
                ),
            ));
        }
        let body = bytes.get(HEADER_LEN..).unwrap_or_default();
        if crc32fast::hash(body) != crc {
            return Err(Error::corruption(
                path,
                HEADER_LEN as u64,
                "manifest checksum mismatch",
            ));
        }
        let bad_body = |e: bincode::Error| {
            Error::corruption(path, HEADER_LEN as u64, format!("manifest body: {e}"))
        };
        if version == VERSION_NO_ROLLUPS {
            let v1: ManifestBodyV1 = from_bincode(body).map_err(bad_body)?;
            return Ok(ManifestBody {
                generation: v1.generation,
                next_segment_id: v1.next_segment_id,
                wal_checkpoint: v1.wal_checkpoint,
                catalog_seq: v1.catalog_seq,
                catalog_series: v1.catalog_series,
                segments: v1.segments,
                tombstones: v1.tombstones,
                hidden_series: v1.hidden_series,
                rollups: Vec::new(),
            });
        }
        let manifest: ManifestBody = from_bincode(body).map_err(bad_body)?;
        Ok(manifest)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sample() -> ManifestBody {
        ManifestBody {
            generation: 7,
            next_segment_id: 3,
            wal_checkpoint: 5,
            catalog_seq: 2,
            catalog_series: 10,
            segments: vec![SegmentEntry {
                id: 1,
                partition: 16801,
                level: 0,
                min_ts: 10,
                max_ts: 20,
                points: 100,
                series: 10,
                bytes: 1234,
            }],
            tombstones: vec![TombstoneEntry {
                series: vec![1, 5],
                start: -10,
                end: 30,
                max_segment_id: 1,
            }],
            hidden_series: vec![5],
            rollups: vec![RollupEntry {
                id: 2,
                partition: 16801,
                resolution: 300_000_000_000,
                min_ts: 0,
                max_ts: 300_000_000_000,
                buckets: 1,
                series: 1,
                bytes: 99,
                raw_dropped: true,
            }],
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let bytes = m.encode().unwrap();
        assert_eq!(ManifestBody::decode(&bytes, Path::new("M")).unwrap(), m);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let bytes = sample().encode().unwrap();
        for len in 0..bytes.len() {
            assert!(ManifestBody::decode(&bytes[..len], Path::new("M")).is_err());
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(
                    ManifestBody::decode(&b, Path::new("M")).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn newer_version_is_refused() {
        let mut bytes = sample().encode().unwrap();
        bytes[8] = 3;
        assert!(matches!(
            ManifestBody::decode(&bytes, Path::new("M")),
            Err(Error::UnsupportedVersion { found: 3, .. })
        ));
    }

    #[test]
    fn version_1_manifests_are_still_read() {
        // A version 1 body is a version 2 body without the trailing rollup list.
        let mut m = sample();
        m.rollups.clear();
        let body = bincode::serialize(&m).unwrap();
        let v1_body = &body[..body.len() - 8];
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(v1_body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(v1_body).to_le_bytes());
        bytes.extend_from_slice(v1_body);
        assert_eq!(ManifestBody::decode(&bytes, Path::new("M")).unwrap(), m);
    }
}
