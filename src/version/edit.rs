//! One change to the live state, as the commit applies it to the manifest and to the
//! version readers see.

use std::sync::Arc;

use super::manifest::{RollupEntry, SegmentEntry};
use super::snapshot::{LiveRollup, LiveSegment};
use super::tombstone::Tombstone;
use crate::head::Head;

/// What one commit changes. Every field left at its default leaves that part as it is,
/// so each caller names only what it changes: a flush adds segments and moves the WAL
/// checkpoint, a compaction swaps segments and rollups, a deletion adds a tombstone.
#[derive(Default)]
pub(crate) struct Edit {
    /// Segment or rollup ids leaving the manifest. Their files are deleted once the last
    /// snapshot holding them lets go.
    pub remove: Vec<u64>,
    /// Segments entering it (a flush writes one per partition, a compaction at most one).
    pub add_segments: Vec<(SegmentEntry, Arc<LiveSegment>)>,
    /// Rollups entering it.
    pub add_rollups: Vec<(RollupEntry, Arc<LiveRollup>)>,
    /// Live rollups whose raw data this change drops, reopened with `raw_dropped` set:
    /// they replace the entries of the same id.
    pub raw_dropped: Vec<(RollupEntry, Arc<LiveRollup>)>,
    /// What happens to the tombstones.
    pub tombstones: TombstoneEdit,
    /// Series whose points were all deleted (replacing the list), if it changed.
    pub hidden_series: Option<Vec<u32>>,
    /// WAL files before this sequence number are covered by segments (flush).
    pub wal_checkpoint: Option<u64>,
    /// The catalog file now live and the series it holds: `(seq, series)` (flush).
    pub catalog: Option<(u64, u64)>,
    /// Frozen heads whose points the added segments hold: they leave the version in the
    /// same step as the segments enter it, so a reader never sees both or neither.
    pub retire_frozen: Vec<Arc<Head>>,
}

/// The tombstones after a commit.
#[derive(Default)]
pub(crate) enum TombstoneEdit {
    /// As they are (flush; open's quarantine, where the next compaction prunes).
    #[default]
    Keep,
    /// One more deletion.
    Add(Tombstone),
    /// Forget those that hide no point of a live segment (judged from its chunk index)
    /// and overlap no live rollup any more: compaction applied them to what it merged,
    /// retention and quarantine dropped whole files.
    Prune,
}
