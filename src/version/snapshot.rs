//! A snapshot of everything a reader may look at: the version readers clone, and the
//! live segment and rollup files it holds.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::tombstone::Tombstones;
use crate::head::Head;
use crate::segment::Segment;
use crate::storage::FileSystem;

/// An immutable view: the live head (which keeps taking writes), heads frozen for a
/// flush in progress, and the live segments. Readers clone the `Arc<Version>` and so
/// never see a half-finished flush: a frozen head leaves the view in the same step as its
/// segments enter it.
pub(crate) struct Version {
    pub live: Arc<Head>,
    /// Oldest first.
    pub frozen: Vec<Arc<Head>>,
    /// Ascending segment id: on equal timestamps a later segment wins.
    pub segments: Vec<Arc<LiveSegment>>,
    /// Deletions that hide points of the segments above (and of the rollups).
    pub tombstones: Arc<Tombstones>,
    /// Live rollup files, ascending id.
    pub rollups: Vec<Arc<LiveRollup>>,
}

impl Version {
    /// This version with `tombstones` in place of its own: what a deletion's commit will
    /// publish, read before the commit to see which series it empties.
    pub(crate) fn with_tombstones(&self, tombstones: Arc<Tombstones>) -> Version {
        Version {
            live: self.live.clone(),
            frozen: self.frozen.clone(),
            segments: self.segments.clone(),
            tombstones,
            rollups: self.rollups.clone(),
        }
    }
}

/// A rollup file with its manifest entry; deleted like a [`LiveSegment`] once obsolete
/// and unused.
pub(crate) struct LiveRollup {
    pub entry: super::manifest::RollupEntry,
    pub rollup: crate::segment::rollup::Rollup,
    /// The time span `[start, end)` of its partition.
    pub span: (i64, i64),
    obsolete: Mutex<Option<(Arc<dyn FileSystem>, PathBuf)>>,
}

impl LiveRollup {
    pub(crate) fn new(
        entry: super::manifest::RollupEntry,
        rollup: crate::segment::rollup::Rollup,
        partition_duration: i64,
    ) -> LiveRollup {
        let start = entry.partition.saturating_mul(partition_duration);
        LiveRollup {
            span: (start, start.saturating_add(partition_duration)),
            entry,
            rollup,
            obsolete: Mutex::new(None),
        }
    }

    /// Deletes `path` once the last reference to this rollup is dropped.
    pub(crate) fn mark_obsolete(&self, fs: Arc<dyn FileSystem>, path: PathBuf) {
        *self.obsolete.lock() = Some((fs, path));
    }
}

impl Drop for LiveRollup {
    fn drop(&mut self) {
        if let Some((fs, path)) = self.obsolete.get_mut().take() {
            let _ = fs.remove(&path);
        }
    }
}

/// A segment with its manifest entry.
///
/// When compaction or retention takes a segment out of the manifest, it marks it
/// obsolete; the file is deleted when the last snapshot holding it lets go, so a reader
/// never loses a file under its feet. (A crash before that leaves an unlisted file, which
/// the next open removes.)
pub(crate) struct LiveSegment {
    pub entry: super::manifest::SegmentEntry,
    pub segment: Segment,
    obsolete: Mutex<Option<(Arc<dyn FileSystem>, PathBuf)>>,
}

impl LiveSegment {
    pub(crate) fn new(entry: super::manifest::SegmentEntry, segment: Segment) -> LiveSegment {
        LiveSegment {
            entry,
            segment,
            obsolete: Mutex::new(None),
        }
    }

    /// Deletes `path` once the last reference to this segment is dropped.
    pub(crate) fn mark_obsolete(&self, fs: Arc<dyn FileSystem>, path: PathBuf) {
        *self.obsolete.lock() = Some((fs, path));
    }
}

impl Drop for LiveSegment {
    fn drop(&mut self) {
        if let Some((fs, path)) = self.obsolete.get_mut().take() {
            // Best effort: a file left behind is an orphan the next open removes.
            let _ = fs.remove(&path);
        }
    }
}
