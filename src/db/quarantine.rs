//! Setting damaged segments aside in `quarantine/`.
//!
//! A segment is quarantined by copying it into `quarantine/` (temporary file, fsync,
//! rename, fsync of the directory), then swapping in a manifest that no longer lists it;
//! the original in `segments/` is deleted once no reader snapshot uses it (or, after a
//! crash, as an orphan on the next open). A copy and not a rename across directories:
//! POSIX makes a rename atomic within one directory only, and a power cut between the two
//! directory updates of a cross-directory rename may leave the file in neither (the
//! fault-injecting file system models exactly that). So a crash at any point leaves
//! either the old state (the segment live, perhaps with a copy already in quarantine) or
//! the new one (the segment unlisted, its bytes durable in quarantine). The engine never
//! deletes anything in `quarantine/` except its own temporary files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DbInner;
use crate::error::{Error, Result};
use crate::storage::{open_whole, write_atomic, FileSystem, ReadMode};
use crate::types::Timestamp;
use crate::version::layout::{parse_numbered, Layout, SEGMENT_DIR, SEGMENT_EXT};
use crate::version::manifest::SegmentEntry;
use crate::version::{Edit, TombstoneEdit};

/// A segment set aside in the database's `quarantine/` directory, by
/// [`crate::Db::quarantine_segment`] or by open under [`crate::DamagedSegments::Quarantine`].
///
/// Every point the segment held is gone from the database (figures below, from the
/// manifest); the file's bytes are kept, unchanged, at `quarantined_as`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuarantineReport {
    /// The segment file as it was named in `segments/` (and in [`Error::Corruption`]).
    pub segment: PathBuf,
    /// Where its bytes are kept now.
    pub quarantined_as: PathBuf,
    /// Why it was set aside: the error that open met, or `None` when an API call asked.
    pub reason: Option<String>,
    /// First timestamp of the time partition it belonged to.
    pub partition_start: Timestamp,
    /// Oldest point it held.
    pub min_ts: Timestamp,
    /// Newest point it held.
    pub max_ts: Timestamp,
    /// Points it held (all lost to queries).
    pub points: u64,
    /// Series it held points of.
    pub series: u64,
    /// Size of the file when it was written (as the manifest recorded it; a truncated
    /// file is shorter now).
    pub bytes: u64,
}

impl QuarantineReport {
    pub(crate) fn new(
        layout: &Layout,
        entry: &SegmentEntry,
        partition_duration: i64,
        quarantined_as: PathBuf,
        reason: Option<String>,
    ) -> QuarantineReport {
        QuarantineReport {
            segment: layout.segment_file(entry.id),
            quarantined_as,
            reason,
            partition_start: entry.partition.saturating_mul(partition_duration),
            min_ts: entry.min_ts,
            max_ts: entry.max_ts,
            points: entry.points,
            series: entry.series,
            bytes: entry.bytes,
        }
    }
}

/// The segment id a caller's path names: `segments/{id:020}.seg`, as reported by
/// [`Error::Corruption`], or just the file name.
pub(crate) fn segment_id_of(file: &Path) -> Result<u64> {
    let bad = || {
        Error::invalid(format!(
            "{} does not name a segment file (segments/{{id:020}}.{SEGMENT_EXT})",
            file.display()
        ))
    };
    let name = file.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        if parent.file_name().and_then(|n| n.to_str()) != Some(SEGMENT_DIR) {
            return Err(bad());
        }
    }
    parse_numbered(name, SEGMENT_EXT).ok_or_else(bad)
}

/// Copies segment `id` durably into `quarantine/` and returns the copy's path. Never
/// replaces a file already there: a second copy of the same name gets a suffix `.1`,
/// `.2`, ...
pub(crate) fn copy_to_quarantine(
    fs: &dyn FileSystem,
    layout: &Layout,
    id: u64,
    mode: ReadMode,
) -> Result<PathBuf> {
    let source = layout.segment_file(id);
    let dir = &layout.quarantine;
    fs.create_dir_all(dir)
        .map_err(|e| Error::io("mkdir", dir, e))?;
    // The directory's own entry must be durable before anything in it can be.
    fs.sync_dir(&layout.root)
        .map_err(|e| Error::io("fsync", &layout.root, e))?;
    // The length is checked: a short read must not make a short copy.
    let bytes = open_whole(fs, &source, mode)?;
    let taken = fs.list(dir).map_err(|e| Error::io("list", dir, e))?;
    let name = format!("{id:020}.{SEGMENT_EXT}");
    let target = std::iter::once(name.clone())
        .chain((1u64..).map(|n| format!("{name}.{n}")))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(name);
    let target = dir.join(target);
    write_atomic(fs, &target, &bytes)?;
    Ok(target)
}

/// Removes `.tmp` files an interrupted copy left in `quarantine/` (if it exists).
pub(crate) fn remove_temporaries(fs: &dyn FileSystem, layout: &Layout) -> Result<Vec<PathBuf>> {
    let names = match fs.list(&layout.quarantine) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", &layout.quarantine, e)),
    };
    let mut removed = Vec::new();
    for name in names.iter().filter(|n| n.ends_with(".tmp")) {
        let path = layout.quarantine.join(name);
        fs.remove(&path)
            .map_err(|e| Error::io("remove", &path, e))?;
        removed.push(path);
    }
    Ok(removed)
}

/// [`crate::Db::quarantine_segment`].
pub(crate) fn quarantine_segment(db: &DbInner, file: &Path) -> Result<QuarantineReport> {
    let id = segment_id_of(file)?;
    let versions = &db.versions;
    let lock = versions.lock();
    db.check_open()?;
    let entry = versions
        .manifest()
        .segments
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(format!(
                "{} is not a live segment of this database",
                file.display()
            ))
        })?;
    let fs = &*db.opts.file_system;
    let target = copy_to_quarantine(fs, versions.layout(), id, db.opts.read_mode)?;
    // The commit deletes the original once no snapshot uses it; a crash first leaves it
    // an orphan, which the next open removes: its copy is durable by now.
    versions.commit(
        &lock,
        Edit {
            remove: vec![id],
            tombstones: TombstoneEdit::Prune,
            ..Edit::default()
        },
    )?;
    Ok(QuarantineReport::new(
        versions.layout(),
        &entry,
        db.opts.partition_duration,
        target,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_paths_are_parsed_strictly() {
        let l = Layout::new(Path::new("/db"));
        assert_eq!(segment_id_of(&l.segment_file(7)).unwrap(), 7);
        assert_eq!(
            segment_id_of(Path::new("00000000000000000009.seg")).unwrap(),
            9
        );
        for bad in [
            "/db/quarantine/00000000000000000007.seg",
            "/db/segments/7.seg",
            "/db/segments/00000000000000000007.seg.tmp",
            "/db/MANIFEST",
            "",
        ] {
            assert!(
                matches!(
                    segment_id_of(Path::new(bad)),
                    Err(Error::InvalidArgument(_))
                ),
                "{bad}"
            );
        }
    }
}
