//! [`crate::Db::verify`]: decode every chunk of every live segment and recompute its
//! statistics from the decoded points, to find damage before a query or a compaction
//! trips over it (including statistics forged with recomputed checksums, which no CRC
//! check can see).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::DbInner;
use crate::error::{Error, Result};
use crate::segment::format::ChunkStats;

/// What [`crate::Db::verify`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: u64,
    /// Chunks decoded.
    pub chunks: u64,
    /// Damaged segments, one entry each (the first damage found in it).
    pub damaged: Vec<SegmentDamage>,
}

/// A damaged segment file, as [`Error::Corruption`] names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SegmentDamage {
    /// The file; pass it to [`crate::Db::quarantine_segment`] to set it aside.
    pub file: PathBuf,
    /// Where in it the damage was found.
    pub offset: u64,
    /// What was wrong.
    pub what: String,
}

pub(crate) fn verify(db: &DbInner) -> Result<VerifyReport> {
    let version = db.versions.current();
    let mut report = VerifyReport::default();
    let (mut ts, mut values) = (Vec::new(), Vec::new());
    for live in &version.segments {
        report.segments += 1;
        for chunk in live.segment.chunks() {
            db.check_open()?;
            report.chunks += 1;
            ts.clear();
            values.clear();
            match live.segment.decode_chunk(chunk, &mut ts, &mut values) {
                Ok(()) => {
                    // The CRCs only catch accidents: statistics rewritten together with
                    // their checksums decode fine and would answer queries wrongly.
                    let computed = ChunkStats::compute(&ts, &values);
                    if let Some((field, stored, actual)) = chunk.stats.first_difference(&computed) {
                        report.damaged.push(SegmentDamage {
                            file: live.segment.path().to_path_buf(),
                            offset: chunk.offset,
                            what: format!(
                                "chunk statistics of series {} disagree with its decoded points: \
                                 {field} is {stored} in the file, {actual} computed",
                                chunk.series
                            ),
                        });
                        break;
                    }
                }
                Err(Error::Corruption { file, offset, what }) => {
                    report.damaged.push(SegmentDamage { file, offset, what });
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(report)
}
