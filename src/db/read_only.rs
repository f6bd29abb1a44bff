//! Read-only opens: a consistent snapshot of a database another process may be writing.
//!
//! Nothing is locked, written, created, truncated or deleted. The manifest, catalog,
//! segments and rollups are read as the manifest names them, and the WAL from its
//! checkpoint is replayed into memory with [`wal::replay_read_only`] (the newest file's
//! torn tail, usually the record the writer is appending, is skipped, not cut).
//!
//! The writer changes the directory while we read it, in one order (see `flush.rs` and
//! the compaction): new files first, then the manifest renamed into place, then the WAL
//! files and segments the new manifest no longer needs are removed. So a snapshot is
//! consistent when the manifest it started from is still the manifest once everything
//! has been read: no removal that manifest did not already allow can have happened
//! before our reads. Otherwise (or when a file vanished under a read, the mark of such a
//! removal) the load starts again from the new manifest.
//!
//! Every WAL record is one whole batch (or one whole set of new series), so a snapshot
//! holds each batch entirely or not at all.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};

use super::open::{apply_wal_entry, open_rollup, read_catalog, Replayed};
use super::{DbInner, FlushRequest, RecoveryReport, NEXT_DB_TAG};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::index::Catalog;
use crate::options::Options;
use crate::segment::Segment;
use crate::storage::FileSystem;
use crate::version::layout::{Layout, MANIFEST_FILE};
use crate::version::{LiveRollup, LiveSegment, ManifestBody, Tombstones, Version, VersionSet};
use crate::wal;

/// How many times a load starts again because the writer changed the manifest under it
/// before giving up. A flush changes the manifest once; only a writer flushing many
/// times a second for the whole duration of the load exhausts this.
const MAX_ATTEMPTS: u32 = 50;

/// What [`crate::Db::refresh`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RefreshReport {
    /// The manifest changed since the last load (the writer flushed, compacted, ...).
    pub manifest_changed: bool,
    /// Segment files newly mapped.
    pub segments_added: usize,
    /// Segments of the previous snapshot no longer in the manifest.
    pub segments_dropped: usize,
    /// Points in the head after the refresh (the WAL replayed into memory).
    pub head_points: u64,
    /// Series in the catalog after the refresh.
    pub series: u64,
}

/// One loaded snapshot.
struct Loaded {
    manifest_bytes: Vec<u8>,
    manifest: ManifestBody,
    version: Version,
    hidden: roaring::RoaringBitmap,
    report: RecoveryReport,
}

/// Opens `path` read-only.
pub(super) fn open_read_only(path: &Path, opts: Options) -> Result<DbInner> {
    opts.validate()?;
    let fs = opts.file_system.clone();
    let layout = Layout::new(path);
    if !fs.exists(path) {
        return Err(Error::NotADatabase {
            path: path.into(),
            reason: "directory does not exist".into(),
        });
    }
    let catalog = Catalog::new();
    let loaded = load(&*fs, &layout, &opts, &catalog, None)?;
    Ok(DbInner {
        tag: NEXT_DB_TAG.fetch_add(1, Ordering::Relaxed),
        catalog: Arc::new(catalog),
        wal: None,
        versions: VersionSet::new(fs.clone(), layout, loaded.manifest, loaded.version),
        hidden: RwLock::new(loaded.hidden),
        loaded_manifest: Mutex::new(loaded.manifest_bytes),
        recovery: loaded.report,
        closed: AtomicBool::new(false),
        flusher: Mutex::new(None),
        scheduler: Mutex::new(None),
        maintenance_status: Default::default(),
        flush_signal: Arc::new((Mutex::new(FlushRequest::default()), Condvar::new())),
        dir_lock: Mutex::new(None),
        opts,
    })
}

/// Loads what the writer has published since the last load and swaps it in.
pub(super) fn refresh(inner: &DbInner) -> Result<RefreshReport> {
    // One refresh at a time; readers keep their snapshot meanwhile.
    let lock = inner.versions.lock();
    inner.check_open()?;
    let previous = inner.versions.current();
    let fs = &*inner.opts.file_system;
    let loaded = load(
        fs,
        inner.versions.layout(),
        &inner.opts,
        &inner.catalog,
        Some(&previous),
    )?;
    let old_ids: std::collections::HashSet<u64> =
        previous.segments.iter().map(|s| s.entry.id).collect();
    let new_ids: std::collections::HashSet<u64> =
        loaded.version.segments.iter().map(|s| s.entry.id).collect();
    let report = RefreshReport {
        manifest_changed: *inner.loaded_manifest.lock() != loaded.manifest_bytes,
        segments_added: new_ids.difference(&old_ids).count(),
        segments_dropped: old_ids.difference(&new_ids).count(),
        head_points: loaded.version.live.points(),
        series: inner.catalog.len() as u64,
    };
    *inner.loaded_manifest.lock() = loaded.manifest_bytes;
    // Hidden series first: a reader between the two sees the new version's points of a
    // series un-hidden by them, or the old version without them.
    *inner.hidden.write() = loaded.hidden;
    inner.versions.adopt(&lock, loaded.manifest, loaded.version);
    Ok(report)
}

