//! Replay: reading the WAL back on open, and repairing what a crash left behind.
//!
//! What replay does with each kind of damage follows from what the writer guarantees
//! (see the layout notes in `record.rs`):
//!
//! | where                                  | what                         | Strict            | Salvage            |
//! |----------------------------------------|------------------------------|-------------------|--------------------|
//! | files after the checkpoint             | a seq missing (deleted file) | `Corruption`      | reported, rest replayed |
//! | newest file, no/partial header, no records | crash while creating it  | removed, reported | removed, reported  |
//! | newest file, a record                  | torn, bad CRC, undecodable   | truncated there   | truncated there    |
//! | any other file, a record               | torn, bad CRC, undecodable   | `Corruption`      | rest of file skipped |
//! | any file with records, the header      | bad magic, CRC, seq          | `Corruption`      | file skipped       |
//! | any file, the header                   | newer format version         | `UnsupportedVersion` | `UnsupportedVersion` |
//!
//! The newest file's first bad record ends the log even if intact records follow it:
//! bytes written after the last fsync may reach the disk in any order, and nothing
//! after that point was acknowledged as durable. Under `Durability::Sync` that is
//! exactly right; under `Periodic`/`None` the records dropped there were acknowledged
//! without a durability promise. The newest file is then rewritten with what replay
//! accepted (see `rewrite`: cutting the torn tail off, and making the rest durable
//! whatever happened to the fsyncs of the process that wrote it); a file left
//! half-created is removed. Both go through the [`FileSystem`] and are fsynced, so the
//! next `Wal::open` starts from a clean, durable log.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use super::entry::{decode_entry, WalEntry};
use super::record::{self, HeaderError, HEADER_LEN};
use crate::error::{Error, Result};
use crate::options::RecoveryMode;
use crate::storage::{read_whole, write_atomic, FileSystem};

/// What a replay found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReplayReport {
    /// Files replayed (seq at least `from_seq`).
    pub files: usize,
    /// Records replayed.
    pub records: u64,
    /// The newest file was cut at this offset (or removed, offset 0, when it was empty or
    /// its header incomplete): a torn tail whose points were never acknowledged as
    /// durable, or (the same bytes) a truncation.
    pub truncated_tail: Option<(PathBuf, u64)>,
    /// Damage skipped in [`RecoveryMode::Salvage`]: file, offset, what was wrong. The
    /// rest of each such file was not replayed.
    pub salvaged: Vec<(PathBuf, u64, String)>,
    /// The largest seq of any WAL file left in the directory (replayed or not), 0 if
    /// none; a newest file removed as half-created does not count.
    pub max_seq: u64,
}

/// The WAL files in `dir`, sorted by seq.
#[cfg(test)]
pub(crate) fn list_files(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let names = fs.list(dir).map_err(|e| Error::io("list", dir, e))?;
    Ok(wal_files(dir, &names))
}

/// The WAL files among `names` (the listing of `dir`), sorted by seq.
fn wal_files(dir: &Path, names: &[String]) -> Vec<(u64, PathBuf)> {
    let mut files: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|name| record::parse_file_seq(name).map(|seq| (seq, dir.join(name))))
        .collect();
    files.sort_unstable_by_key(|(seq, _)| *seq);
    files
}

/// Replays the files with `seq >= from_seq` in order, calling `visit` for each entry.
///
/// A missing directory is an empty log. An error from `visit` stops the replay and is
/// returned as is. See the module docs for what happens to damaged files.
pub(crate) fn replay(
    fs: &dyn FileSystem,
    dir: &Path,
    from_seq: u64,
    mode: RecoveryMode,
    visit: impl FnMut(WalEntry) -> Result<()>,
) -> Result<ReplayReport> {
    replay_files(fs, dir, from_seq, mode, Repair::OnDisk, visit)
}

