//! Replay: reading the WAL back on open, and repairing what a crash left behind.
//!
//! What replay does with each kind of damage follows from what the writer guarantees
//! (FORMAT.md, "What the writer guarantees, and what replay assumes"):
//!
//! | where                                  | what                         | Strict            | Salvage            |
//! |----------------------------------------|------------------------------|-------------------|--------------------|
//! | files after the checkpoint             | a seq missing (deleted file) | `Corruption`      | reported, rest replayed |
//! | newest file, no/partial header, no records | crash while creating it  | removed, reported | removed, reported  |
//! | newest file, a record                  | bad, no later durable mark above it (torn) | truncated there | truncated there |
//! | newest file, a record                  | bad, below a later record's durable mark | `Corruption` | skipped, later records kept |
//! | any other file, a record               | torn, bad CRC, undecodable   | `Corruption`      | skipped, later records kept |
//! | any file with records, the header      | bad magic, CRC, seq          | `Corruption`      | file skipped       |
//! | any file, the header                   | newer format version         | `UnsupportedVersion` | `UnsupportedVersion` |
//!
//! In a version 1 file (no durable marks) the newest file's first bad record ends the
//! log, as that version's rule was. The newest file is then rewritten with what replay
//! accepted (see `rewrite`: cutting the torn tail off, and making the rest durable
//! whatever happened to the fsyncs of the process that wrote it); a file left
//! half-created is removed. Both go through the [`FileSystem`] and are fsynced, so the
//! next `Wal::open` starts from a clean, durable log.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use super::entry::{decode_entry, WalEntry};
use super::record::{self, Framing, HeaderError, HEADER_LEN};
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
    visit: impl FnMut(WalEntry, RecordAt<'_>) -> Result<()>,
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
    visit: impl FnMut(WalEntry, RecordAt<'_>) -> Result<()>,
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
    mut visit: impl FnMut(WalEntry, RecordAt<'_>) -> Result<()>,
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
        let role = if is_newest { Role::Newest } else { Role::Older };
        let mut reading = FileReading {
            path: &path,
            mode,
            role,
            records: &mut report.records,
            salvaged: &mut report.salvaged,
        };
        let end = reading.replay(&data, seq, &mut visit)?;
        match end {
            FileEnd::Clean => {
                if is_newest && repair == Repair::OnDisk {
                    rewrite(fs, &path, &data)?;
                }
            }
            FileEnd::TornCreation | FileEnd::TornTail(_) if repair == Repair::InMemory => {
                // (Only the newest file ends this way.) An empty newest file is usually
                // the writer creating it this very moment: not worth a report.
                if end != FileEnd::TornCreation || !data.is_empty() {
                    report.truncated_tail = Some((path, end.offset()));
                }
            }
            FileEnd::TornCreation if is_newest => {
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
            FileEnd::TornTail(offset) => {
                rewrite(fs, &path, data.get(..offset).unwrap_or(&data))?;
                report.truncated_tail = Some((path, offset as u64));
            }
            FileEnd::TornCreation | FileEnd::BadHeader(_) => {
                let what = match end {
                    FileEnd::BadHeader(what) => what,
                    _ => "file is shorter than its header or its header is damaged",
                };
                match mode {
                    RecoveryMode::Strict => return Err(Error::corruption(path, 0, what)),
                    RecoveryMode::Salvage => report.salvaged.push((path, 0, what.to_owned())),
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

/// How a file's records were read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileEnd {
    /// To the last byte (in salvage, past damage that was skipped and reported).
    Clean,
    /// The header is missing, partial or garbage, and the file is no longer than a
    /// header: a crash while the file was being created, before any record.
    TornCreation,
    /// The header is bad and records follow it.
    BadHeader(&'static str),
    /// The newest file's records end at this offset with a torn write: what follows was
    /// never made durable (see [`FileReading::is_torn`]).
    TornTail(usize),
}

impl FileEnd {
    fn offset(self) -> u64 {
        match self {
            FileEnd::TornTail(offset) => offset as u64,
            FileEnd::Clean | FileEnd::TornCreation | FileEnd::BadHeader(_) => 0,
        }
    }
}

/// Whether a file can end in a torn write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The newest file: bytes after its last fsync may be missing or torn.
    Newest,
    /// Any other: fsynced whole before the next file was created.
    Older,
}

/// What the records after a damaged one say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct After {
    /// Offset of the first intact record after the damage, if any.
    next: Option<usize>,
    /// The largest durable mark among the intact records after the damage (0: none,
    /// or a version 1 file, which has no marks).
    durable: u64,
}

/// Replay of one file: where it is, what may be done about damage, and what to report.
struct FileReading<'a> {
    path: &'a Path,
    mode: RecoveryMode,
    role: Role,
    records: &'a mut u64,
    salvaged: &'a mut Vec<(PathBuf, u64, String)>,
}

impl FileReading<'_> {
    /// Visits the readable records of one file (`data`, WAL file `seq`) in order.
    ///
    /// At a damaged record (torn, bad CRC, undecodable) it looks at the intact records
    /// after it: a torn tail ends the file there ([`FileEnd::TornTail`]); anything else
    /// is damage to stored data, an error in `Strict` mode and skipped (reported, the
    /// later records kept) in `Salvage`.
    fn replay(
        &mut self,
        data: &[u8],
        seq: u64,
        visit: &mut impl FnMut(WalEntry, RecordAt<'_>) -> Result<()>,
    ) -> Result<FileEnd> {
        let framing = match record::check_header(data, seq) {
            Ok(framing) => framing,
            Err(HeaderError::Unsupported(found)) => {
                return Err(Error::UnsupportedVersion {
                    file: self.path.to_path_buf(),
                    found,
                    supported: record::FORMAT_VERSION,
                })
            }
            Err(HeaderError::Short) => return Ok(FileEnd::TornCreation),
            Err(HeaderError::Damaged(_)) if data.len() <= HEADER_LEN => {
                return Ok(FileEnd::TornCreation)
            }
            Err(HeaderError::Damaged(what)) => return Ok(FileEnd::BadHeader(what)),
        };
        let mut offset = HEADER_LEN;
        loop {
            let what = match record::read_record(data, offset, framing) {
                Ok(None) => return Ok(FileEnd::Clean),
                Ok(Some(raw)) => match decode_entry(raw.rtype, raw.payload) {
                    Ok(entry) => {
                        let at = RecordAt {
                            file: self.path,
                            offset: offset as u64,
                        };
                        visit(entry, at)?;
                        *self.records += 1;
                        offset = raw.next;
                        continue;
                    }
                    Err(what) => what,
                },
                Err(e) => e.what(),
            };
            let after = records_after(data, offset, framing);
            if self.is_torn(framing, offset, after) {
                return Ok(FileEnd::TornTail(offset));
            }
            let what = match (self.role, after.next) {
                (Role::Newest, Some(next)) => format!(
                    "{what}, but the intact record at offset {next} or a later one was \
                     written when the file was durable up to offset {}: damage to stored \
                     data, not a torn write",
                    after.durable
                ),
                (Role::Older, _) | (Role::Newest, None) => what.to_owned(),
            };
            match self.mode {
                RecoveryMode::Strict => {
                    return Err(Error::corruption(self.path, offset as u64, what))
                }
                RecoveryMode::Salvage => {
                    self.salvaged
                        .push((self.path.to_path_buf(), offset as u64, what));
                    match after.next {
                        Some(next) => offset = next,
                        None => return Ok(FileEnd::Clean),
                    }
                }
            }
        }
    }

    /// Whether the damage at `offset` is a torn write, given the intact records after
    /// it. Only the newest file can end in one (every other file was fsynced whole).
    /// There, bytes after the last fsync may reach the disk in any order, so intact
    /// records after a damaged one do not by themselves make it damage at rest; their
    /// durable marks do: a record whose mark is past `offset` was written after the
    /// damaged bytes had been fsynced. A version 1 file has no marks, and its first
    /// damage ends the log (the rule of that version).
    fn is_torn(&self, framing: Framing, offset: usize, after: After) -> bool {
        match (self.role, framing) {
            (Role::Older, _) => false,
            (Role::Newest, Framing::V1) => true,
            (Role::Newest, Framing::Marked) => after.durable <= offset as u64,
        }
    }
}

/// The intact records after damage at `damaged` (see [`After`]), found by trying every
/// later offset as a record start: a damaged length cannot be trusted to find the next
/// record. A false start passes only a CRC-32 by chance; in a marked file most fail the
/// cheaper check that the mark lies between the file header and the record.
fn records_after(data: &[u8], damaged: usize, framing: Framing) -> After {
    let mut after = After {
        next: None,
        durable: 0,
    };
    let mut at = damaged + 1;
    while at < data.len() {
        match record::read_record(data, at, framing) {
            Ok(Some(raw)) => {
                after.next.get_or_insert(at);
                after.durable = after.durable.max(raw.durable.unwrap_or(0));
                at = raw.next;
            }
            Ok(None) | Err(_) => at += 1,
        }
    }
    after
}

/// Where a replayed record is: for reports about what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordAt<'a> {
    /// The WAL file.
    pub file: &'a Path,
    /// The record's offset in it.
    pub offset: u64,
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