/// Loads a consistent snapshot, starting again while the writer changes the manifest
/// under it. Series go into `catalog` (ids are stable, so series of an abandoned attempt
/// are real series: at worst listed before their points show).
fn load(
    fs: &dyn FileSystem,
    layout: &Layout,
    opts: &Options,
    catalog: &Catalog,
    previous: Option<&Version>,
) -> Result<Loaded> {
    let mut last_race = None;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(u64::from(attempt.min(20))));
        }
        let manifest_bytes = match read_manifest(fs, layout)? {
            Some(bytes) => bytes,
            None => {
                return Err(Error::NotADatabase {
                    path: layout.root.clone(),
                    reason: format!("it has no {}", MANIFEST_FILE),
                })
            }
        };
        let manifest = ManifestBody::decode(&manifest_bytes, &layout.manifest)?;
        let result = load_from(fs, layout, opts, catalog, previous, &manifest);
        // Unchanged manifest: the reads saw what it names (see the module docs). Changed:
        // the writer may have removed files under them, so that whatever went wrong,
        // a missing file or a WAL naming series whose definition was in a removed
        // file, may be the race; start again from the new manifest.
        let unchanged = read_manifest(fs, layout)?.as_deref() == Some(&manifest_bytes[..]);
        match result {
            Ok((version, hidden, report)) if unchanged => {
                return Ok(Loaded {
                    manifest_bytes,
                    manifest,
                    version,
                    hidden,
                    report,
                })
            }
            Ok(_) => {}
            Err(e) if unchanged && !is_race(&e) => return Err(e),
            Err(e) => last_race = Some(e),
        }
    }
    Err(last_race.unwrap_or_else(|| {
        Error::io(
            "read",
            &layout.manifest,
            std::io::Error::other(format!(
                "the writer changed the manifest during each of {MAX_ATTEMPTS} attempts to read a snapshot"
            )),
        )
    }))
}

/// The manifest's bytes, `None` if there is none. A read racing the writer's rename
/// sees the old or the new file whole (rename is atomic).
fn read_manifest(fs: &dyn FileSystem, layout: &Layout) -> Result<Option<Vec<u8>>> {
    match fs.read(&layout.manifest) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &layout.manifest, e)),
    }
}

/// True for a file that changed length under its read (the writer cut a failed append
/// back off the WAL): retried even though the manifest is unchanged.
fn is_race(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. }
        if source.kind() == std::io::ErrorKind::UnexpectedEof)
}

/// Adds to `catalog` the series of the catalog file `manifest` names that it lacks. Ids
/// are stable and a catalog only grows, so the ones it holds are the same.
fn read_catalog_into(
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest: &ManifestBody,
    catalog: &Catalog,
) -> Result<()> {
    if catalog.len() as u64 >= manifest.catalog_series {
        return Ok(());
    }
    let file = layout.catalog_file(manifest.catalog_seq);
    let on_disk = read_catalog(fs, layout, manifest)?;
    for id in catalog.len()..on_disk.len() {
        let id = crate::types::SeriesId(id as u32);
        if let Some(key) = on_disk.key(id) {
            catalog
                .insert_recovered(id, crate::types::SeriesKey::clone(&key))
                .map_err(|c| c.into_error(&file, 0))?;
        }
    }
    Ok(())
}

type Parts = (Version, roaring::RoaringBitmap, RecoveryReport);

fn load_from(
    fs: &dyn FileSystem,
    layout: &Layout,
    opts: &Options,
    catalog: &Catalog,
    previous: Option<&Version>,
    manifest: &ManifestBody,
) -> Result<Parts> {
    read_catalog_into(fs, layout, manifest, catalog)?;

    let mut segments = Vec::with_capacity(manifest.segments.len());
    for entry in &manifest.segments {
        let mapped = previous
            .and_then(|v| v.segments.iter().find(|s| s.entry == *entry))
            .cloned();
        segments.push(match mapped {
            Some(segment) => segment,
            None => {
                // No quarantine here (it writes): a damaged segment fails the open, as
                // it would a read-write open in `DamagedSegments::Fail` mode.
                let file = layout.segment_file(entry.id);
                let segment = Segment::open(fs, &file, opts.read_mode)?;
                Arc::new(LiveSegment::new(entry.clone(), segment))
            }
        });
    }
    let mut rollups: Vec<Arc<LiveRollup>> = Vec::with_capacity(manifest.rollups.len());
    for entry in &manifest.rollups {
        let mapped = previous
            .and_then(|v| v.rollups.iter().find(|r| r.entry == *entry))
            .cloned();
        rollups.push(match mapped {
            Some(rollup) => rollup,
            None => Arc::new(open_rollup(fs, layout, opts, entry)?),
        });
    }

    let head = Head::new();
    let mut report = RecoveryReport::default();
    let mut replayed = Replayed {
        catalog,
        head: &head,
        mode: opts.recovery,
        points: 0,
        report: &mut report,
    };
    let replay = wal::replay_read_only(
        fs,
        &layout.wal,
        manifest.wal_checkpoint,
        opts.recovery,
        |entry, at| apply_wal_entry(&mut replayed, entry, at),
    )?;
    let points = replayed.points;
    report.replayed_points = points;
    report.wal_files = replay.files;
    report.wal_records = replay.records;
    report.truncated_tail = replay.truncated_tail;
    let undefinable = std::mem::take(&mut report.salvaged);
    report.salvaged = replay.salvaged;
    report.salvaged.extend(undefinable);

    let mut hidden: roaring::RoaringBitmap = manifest.hidden_series.iter().copied().collect();
    if !hidden.is_empty() {
        head.for_each_series(|id, _, _| {
            hidden.remove(id);
        });
    }
    let version = Version {
        live: Arc::new(head),
        frozen: Vec::new(),
        segments,
        tombstones: Arc::new(Tombstones::from_entries(&manifest.tombstones)),
        rollups,
    };
    Ok((version, hidden, report))
}
