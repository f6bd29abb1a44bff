//! Compaction and retention: pure plans (`plan`) and the worker that carries them out.
//!
//! A compaction merges all segments of one time partition into one, resolving overlaps
//! (the newer segment wins on equal timestamps) and re-encoding for the partition's tier:
//! warm partitions keep the flush encoding, cold ones get a higher zstd level and larger
//! chunks. Tombstones are applied while merging, and a partition whose segments hold
//! points a tombstone hides is rewritten even when already compacted. The result is
//! swapped in through the manifest; readers keep their snapshot, and the input files are
//! deleted once no snapshot uses them. A cold compaction also writes the partition's
//! rollups (see `rollup`), in the same commit (`crate::version::VersionSet::commit`).

pub(crate) mod plan;
mod rollup;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::index::Catalog;
use crate::options::Options;
use crate::version::VersionSet;

pub(crate) use worker::{apply_retention, compact, compact_partition, retention_now};
pub use worker::{CompactionReport, RetentionReport, SkippedPartition, Tier};

/// What the worker needs of a database: its options, the catalog (for the rollup
/// policies' selectors), the live state it commits to, and whether the database was
/// closed (checked under the commit lock, so nothing commits after close).
pub(crate) struct Context<'a> {
    pub(crate) opts: &'a Options,
    pub(crate) catalog: &'a Catalog,
    pub(crate) versions: &'a VersionSet,
    pub(crate) closed: &'a AtomicBool,
}

impl Context<'_> {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }
}