/// [`replay`] for a read-only open, beside a writer that may be appending to the newest
/// file: nothing on disk is touched. A torn or half-created newest file ends the log in
/// memory only (`truncated_tail` says where; the bytes stay, and are usually the record
/// the writer is in the middle of); the rest of the damage rules are those of `replay`.
pub(crate) fn replay_read_only(
    fs: &dyn FileSystem,
    dir: &Path,
    from_seq: u64,
    mode: RecoveryMode,
    visit: impl FnMut(WalEntry) -> Result<()>,
) -> Result<ReplayReport> {
    replay_files(fs, dir, from_seq, mode, Repair::InMemory, visit)
}

/// What replay may do about the newest file's torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repair {
    /// Cut it off (or remove a half-created file) and make the rest durable.
    OnDisk,
    /// Stop reading there; write nothing.
    InMemory,
}

fn replay_files(
    fs: &dyn FileSystem,
    dir: &Path,
    from_seq: u64,
    mode: RecoveryMode,
    repair: Repair,
    mut visit: impl FnMut(WalEntry) -> Result<()>,
) -> Result<ReplayReport> {
    let mut report = ReplayReport::default();
    // Not `exists`: a failed stat would read as "no log" and skip the replay.
    let files = match fs.list(dir) {
        Ok(names) => wal_files(dir, &names),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    report.max_seq = files.last().map_or(0, |(seq, _)| *seq);
    let newest = report.max_seq;
    // The seq of the file listed before the one being replayed (0: none).
    let mut listed_before = files
        .iter()
        .rev()
        .find(|(seq, _)| *seq < from_seq)
        .map_or(0, |(seq, _)| *seq);
    // The seq the next replayed file must have: the writer numbers files one by one and
    // only deletes files below the checkpoint, so a hole after it is a deleted file.
    let mut expected = from_seq.max(1);

    for (seq, path) in files.into_iter().filter(|(seq, _)| *seq >= from_seq) {
        if seq != expected {
            let missing = record::file_path(dir, expected);
            let what = missing_files_message(expected, seq);
            match mode {
                RecoveryMode::Strict => return Err(Error::corruption(missing, 0, what)),
                RecoveryMode::Salvage => report.salvaged.push((missing, 0, what)),
            }
        }
        expected = seq.saturating_add(1);
        let before = std::mem::replace(&mut listed_before, seq);
        let data = match repair {
            Repair::OnDisk => read_whole(fs, &path)?,
            // The writer may append meanwhile: the file may only have grown.
            Repair::InMemory => read_growing(fs, &path)?,
        };
        report.files += 1;
        let is_newest = seq == newest;
        let damage = match replay_file(&data, seq, &path, &mut visit, &mut report.records)? {
            None => {
                if is_newest && repair == Repair::OnDisk {
                    rewrite(fs, &path, &data)?;
                }
                continue;
            }
            Some(damage) => damage,
        };
        match damage {
            Damage::TornCreation | Damage::Record { .. }
                if is_newest && repair == Repair::InMemory =>
            {
                if damage != Damage::TornCreation || !data.is_empty() {
                    report.truncated_tail = Some((path, damage.position().0));
                }
            }
            Damage::TornCreation if is_newest => {
                fs.remove(&path)
                    .map_err(|e| Error::io("remove", &path, e))?;
                fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
                // Reported even when empty: a crash while the file was created leaves
                // that, but so does a truncation of a file that held records, and the
                // two cannot be told apart.
                report.truncated_tail = Some((path, 0));
                // The file held nothing: its seq is free again. Numbering the next file
                // after it would leave a hole that the next open reads as a deleted file.
                report.max_seq = before;
            }
            Damage::Record { offset, .. } if is_newest => {
                rewrite(fs, &path, data.get(..offset).unwrap_or(&data))?;
                report.truncated_tail = Some((path, offset as u64));
            }
            Damage::TornCreation | Damage::Header(_) | Damage::Record { .. } => {
                let (offset, what) = damage.position();
                match mode {
                    RecoveryMode::Strict => return Err(Error::corruption(path, offset, what)),
                    RecoveryMode::Salvage => report.salvaged.push((path, offset, what.to_owned())),
                }
            }
        }
    }
    Ok(report)
}

/// What a hole in the WAL sequence from `first_missing` up to (not including) `next`
/// means.
fn missing_files_message(first_missing: u64, next: u64) -> String {
    let count = next - first_missing;
    let files = if count == 1 {
        "this file is".to_owned()
    } else {
        format!("this file and the {} after it are", count - 1)
    };
    format!(
        "WAL file missing: {files} absent before {}, so the records they held are lost",
        record::file_name(next)
    )
}

/// Reads a file another process may be appending to: the read must have returned at
/// least as many bytes as the file held before it (a short read must not pass for a
/// shorter file), and any more bytes than that are the writer's latest appends.
fn read_growing(fs: &dyn FileSystem, path: &Path) -> Result<Vec<u8>> {
    let before = fs.size(path).map_err(|e| Error::io("stat", path, e))?;
    let bytes = fs.read(path).map_err(|e| Error::io("read", path, e))?;
    if (bytes.len() as u64) < before {
        return Err(Error::io(
            "read",
            path,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("short read: {} of {before} bytes", bytes.len()),
            ),
        ));
    }
    Ok(bytes)
}

