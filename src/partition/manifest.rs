//! The manifest: which segment and catalog files are live, and where WAL replay starts.
//!
//! Replaced atomically (write a temporary file, fsync, rename, fsync the directory), so
//! after a crash it is either the old or the new version. Layout (see FORMAT.md):
//!
//! ```text
//! 0   magic      8  b"SDMANIF\x01"
//! 8   version    4  u32 LE, currently 1
//! 12  body_len   4  u32 LE
//! 16  body_crc   4  u32 LE, CRC32 of body
//! 20  body       body_len bytes, bincode of ManifestBody
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub(crate) const MAGIC: [u8; 8] = *b"SDMANIF\x01";
pub(crate) const VERSION: u32 = 1;
const HEADER_LEN: usize = 20;
/// A manifest larger than this is damaged: even a million segments fit in far less.
const MAX_BODY_LEN: usize = 256 << 20;

/// One live segment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SegmentEntry {
    /// Unique, increasing with age of creation; larger ids win on equal timestamps.
    pub id: u64,
    /// Time partition (see [`crate::partition::partition_of`]).
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
}

impl ManifestBody {
    /// Serialises the manifest file.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let body = bincode::serialize(self).expect("manifest serialisation cannot fail");
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses a manifest file; `path` names it in errors.
    pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<ManifestBody> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or_else(|| Error::corruption(path, 0, "manifest shorter than its header"))?;
        if header[..7] != MAGIC[..7] {
            return Err(Error::corruption(path, 0, "bad manifest magic"));
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version == 0 {
            return Err(Error::corruption(path, 8, "manifest version 0"));
        }
        if version > VERSION || header[7] != MAGIC[7] {
            return Err(Error::UnsupportedVersion {
                file: path.into(),
                found: version,
                supported: VERSION,
            });
        }
        let body_len =
            u32::from_le_bytes([header[12], header[13], header[14], header[15]]) as usize;
        let crc = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
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
        let body = &bytes[HEADER_LEN..];
        if crc32fast::hash(body) != crc {
            return Err(Error::corruption(
                path,
                HEADER_LEN as u64,
                "manifest checksum mismatch",
            ));
        }
        let manifest: ManifestBody = bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .with_limit(MAX_BODY_LEN as u64)
            .deserialize(body)
            .map_err(|e| {
                Error::corruption(path, HEADER_LEN as u64, format!("manifest body: {e}"))
            })?;
        Ok(manifest)
    }
}

use bincode::Options as _;

#[cfg(test)]
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
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(ManifestBody::decode(&bytes, Path::new("M")).unwrap(), m);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let bytes = sample().encode();
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
        let mut bytes = sample().encode();
        bytes[8] = 2;
        assert!(matches!(
            ManifestBody::decode(&bytes, Path::new("M")),
            Err(Error::UnsupportedVersion { found: 2, .. })
        ));
    }
}
