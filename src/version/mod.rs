//! The live state of a database and its only commit path.
//!
//! A [`VersionSet`] holds the manifest as last written, the [`Version`] readers clone,
//! the directory layout and the commit lock. Everything that changes which files are
//! live (flush, compaction, retention, deletion, quarantine, and open when it sets
//! damaged segments aside) takes the lock and calls [`VersionSet::commit`] with an
//! [`Edit`]: the manifest is written atomically first, then the new version is published
//! and the files it no longer holds are marked for deletion. Readers keep the snapshot
//! they cloned, so a file leaves the disk only once no reader uses it.
//!
//! Below `db` and `compaction`, above the file formats: both of those use it, and it
//! uses neither.

mod edit;
pub(crate) mod layout;
pub(crate) mod manifest;
pub(crate) mod partition;
mod snapshot;
mod tombstone;

use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use crate::error::Result;
use crate::head::Head;
use crate::storage::{write_atomic, FileSystem};

pub(crate) use edit::{Edit, TombstoneEdit};
pub(crate) use layout::Layout;
pub(crate) use manifest::ManifestBody;
pub(crate) use snapshot::{LiveRollup, LiveSegment, Version};
pub(crate) use tombstone::{Tombstone, Tombstones};

/// The manifest, the current version, the directory layout and the commit lock.
pub(crate) struct VersionSet {
    fs: Arc<dyn FileSystem>,
    layout: Layout,
    current: RwLock<Arc<Version>>,
    /// The manifest as last written. Changed only under the commit lock.
    manifest: Mutex<ManifestBody>,
    /// One commit (and the work that prepares it: a flush, the planning and publishing
    /// steps of a compaction) at a time.
    commit_lock: Mutex<()>,
}

/// Proof that the commit lock is held; the calls that change the live state take it.
pub(crate) struct CommitGuard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

impl VersionSet {
    /// The live state of a database just opened: `manifest` as read (or created), and
    /// `version` built from it.
    pub(crate) fn new(
        fs: Arc<dyn FileSystem>,
        layout: Layout,
        manifest: ManifestBody,
        version: Version,
    ) -> VersionSet {
        VersionSet {
            fs,
            layout,
            current: RwLock::new(Arc::new(version)),
            manifest: Mutex::new(manifest),
            commit_lock: Mutex::new(()),
        }
    }

    /// The paths of the database directory.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The version readers see now.
    pub(crate) fn current(&self) -> Arc<Version> {
        self.current.read().clone()
    }