/// Where the readable part of a file ended, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    /// The header is missing, partial or garbage, and the file is no longer than a
    /// header: a crash while the file was being created, before any record.
    TornCreation,
    /// The header is bad and records follow it.
    Header(&'static str),
    /// The record at `offset` is torn, fails its CRC, or does not decode.
    Record { offset: usize, what: &'static str },
}

impl Damage {
    fn position(self) -> (u64, &'static str) {
        match self {
            Damage::TornCreation => (
                0,
                "file is shorter than its header or its header is damaged",
            ),
            Damage::Header(what) => (0, what),
            Damage::Record { offset, what } => (offset as u64, what),
        }
    }
}

/// Visits the readable records of one file; returns where and why reading stopped early.
fn replay_file(
    data: &[u8],
    seq: u64,
    path: &Path,
    visit: &mut impl FnMut(WalEntry) -> Result<()>,
    records: &mut u64,
) -> Result<Option<Damage>> {
    match record::check_header(data, seq) {
        Ok(()) => {}
        Err(HeaderError::Unsupported(found)) => {
            return Err(Error::UnsupportedVersion {
                file: path.to_path_buf(),
                found,
                supported: record::FORMAT_VERSION,
            })
        }
        Err(HeaderError::Short) => return Ok(Some(Damage::TornCreation)),
        Err(HeaderError::Damaged(_)) if data.len() <= HEADER_LEN => {
            return Ok(Some(Damage::TornCreation))
        }
        Err(HeaderError::Damaged(what)) => return Ok(Some(Damage::Header(what))),
    }
    let mut offset = HEADER_LEN;
    loop {
        let raw = match record::read_record(data, offset) {
            Ok(None) => return Ok(None),
            Ok(Some(raw)) => raw,
            Err(e) => {
                return Ok(Some(Damage::Record {
                    offset,
                    what: e.what(),
                }))
            }
        };
        let entry = match decode_entry(raw.rtype, raw.payload) {
            Ok(entry) => entry,
            Err(what) => return Ok(Some(Damage::Record { offset, what })),
        };
        visit(entry)?;
        *records += 1;
        offset = raw.next;
    }
}

/// Replaces the newest file with `intact`, the part of it replay read and accepted,
/// through a new file (write, fsync, rename, fsync the directory).
///
/// Those bytes may not be on disk even though replay could read them: a process that
/// crashed between a write and its fsync leaves them in the page cache only, and after
/// a failed fsync (the WAL poisoned, the database reopened in the same boot) the kernel
/// may never write them at all, while a new fsync of the old file reports success
/// ("fsyncgate"). Once `Wal::open` starts a newer file, their loss in a power cut would
/// be damage in the middle of the log and a strict open would fail. Writing them
/// afresh is the one way to make them durable; it also cuts off a torn tail. The cost
/// is one copy of the newest file (at most the WAL file size) per open.
fn rewrite(fs: &dyn FileSystem, path: &Path, intact: &[u8]) -> Result<()> {
    write_atomic(fs, path, intact)
}
