//! Opening a database: lock, manifest, catalog, segments, orphan removal, WAL replay.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use super::quarantine::{self, QuarantineReport};
use super::{DbInner, FlushRequest, RecoveryReport, SkippedPoints, NEXT_DB_TAG};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::index::{Catalog, RecoveryConflict};
use crate::options::{DamagedSegments, Options, RecoveryMode};
use crate::segment::rollup::Rollup;
use crate::segment::Segment;
use crate::storage::{check_length, read_whole, write_atomic, FileSystem};
use crate::version::layout::{self, parse_numbered, Layout};
use crate::version::{
    Edit, LiveRollup, LiveSegment, ManifestBody, Tombstones, Version, VersionSet,
};
use crate::wal::{self, PointColumns, RecordAt, Wal, WalEntry, WalOptions};

pub(super) fn open(path: &Path, opts: Options) -> Result<DbInner> {
    opts.validate()?;
    let fs = opts.file_system.clone();
    let layout = Layout::new(path);
    if !fs.exists(path) {
        if !opts.create_if_missing {
            return Err(Error::NotADatabase {
                path: path.into(),
                reason: "directory does not exist".into(),
            });
        }
        fs.create_dir_all(path)
            .map_err(|e| Error::io("mkdir", path, e))?;
    }
    let lock_path = path.join(layout::LOCK_FILE);
    let lock = fs.lock(&lock_path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            Error::Locked { path: path.into() }
        } else {
            Error::io("lock", &lock_path, e)
        }
    })?;

    // Read, not `exists` then read: a failed stat must not pass for a missing manifest.
    let manifest = match fs.read(&layout.manifest) {
        Ok(bytes) => {
            check_length(&*fs, &layout.manifest, bytes.len())?;
            ManifestBody::decode(&bytes, &layout.manifest)?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&*fs, &layout, &opts)?,
        Err(e) => return Err(Error::io("read", &layout.manifest, e)),
    };
    for dir in [&layout.wal, &layout.segments, &layout.catalog] {
        fs.create_dir_all(dir)
            .map_err(|e| Error::io("mkdir", dir, e))?;
    }
    // A crash may have left directory entries visible but not durable: the database
    // directory itself (just created), its sub-directories, the last rename of the
    // manifest. Make them durable before acting on them: orphan removal below deletes
    // WAL files on the manifest's word, and a power cut must not then bring back the
    // older manifest that still needs them.
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    for dir in [parent, path] {
        fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
    }

    let catalog = read_catalog(&*fs, &layout, &manifest)?;

    let mut report = RecoveryReport::default();
    let mut segments = Vec::with_capacity(manifest.segments.len());
    for entry in &manifest.segments {
        let file = layout.segment_file(entry.id);
        match Segment::open(&*fs, &file, opts.read_mode) {
            Ok(segment) => segments.push(Arc::new(LiveSegment::new(entry.clone(), segment))),
            Err(e) if opts.damaged_segments == DamagedSegments::Quarantine && names(&e, &file) => {
                let copy = quarantine::copy_to_quarantine(&*fs, &layout, entry.id, opts.read_mode)?;
                report.quarantined.push(QuarantineReport::new(
                    &layout,
                    entry,
                    opts.partition_duration,
                    copy,
                    Some(e.to_string()),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let manifest_tombstones = manifest.tombstones.clone();
    let mut rollups = Vec::with_capacity(manifest.rollups.len());
    for entry in &manifest.rollups {
        rollups.push(Arc::new(open_rollup(&*fs, &layout, &opts, entry)?));
    }

    let live = Arc::new(Head::new());
    let versions = VersionSet::new(
        fs.clone(),
        layout.clone(),
        manifest,
        Version {
            live: live.clone(),
            frozen: Vec::new(),
            segments,
            tombstones: Arc::new(Tombstones::from_entries(&manifest_tombstones)),
            rollups,
        },
    );
    if !report.quarantined.is_empty() {
        drop_quarantined(&*fs, &versions, &report.quarantined)?;
    }
    let manifest = versions.manifest();

    remove_orphans(&*fs, &layout, &manifest, &mut report)?;
    report
        .orphans_removed
        .extend(quarantine::remove_temporaries(&*fs, &layout)?);

    let mut replayed = Replayed {
        catalog: &catalog,
        head: &live,
        mode: opts.recovery,
        points: 0,
        report: &mut report,
    };
    let replay = wal::replay(
        &*fs,
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
    // Damage the log itself showed first, then what it left undefinable.
    let undefinable = std::mem::take(&mut report.salvaged);
    report.salvaged = replay.salvaged;
    report.salvaged.extend(undefinable);

    // A hidden (wholly deleted) series written again after the last flush has its new
    // points in the replayed head: it is visible again.
    let mut hidden: roaring::RoaringBitmap = manifest.hidden_series.iter().copied().collect();
    if !hidden.is_empty() {
        let mut rewritten = Vec::new();
        live.for_each_series(|id, _, _| rewritten.push(id));
        for id in rewritten {
            hidden.remove(id);
        }
    }

    let wal = Some(Wal::open(
        fs.clone(),
        &layout.wal,
        WalOptions {
            file_size: opts.wal_file_size,
            durability: opts.durability,
        },
        (replay.max_seq + 1).max(manifest.wal_checkpoint),
    )?);

    Ok(DbInner {
        tag: NEXT_DB_TAG.fetch_add(1, Ordering::Relaxed),
        catalog: Arc::new(catalog),
        wal,
        versions,
        loaded_manifest: Mutex::new(Vec::new()),
        hidden: RwLock::new(hidden),
        recovery: report,
        closed: AtomicBool::new(false),
        flusher: Mutex::new(None),
        scheduler: Mutex::new(None),
        maintenance_status: Default::default(),
        flush_signal: Arc::new((Mutex::new(FlushRequest::default()), Condvar::new())),
        dir_lock: Mutex::new(Some(lock)),
        opts,
    })
}

/// The catalog file the manifest names (an empty catalog if none yet), checked against
/// the series count the manifest expects.
pub(super) fn read_catalog(
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest: &ManifestBody,
) -> Result<Catalog> {
    if manifest.catalog_seq == 0 {
        return Ok(Catalog::new());
    }
    let file = layout.catalog_file(manifest.catalog_seq);
    let bytes = read_whole(fs, &file)?;
    let catalog = Catalog::decode(&bytes, &file)?;
    if (catalog.len() as u64) < manifest.catalog_series {
        return Err(Error::corruption(
            &file,
            0,
            format!(
                "catalog holds {} series, the manifest expects {}",
                catalog.len(),
                manifest.catalog_series
            ),
        ));
    }
    Ok(catalog)
}

/// Opens the rollup file of `entry`, checked against it.
pub(super) fn open_rollup(
    fs: &dyn FileSystem,
    layout: &Layout,
    opts: &Options,
    entry: &crate::version::manifest::RollupEntry,
) -> Result<LiveRollup> {
    let file = layout.segment_file(entry.id);
    let rollup = Rollup::open(fs, &file, opts.read_mode)?;
    if rollup.resolution() != entry.resolution {
        return Err(Error::corruption(
            &file,
            0,
            "rollup resolution disagrees with the manifest",
        ));
    }
    Ok(LiveRollup::new(
        entry.clone(),
        rollup,
        opts.partition_duration,
    ))
}

/// Where [`apply_wal_entry`] puts what it replays and what it had to leave out.
pub(super) struct Replayed<'a> {
    pub catalog: &'a Catalog,
    pub head: &'a Head,
    pub mode: RecoveryMode,
    /// Points put into the head.
    pub points: u64,
    pub report: &'a mut RecoveryReport,
}

/// Applies one replayed WAL entry (the record at `at`): new series into the catalog,
/// points into the head.
///
/// Series ids are dense, so a definition lost with a damaged part of the log leaves
/// every later id undefinable too. `Strict` fails with `Corruption` naming the record;
/// `Salvage` skips what cannot be defined and reports it: the definition in `salvaged`,
/// the points (per record and series) in `skipped_points`. A definition the catalog
/// already holds needs nothing from the log.
pub(super) fn apply_wal_entry(
    into: &mut Replayed<'_>,
    entry: WalEntry,
    at: RecordAt<'_>,
) -> Result<()> {
    match entry {
        WalEntry::Series(list) => {
            for (id, key) in list {
                match into.catalog.insert_recovered(id, key) {
                    Ok(()) => {}
                    Err(gap @ RecoveryConflict::Gap { .. })
                        if into.mode == RecoveryMode::Salvage =>
                    {
                        into.report.salvaged.push((
                            at.file.to_path_buf(),
                            at.offset,
                            format!("{gap}: the definition is skipped, and its points"),
                        ));
                    }
                    Err(c) => return Err(c.into_error(at.file, at.offset)),
                }
            }
        }
        WalEntry::Points(mut cols) => {
            let known = into.catalog.len() as u32;
            if cols.series.iter().any(|&s| s >= known) {
                if into.mode == RecoveryMode::Strict {
                    let bad = cols.series.iter().find(|&&s| s >= known).copied();
                    return Err(Error::corruption(
                        at.file,
                        at.offset,
                        format!(
                            "points of series {} that no intact WAL record or the catalog defines",
                            bad.unwrap_or(known)
                        ),
                    ));
                }
                skip_undefined(&mut cols, known, at, &mut into.report.skipped_points);
            }
            into.head
                .insert(&cols.series, &cols.timestamps, &cols.values);
            into.points += cols.series.len() as u64;
        }
    }
    Ok(())
}

/// Removes from `cols` the points of series `known` and above, reporting them per series.
fn skip_undefined(
    cols: &mut PointColumns,
    known: u32,
    at: RecordAt<'_>,
    skipped: &mut Vec<SkippedPoints>,
) {
    let mut per_series: std::collections::BTreeMap<u32, u64> = Default::default();
    let mut kept = PointColumns::default();
    for ((&s, &t), &v) in cols.series.iter().zip(&cols.timestamps).zip(&cols.values) {
        if s < known {
            kept.series.push(s);
            kept.timestamps.push(t);
            kept.values.push(v);
        } else {
            *per_series.entry(s).or_default() += 1;
        }
    }
    skipped.extend(
        per_series
            .into_iter()
            .map(|(series, points)| SkippedPoints {
                series,
                points,
                file: at.file.to_path_buf(),
                offset: at.offset,
            }),
    );
    *cols = kept;
}

/// True when `e` is damage found in `file` (and not, say, an I/O error reading it).
fn names(e: &Error, file: &Path) -> bool {
    matches!(e, Error::Corruption { file: f, .. } | Error::UnsupportedVersion { file: f, .. } if f == file)
}

/// Commits the manifest without the segments just copied into quarantine (they never
/// entered the version), then removes their originals. A crash before the manifest is
/// durable leaves them listed (and the next open sets them aside again, beside the first
/// copies); after it, an original left behind is an orphan the next open removes.
fn drop_quarantined(
    fs: &dyn FileSystem,
    versions: &VersionSet,
    quarantined: &[QuarantineReport],
) -> Result<()> {
    let layout = versions.layout();
    let remove = versions
        .manifest()
        .segments
        .iter()
        .filter(|s| {
            quarantined
                .iter()
                .any(|q| q.segment == layout.segment_file(s.id))
        })
        .map(|s| s.id)
        .collect();
    // Tombstones stay as they are: one that no longer hides anything is harmless, and
    // the next compaction (which reads the chunk indexes) prunes it.
    versions.commit(
        &versions.lock(),
        Edit {
            remove,
            ..Edit::default()
        },
    )?;
    for q in quarantined {
        fs.remove(&q.segment)
            .map_err(|e| Error::io("remove", &q.segment, e))?;
    }
    Ok(())
}

/// Initialises an empty directory. Refuses a directory holding anything but what a
/// previous, interrupted initialisation may have left.
fn create(fs: &dyn FileSystem, layout: &Layout, opts: &Options) -> Result<ManifestBody> {
    let entries = fs
        .list(&layout.root)
        .map_err(|e| Error::io("list", &layout.root, e))?;
    for name in &entries {
        let ours_and_empty = match name.as_str() {
            layout::LOCK_FILE => true,
            layout::WAL_DIR | layout::SEGMENT_DIR | layout::CATALOG_DIR => {
                let sub = layout.root.join(name);
                match fs.list(&sub) {
                    Ok(inner) => inner.is_empty(),
                    // A file by that name (or one gone meanwhile) is not ours.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::NotADirectory | std::io::ErrorKind::NotFound
                        ) =>
                    {
                        false
                    }
                    // A failed listing says nothing about the directory: not a reason
                    // to call it someone else's.
                    Err(e) => return Err(Error::io("list", &sub, e)),
                }
            }
            n => n == format!("{}.tmp", layout::MANIFEST_FILE),
        };
        if !ours_and_empty {
            return Err(Error::NotADatabase {
                path: layout.root.clone(),
                reason: format!("it has no {} but holds {name:?}", layout::MANIFEST_FILE),
            });
        }
    }
    if !opts.create_if_missing {
        return Err(Error::NotADatabase {
            path: layout.root.clone(),
            reason: format!("it has no {}", layout::MANIFEST_FILE),
        });
    }
    let manifest = ManifestBody {
        generation: 1,
        next_segment_id: 1,
        wal_checkpoint: 1,
        ..ManifestBody::default()
    };
    for dir in [&layout.wal, &layout.segments, &layout.catalog] {
        fs.create_dir_all(dir)
            .map_err(|e| Error::io("mkdir", dir, e))?;
    }
    write_atomic(fs, &layout.manifest, &manifest.encode()?)?;
    Ok(manifest)
}

/// Removes files a crash left behind: segments and catalogs the manifest does not name,
/// temporary files, and WAL files wholly covered by the checkpoint.
fn remove_orphans(
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest: &ManifestBody,
    report: &mut RecoveryReport,
) -> Result<()> {
    let live_segments: std::collections::HashSet<u64> = manifest
        .segments
        .iter()
        .map(|s| s.id)
        .chain(manifest.rollups.iter().map(|r| r.id))
        .collect();
    let mut remove = |dir: &Path, name: &str| -> Result<()> {
        let path = dir.join(name);
        fs.remove(&path)
            .map_err(|e| Error::io("remove", &path, e))?;
        report.orphans_removed.push(path);
        Ok(())
    };
    for name in fs
        .list(&layout.segments)
        .map_err(|e| Error::io("list", &layout.segments, e))?
    {
        match parse_numbered(&name, layout::SEGMENT_EXT) {
            Some(id) if live_segments.contains(&id) => {}
            Some(_) => remove(&layout.segments, &name)?,
            _ if name.ends_with(".tmp") => remove(&layout.segments, &name)?,
            _ => {}
        }
    }
    for name in fs
        .list(&layout.catalog)
        .map_err(|e| Error::io("list", &layout.catalog, e))?
    {
        match parse_numbered(&name, layout::CATALOG_EXT) {
            Some(seq) if seq == manifest.catalog_seq => {}
            Some(_) => remove(&layout.catalog, &name)?,
            None if name.ends_with(".tmp") => remove(&layout.catalog, &name)?,
            None => {}
        }
    }
    if fs.exists(&crate::storage::tmp_path(&layout.manifest)) {
        remove(&layout.root, &format!("{}.tmp", layout::MANIFEST_FILE))?;
    }
    for name in fs
        .list(&layout.wal)
        .map_err(|e| Error::io("list", &layout.wal, e))?
    {
        if let Some(seq) = wal::parse_file_seq(&name) {
            if seq < manifest.wal_checkpoint {
                remove(&layout.wal, &name)?;
            }
        } else if name.ends_with(".tmp") {
            // Left by a crash while replay rewrote the newest WAL file.
            remove(&layout.wal, &name)?;
        }
    }
    Ok(())
}