    /// The current version, held: a flush cannot freeze the live head meanwhile. The
    /// write path inserts into the live head under this, so that every point logged in
    /// a WAL file before a flush's checkpoint is in a head that flush freezes.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Arc<Version>> {
        self.current.read()
    }

    /// A copy of the manifest as last written.
    pub(crate) fn manifest(&self) -> ManifestBody {
        self.manifest.lock().clone()
    }

    /// Takes the commit lock, waiting for a commit in progress.
    pub(crate) fn lock(&self) -> CommitGuard<'_> {
        CommitGuard(self.commit_lock.lock())
    }

    /// Hands out the next file id (segment or rollup). Ids handed out are never handed
    /// out again, even if the file is never committed: a failure after a manifest rename
    /// may leave that manifest on disk naming the id, and a later file reusing it would
    /// be removed as the first one's leftover.
    pub(crate) fn reserve_id(&self, _lock: &CommitGuard<'_>) -> u64 {
        let mut manifest = self.manifest.lock();
        let id = manifest.next_segment_id;
        manifest.next_segment_id += 1;
        id
    }

    /// The id [`VersionSet::reserve_id`] would hand out next.
    pub(crate) fn next_id(&self, _lock: &CommitGuard<'_>) -> u64 {
        self.manifest.lock().next_segment_id
    }

    /// Marks every id below `next` as handed out.
    pub(crate) fn reserve_until(&self, _lock: &CommitGuard<'_>, next: u64) {
        let mut manifest = self.manifest.lock();
        manifest.next_segment_id = manifest.next_segment_id.max(next);
    }

    /// Freezes the live head for a flush: a fresh live head takes the writes from now
    /// on, and the old one joins the frozen heads (returned, oldest first) until the
    /// commit that adds its segments retires it. Changes no file.
    pub(crate) fn freeze_live(&self, _lock: &CommitGuard<'_>) -> Vec<Arc<Head>> {
        let mut slot = self.current.write();
        let mut frozen = slot.frozen.clone();
        frozen.push(slot.live.clone());
        *slot = Arc::new(Version {
            live: Arc::new(Head::new()),
            frozen: frozen.clone(),
            segments: slot.segments.clone(),
            tombstones: slot.tombstones.clone(),
            rollups: slot.rollups.clone(),
        });
        frozen
    }

    /// For a read-only open: makes `manifest` and `version`, loaded from what another
    /// process committed, the current state. Writes nothing (the read-only open's
    /// refresh is the one caller; every change there is refused).
    pub(crate) fn adopt(&self, _lock: &CommitGuard<'_>, manifest: ManifestBody, version: Version) {
        *self.manifest.lock() = manifest;
        *self.current.write() = Arc::new(version);
    }

    /// Applies `edit`: writes the new manifest atomically (durable when this returns),
    /// then publishes the new version and marks the files it no longer holds for
    /// deletion once unused. On error nothing changed in memory, and the files the edit
    /// adds are the caller's to remove.
    pub(crate) fn commit(&self, _lock: &CommitGuard<'_>, edit: Edit) -> Result<()> {
        let Edit {
            remove,
            add_segments,
            add_rollups,
            raw_dropped,
            tombstones,
            hidden_series,
            wal_checkpoint,
            catalog,
            retire_frozen,
        } = edit;
        let mut manifest = self.manifest.lock().clone();
        manifest.generation += 1;
        if let Some(checkpoint) = wal_checkpoint {
            manifest.wal_checkpoint = checkpoint;
        }
        if let Some((seq, series)) = catalog {
            manifest.catalog_seq = seq;
            manifest.catalog_series = series;
        }
        if let Some(hidden) = hidden_series {
            manifest.hidden_series = hidden;
        }
        manifest.segments.retain(|s| !remove.contains(&s.id));
        if !add_segments.is_empty() {
            manifest
                .segments
                .extend(add_segments.iter().map(|(e, _)| e.clone()));
            manifest.segments.sort_by_key(|s| s.id);
        }
        let replaced: Vec<u64> = raw_dropped.iter().map(|(e, _)| e.id).collect();
        if !remove.is_empty() || !add_rollups.is_empty() || !replaced.is_empty() {
            manifest
                .rollups
                .retain(|r| !remove.contains(&r.id) && !replaced.contains(&r.id));
            manifest.rollups.extend(
                add_rollups
                    .iter()
                    .chain(&raw_dropped)
                    .map(|(e, _)| e.clone()),
            );
            manifest.rollups.sort_by_key(|r| r.id);
        }

        // No other commit can run (the caller holds the lock), so `old` differs from the
        // version published below only by a new live head a flush cannot have frozen.
        let old = self.current();
        let mut segments: Vec<Arc<LiveSegment>> = old
            .segments
            .iter()
            .filter(|s| !remove.contains(&s.entry.id))
            .cloned()
            .collect();
        if !add_segments.is_empty() {
            segments.extend(add_segments.into_iter().map(|(_, s)| s));
            segments.sort_by_key(|s| s.entry.id);
        }
        let mut rollups: Vec<Arc<LiveRollup>> = old
            .rollups
            .iter()
            .filter(|r| !remove.contains(&r.entry.id) && !replaced.contains(&r.entry.id))
            .cloned()
            .collect();
        rollups.extend(add_rollups.into_iter().chain(raw_dropped).map(|(_, r)| r));
        rollups.sort_by_key(|r| r.entry.id);
        let tombstones = match tombstones {
            TombstoneEdit::Keep => old.tombstones.clone(),
            TombstoneEdit::Add(tombstone) => {
                let mut all = (*old.tombstones).clone();
                all.push(tombstone);
                manifest.tombstones = all.to_entries();
                Arc::new(all)
            }
            TombstoneEdit::Prune => {
                let mut all = Tombstones::from_entries(&manifest.tombstones);
                let rollup_spans: Vec<(u64, i64, i64)> = manifest
                    .rollups
                    .iter()
                    .map(|r| (r.id, r.min_ts, r.max_ts.saturating_sub(1)))
                    .collect();
                all.prune(
                    segments.iter().map(|s| (s.entry.id, s.segment.chunks())),
                    &rollup_spans,
                );
                manifest.tombstones = all.to_entries();
                Arc::new(all)
            }
        };

        write_atomic(&*self.fs, &self.layout.manifest, &manifest.encode()?)?;
        *self.manifest.lock() = manifest;

        let mut slot = self.current.write();
        for s in old.segments.iter().filter(|s| remove.contains(&s.entry.id)) {
            s.mark_obsolete(self.fs.clone(), self.layout.segment_file(s.entry.id));
        }
        for r in old.rollups.iter().filter(|r| remove.contains(&r.entry.id)) {
            r.mark_obsolete(self.fs.clone(), self.layout.segment_file(r.entry.id));
        }
        let current = slot.clone();
        *slot = Arc::new(Version {
            live: current.live.clone(),
            frozen: current
                .frozen
                .iter()
                .filter(|h| !retire_frozen.iter().any(|f| Arc::ptr_eq(f, h)))
                .cloned()
                .collect(),
            segments,
            tombstones,
            rollups,
        });
        Ok(())
    }
}
