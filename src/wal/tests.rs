//! Scenarios across writer and reader: rotation, group commit, torn tails, damage,
//! versions and injected I/O failures. Each test works in its own temporary directory.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::entry::tests::{grid_batch, same_entry};
use super::entry::{encode_entry, PointColumns, RecordType};
use super::reader::{list_files, ReplayReport};
use super::record::{self, encode_header_with_version, read_record, HEADER_LEN};
use super::record::{MAX_RECORD_LEN, RECORD_HEADER_LEN as RECORD_HEADER_LEN_V2};
use super::*;
use crate::error::Error;
use crate::options::{Durability, RecoveryMode};
use crate::storage::{DirLock, FileBytes, FileSystem, OsFileSystem, ReadMode, WritableFile};
use crate::types::{SeriesId, SeriesKey};

// ---------------------------------------------------------------------------------------
// A file system that fails on request.

#[derive(Debug, Default)]
struct Faults {
    /// The next this-many appends write half their bytes, then fail.
    fail_appends: AtomicU32,
    fail_syncs: AtomicBool,
    fail_truncates: AtomicBool,
    sync_delay_ms: AtomicU64,
    syncs: AtomicU64,
}

#[derive(Debug, Default)]
struct FaultyFs {
    faults: Arc<Faults>,
}

struct FaultyFile {
    inner: Arc<dyn WritableFile>,
    faults: Arc<Faults>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

impl WritableFile for FaultyFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let fail = self
            .faults
            .fail_appends
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            self.inner.append(&buf[..buf.len() / 2])?;
            return Err(injected("write"));
        }
        self.inner.append(buf)
    }
    fn sync(&self) -> io::Result<()> {
        self.faults.syncs.fetch_add(1, Ordering::SeqCst);
        let delay = self.faults.sync_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        if self.faults.fail_syncs.load(Ordering::SeqCst) {
            return Err(injected("fsync"));
        }
        self.inner.sync()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        if self.faults.fail_truncates.load(Ordering::SeqCst) {
            return Err(injected("truncate"));
        }
        self.inner.truncate(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

impl FaultyFs {
    fn wrap(&self, inner: Arc<dyn WritableFile>) -> Arc<dyn WritableFile> {
        Arc::new(FaultyFile {
            inner,
            faults: self.faults.clone(),
        })
    }
}

impl FileSystem for FaultyFs {
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        Ok(self.wrap(OsFileSystem.create_new(path)?))
    }
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        Ok(self.wrap(OsFileSystem.open_append(path)?))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        OsFileSystem.read(path)
    }
    fn open_bytes(&self, path: &Path, mode: ReadMode) -> io::Result<FileBytes> {
        OsFileSystem.open_bytes(path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        OsFileSystem.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        OsFileSystem.remove(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        OsFileSystem.list(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        OsFileSystem.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        OsFileSystem.sync_dir(dir)
    }
    fn size(&self, path: &Path) -> io::Result<u64> {
        OsFileSystem.size(path)
    }
    fn exists(&self, path: &Path) -> bool {
        OsFileSystem.exists(path)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>> {
        OsFileSystem.lock(path)
    }
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn wal_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    (tmp, dir)
}

fn open(fs: Arc<dyn FileSystem>, dir: &Path, file_size: u64, durability: Durability) -> Wal {
    Wal::open(
        fs,
        dir,
        WalOptions {
            file_size,
            durability,
        },
        1,
    )
    .expect("open wal")
}

fn append(wal: &Wal, entry: &WalEntry) -> Result<u64, Error> {
    let mut payload = Vec::new();
    let rtype = encode_entry(entry, &mut payload);
    wal.append_with(rtype, &payload, || ()).map(|(lsn, ())| lsn)
}

fn replay_all(
    dir: &Path,
    from_seq: u64,
    mode: RecoveryMode,
) -> Result<(Vec<WalEntry>, ReplayReport), Error> {
    let mut entries = Vec::new();
    let report = replay(&OsFileSystem, dir, from_seq, mode, |e, _| {
        entries.push(e);
        Ok(())
    })?;
    Ok((entries, report))
}

fn assert_same(got: &[WalEntry], want: &[WalEntry]) {
    assert_eq!(got.len(), want.len(), "entry count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(same_entry(g, w), "entry {i} differs: {g:?} vs {w:?}");
    }
}

fn points(series: u32, ts: &[i64]) -> WalEntry {
    WalEntry::Points(PointColumns {
        series: vec![series; ts.len()],
        timestamps: ts.to_vec(),
        values: ts.iter().map(|&t| t as f64 * 0.5).collect(),
    })
}

/// A varied sequence: series entries, small and larger point batches, NaNs.
fn sample_entries(count: usize) -> Vec<WalEntry> {
    (0..count)
        .map(|i| match i % 4 {
            0 => WalEntry::Series(vec![(
                SeriesId(i as u32),
                SeriesKey::new("cpu").with("host", format!("h{i}")),
            )]),
            1 => points(i as u32, &[i as i64, i as i64 + 10, i as i64 + 20]),
            2 => WalEntry::Points(grid_batch(7, (i % 9) as i64 + 1, i as i64 * 1000)),
            _ => WalEntry::Points(PointColumns {
                series: vec![1, 1, 2],
                timestamps: vec![i64::MIN, i64::MAX, -(i as i64)],
                values: vec![
                    f64::from_bits(0x7ff0_0000_0000_0001 + i as u64),
                    -0.0,
                    f64::INFINITY,
                ],
            }),
        })
        .collect()
}

/// Start offsets of the records of one file, and the file's length.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut offset = HEADER_LEN;
    while let Ok(Some(raw)) = read_record(bytes, offset, record::Framing::Marked) {
        starts.push(offset);
        offset = raw.next;
    }
    assert_eq!(offset, bytes.len(), "file parses to its end");
    starts
}

/// Writes `entries` with a fresh WAL in `dir`, one file, closed.
fn write_one_file(dir: &Path, entries: &[WalEntry]) -> PathBuf {
    let wal = open(Arc::new(OsFileSystem), dir, 1 << 30, Durability::None);
    for e in entries {
        append(&wal, e).expect("append");
    }
    let seq = wal.current_seq();
    wal.close().expect("close");
    record::file_path(dir, seq)
}

// ---------------------------------------------------------------------------------------
// Round trips, rotation, sequence numbers.

#[test]
fn entries_round_trip_across_automatic_rotations() {
    let (_tmp, dir) = wal_dir();
    let entries = sample_entries(300);
    let wal = open(Arc::new(OsFileSystem), &dir, 4096, Durability::Sync);
    let mut last_lsn = 0;
    for e in &entries {
        let lsn = append(&wal, e).expect("append");
        assert!(lsn > last_lsn, "LSNs increase");
        last_lsn = lsn;
    }
    wal.sync_to(last_lsn).expect("sync");
    assert_eq!(wal.durable_lsn(), last_lsn);
    wal.close().expect("close");

    let files = list_files(&OsFileSystem, &dir).expect("list");
    assert!(files.len() > 5, "rotated into {} files", files.len());
    let seqs: Vec<u64> = files.iter().map(|f| f.0).collect();
    assert_eq!(seqs, (1..=files.len() as u64).collect::<Vec<_>>());
    for (_, path) in &files {
        let len = std::fs::metadata(path).expect("stat").len();
        assert!(len <= 4096 || record_starts(&std::fs::read(path).expect("read")).len() == 1);
    }

    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &entries);
    assert_eq!(report.records, entries.len() as u64);
    assert_eq!(report.files, files.len());
    assert_eq!(report.max_seq, files.len() as u64);
    assert_eq!(report.truncated_tail, None);
    assert!(report.salvaged.is_empty());

    // Replaying from a later file skips exactly the earlier files' records.
    let skipped = record_starts(&std::fs::read(&files[0].1).expect("read")).len()
        + record_starts(&std::fs::read(&files[1].1).expect("read")).len();
    let (tail, report) = replay_all(&dir, 3, RecoveryMode::Strict).expect("replay");
    assert_same(&tail, &entries[skipped..]);
    assert_eq!(report.files, files.len() - 2);
}

#[test]
fn open_starts_a_new_file_after_existing_and_min_seq() {
    let (_tmp, dir) = wal_dir();
    std::fs::create_dir_all(&dir).expect("mkdir");
    for seq in [3u64, 5] {
        std::fs::write(record::file_path(&dir, seq), record::encode_header(seq)).expect("write");
    }
    std::fs::write(dir.join("00000000000000000009.wal.tmp"), b"junk").expect("write");
    std::fs::write(dir.join("notes.txt"), b"junk").expect("write");

    let wal = Wal::open(
        Arc::new(OsFileSystem),
        &dir,
        WalOptions {
            file_size: 1 << 20,
            durability: Durability::Sync,
        },
        1,
    )
    .expect("open");
    assert_eq!(wal.current_seq(), 6);
    wal.close().expect("close");
    let wal = Wal::open(
        Arc::new(OsFileSystem),
        &dir,
        WalOptions {
            file_size: 1 << 20,
            durability: Durability::Sync,
        },
        20,
    )
    .expect("open");
    assert_eq!(wal.current_seq(), 20);
    drop(wal);

    // Files 4 and 7..=19 never existed here: holes, which only salvage reads past.
    assert!(matches!(
        replay_all(&dir, 3, RecoveryMode::Strict),
        Err(Error::Corruption { .. })
    ));
    let (_, report) = replay_all(&dir, 3, RecoveryMode::Salvage).expect("replay");
    assert_eq!((report.files, report.max_seq), (4, 20));
    let holes: Vec<&Path> = report
        .salvaged
        .iter()
        .map(|(p, _, _)| p.as_path())
        .collect();
    assert_eq!(
        holes,
        [record::file_path(&dir, 4), record::file_path(&dir, 7)]
    );
    assert!(dir.join("notes.txt").exists());
}

#[test]
fn missing_directory_is_an_empty_log() {
    let (_tmp, dir) = wal_dir();
    let (entries, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert!(entries.is_empty());
    assert_eq!(report, ReplayReport::default());
}

#[test]
fn rotate_with_separates_old_records_from_new() {
    let (_tmp, dir) = wal_dir();
    let wal = open(Arc::new(OsFileSystem), &dir, 1 << 20, Durability::None);
    let a = points(1, &[1]);
    let b = points(1, &[2]);
    let c = points(1, &[3]);
    append(&wal, &a).expect("append");
    let lsn = append(&wal, &b).expect("append");
    let (seq, marker) = wal.rotate_with(|| "frozen").expect("rotate");
    assert_eq!((seq, marker), (2, "frozen"));
    assert!(wal.durable_lsn() >= lsn, "rotation fsyncs the old file");
    // Nothing appended since: no new empty file, same seq.
    assert_eq!(wal.rotate_with(|| ()).expect("rotate").0, 2);
    append(&wal, &c).expect("append");

    let (got, _) = replay_all(&dir, seq, RecoveryMode::Strict).expect("replay");
    assert_same(&got, std::slice::from_ref(&c));
    let (got, _) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &[a, b, c.clone()]);

    wal.remove_before(seq).expect("remove");
    assert!(!record::file_path(&dir, 1).exists());
    wal.remove_before(u64::MAX).expect("remove");
    assert!(
        record::file_path(&dir, 2).exists(),
        "the current file is never removed"
    );
    wal.close().expect("close");
    let (got, _) = replay_all(&dir, seq, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &[c]);
}

#[test]
fn close_refuses_appends_and_keeps_durability() {
    let (_tmp, dir) = wal_dir();
    let wal = open(Arc::new(OsFileSystem), &dir, 1 << 20, Durability::None);
    let lsn = append(&wal, &points(1, &[1])).expect("append");
    wal.sync_to(lsn).expect("no-op under None");
    assert_eq!(
        wal.durable_lsn(),
        0,
        "Durability::None does not fsync on sync_to"
    );
    wal.close().expect("close");
    assert_eq!(wal.durable_lsn(), lsn, "close fsyncs");
    wal.close().expect("closing twice is fine");
    assert!(matches!(append(&wal, &points(1, &[2])), Err(Error::Closed)));
    assert!(matches!(wal.rotate_with(|| ()), Err(Error::Closed)));
}

#[test]
fn oversized_record_is_refused_before_writing() {
    let (_tmp, dir) = wal_dir();
    let wal = open(Arc::new(OsFileSystem), &dir, 1 << 20, Durability::None);
    let huge = vec![0u8; MAX_RECORD_LEN + 1];
    let mut ran = false;
    let err = wal
        .append_with(RecordType::Points as u8, &huge, || ran = true)
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
    assert!(!ran);
    let lsn = append(&wal, &points(1, &[1])).expect("the WAL still works");
    assert!(lsn > 0);
}

// ---------------------------------------------------------------------------------------
// Durability: group commit and the periodic thread.

#[test]
fn concurrent_writers_share_fsyncs_and_all_records_replay() {
    const THREADS: u32 = 8;
    const PER_THREAD: i64 = 40;
    let (_tmp, dir) = wal_dir();
    let fs = Arc::new(FaultyFs::default());
    fs.faults.sync_delay_ms.store(5, Ordering::SeqCst);
    let wal = open(fs.clone(), &dir, 16 << 10, Durability::Sync);
    let syncs_before = fs.faults.syncs.load(Ordering::SeqCst);

    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let wal = &wal;
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    let lsn = append(wal, &points(t, &[i])).expect("append");
                    wal.sync_to(lsn).expect("sync");
                    assert!(wal.durable_lsn() >= lsn);
                }
            });
        }
    });
    let syncs = fs.faults.syncs.load(Ordering::SeqCst) - syncs_before;
    let appends = u64::from(THREADS) * PER_THREAD as u64;
    assert!(
        syncs < appends / 2,
        "{syncs} fsyncs for {appends} synced appends"
    );
    wal.close().expect("close");

    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_eq!(report.records, appends);
    let mut next = vec![0i64; THREADS as usize];
    for entry in got {
        let WalEntry::Points(cols) = entry else {
            panic!("unexpected entry")
        };
        let t = cols.series[0] as usize;
        assert_eq!(
            cols.timestamps,
            vec![next[t]],
            "each writer's records in its order"
        );
        next[t] += 1;
    }
    assert!(next.iter().all(|&n| n == PER_THREAD));
}

#[test]
fn periodic_durability_syncs_in_the_background() {
    let (_tmp, dir) = wal_dir();
    let wal = open(
        Arc::new(OsFileSystem),
        &dir,
        1 << 20,
        Durability::Periodic(Duration::from_millis(5)),
    );
    let lsn = append(&wal, &points(1, &[1])).expect("append");
    let deadline = Instant::now() + Duration::from_secs(10);
    while wal.durable_lsn() < lsn {
        assert!(Instant::now() < deadline, "background fsync never happened");
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(wal); // stops and joins the thread
}

// ---------------------------------------------------------------------------------------
// Torn tails and damage.

#[test]
fn torn_tail_is_truncated_at_every_offset_of_the_last_record() {
    let entries = sample_entries(6);
    let (_tmp, dir) = wal_dir();
    let path = write_one_file(&dir, &entries);
    let original = std::fs::read(&path).expect("read");
    let starts = record_starts(&original);
    let last = *starts.last().expect("records");
    let kept = &entries[..entries.len() - 1];
    let extra = points(9, &[99]);

    for cut in last..original.len() {
        let (_tmp, dir) = wal_dir();
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join(path.file_name().expect("name"));
        std::fs::write(&path, &original[..cut]).expect("write");

        let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
        assert_same(&got, kept);
        let expected_tail = (cut > last).then(|| (path.clone(), last as u64));
        assert_eq!(report.truncated_tail, expected_tail, "cut at {cut}");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), last as u64);

        // The log goes on after the repair.
        let wal = Wal::open(
            Arc::new(OsFileSystem),
            &dir,
            WalOptions {
                file_size: 1 << 20,
                durability: Durability::Sync,
            },
            report.max_seq + 1,
        )
        .expect("reopen");
        let lsn = append(&wal, &extra).expect("append");
        wal.sync_to(lsn).expect("sync");
        wal.close().expect("close");
        let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay again");
        assert_eq!(report.truncated_tail, None);
        assert_same(&got[..kept.len()], kept);
        assert_same(&got[kept.len()..], std::slice::from_ref(&extra));
    }
}

#[test]
fn half_created_newest_file_is_removed() {
    let entries = sample_entries(3);
    let (_tmp, dir) = wal_dir();
    write_one_file(&dir, &entries);
    let second = record::file_path(&dir, 2);
    let header = record::encode_header(2);

    let mut cases: Vec<Vec<u8>> = (0..HEADER_LEN).map(|cut| header[..cut].to_vec()).collect();
    cases.push(vec![0; HEADER_LEN]); // size made durable, data not
    for bytes in cases {
        std::fs::write(&second, &bytes).expect("write");
        let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
        assert_same(&got, &entries);
        assert!(!second.exists(), "{} header bytes", bytes.len());
        // Even an empty file is reported: a truncation to nothing looks the same.
        assert_eq!(report.truncated_tail, Some((second.clone(), 0)));
        // Its seq is free again, so the next file takes it and leaves no hole.
        assert_eq!(report.max_seq, 1, "{} header bytes", bytes.len());
    }

    // A complete header with no records is simply an empty file.
    std::fs::write(&second, header).expect("write");
    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &entries);
    assert!(second.exists());
    assert_eq!(report.truncated_tail, None);
}

/// Every damaged variant of `bytes`: (byte index, damaged copy).
fn bit_flips(bytes: &[u8]) -> impl Iterator<Item = (usize, Vec<u8>)> + '_ {
    (0..bytes.len()).flat_map(move |i| {
        [1u8 << (i % 8), 0xff].into_iter().map(move |mask| {
            let mut damaged = bytes.to_vec();
            damaged[i] ^= mask;
            (i, damaged)
        })
    })
}

/// Index of the record that contains byte `i` (None for the header).
fn record_of(starts: &[usize], i: usize) -> Option<usize> {
    (i >= HEADER_LEN).then(|| starts.iter().rposition(|&s| s <= i).expect("in a record"))
}

#[test]
fn damage_in_the_newest_file_truncates_or_fails_but_never_lies() {
    // Small entries: every damaged copy costs an fsync (of the truncation).
    let entries: Vec<WalEntry> = sample_entries(4)
        .into_iter()
        .filter(|e| match e {
            WalEntry::Points(cols) => cols.len() <= 3,
            WalEntry::Series(_) => true,
        })
        .collect();
    assert_eq!(entries.len(), 3);
    let (_tmp, dir) = wal_dir();
    let path = write_one_file(&dir, &entries);
    let name = path.file_name().expect("name").to_owned();
    let original = std::fs::read(&path).expect("read");
    let starts = record_starts(&original);

    for mode in [RecoveryMode::Strict, RecoveryMode::Salvage] {
        for (i, damaged) in bit_flips(&original) {
            if mode == RecoveryMode::Salvage && i >= HEADER_LEN && damaged[i] ^ original[i] != 0xff
            {
                continue; // records of the newest file are treated alike in both modes
            }
            let (_tmp, dir) = wal_dir();
            std::fs::create_dir_all(&dir).expect("mkdir");
            let path = dir.join(&name);
            std::fs::write(&path, &damaged).expect("write");
            let result = replay_all(&dir, 1, mode);
            match record_of(&starts, i) {
                None => match result {
                    Err(Error::Corruption { file, offset, .. }) => {
                        assert_eq!((file, offset), (path.clone(), 0), "byte {i}");
                        assert_eq!(mode, RecoveryMode::Strict, "salvage skips a bad header");
                    }
                    Err(Error::UnsupportedVersion { .. }) => assert!((8..12).contains(&i)),
                    Ok((got, report)) => {
                        assert_eq!(mode, RecoveryMode::Salvage, "byte {i}");
                        assert!(got.is_empty(), "nothing from a file with a bad header");
                        assert_eq!(report.salvaged.len(), 1);
                        assert_eq!((&report.salvaged[0].0, report.salvaged[0].1), (&path, 0));
                    }
                    Err(other) => panic!("byte {i}: {other}"),
                },
                Some(k) => {
                    let (got, report) = result.unwrap_or_else(|e| panic!("byte {i}: {e}"));
                    assert_same(&got, &entries[..k]);
                    assert_eq!(
                        report.truncated_tail,
                        Some((path.clone(), starts[k] as u64)),
                        "byte {i}"
                    );
                    assert_eq!(
                        std::fs::metadata(&path).expect("stat").len(),
                        starts[k] as u64
                    );
                }
            }
        }
    }
}

/// Writes `count` small records into one file, fsyncing after each of the first
/// `synced` (the rest are appended without a durability promise, as under `Periodic`
/// between ticks or under group commit). Returns the entries and the file's bytes.
fn partly_synced_file(dir: &Path, count: usize, synced: usize) -> (Vec<WalEntry>, PathBuf) {
    let wal = open(
        Arc::new(OsFileSystem),
        dir,
        1 << 30,
        Durability::Periodic(Duration::from_secs(3600)),
    );
    let entries: Vec<WalEntry> = (0..count)
        .map(|i| points(i as u32 % 3, &[i as i64]))
        .collect();
    for (i, e) in entries.iter().enumerate() {
        let lsn = append(&wal, e).expect("append");
        if i < synced {
            wal.sync_to(lsn).expect("sync");
        }
    }
    let path = record::file_path(dir, wal.current_seq());
    // Dropped, not closed: a close would fsync, and the marks are already written.
    drop(wal);
    (entries, path)
}

fn without(entries: &[WalEntry], k: usize) -> Vec<WalEntry> {
    let mut kept = entries.to_vec();
    kept.remove(k);
    kept
}

#[test]
fn damage_before_a_later_durable_mark_is_corruption_not_a_torn_tail() {
    // Record 6 of 13 (index 5), every record fsynced before the next was written: the
    // records after it say the file was durable past it.
    let (_tmp, dir) = wal_dir();
    let (entries, path) = partly_synced_file(&dir, 13, 13);
    let original = std::fs::read(&path).expect("read");
    let starts = record_starts(&original);
    let name = path.file_name().expect("name").to_owned();
    for k in [0usize, 5, 11] {
        for i in starts[k]..starts[k + 1] {
            let mut damaged = original.clone();
            damaged[i] ^= 0x04;
            let (_tmp, dir) = wal_dir();
            std::fs::create_dir_all(&dir).expect("mkdir");
            let path = dir.join(&name);
            std::fs::write(&path, &damaged).expect("write");

            match replay_all(&dir, 1, RecoveryMode::Strict) {
                Err(Error::Corruption { file, offset, what }) => {
                    assert_eq!(
                        (&file, offset),
                        (&path, starts[k] as u64),
                        "byte {i}: {what}"
                    );
                    assert!(what.contains("not a torn write"), "{what}");
                }
                other => panic!("record {k} byte {i}: expected corruption, got {other:?}"),
            }
            assert_eq!(
                std::fs::read(&path).expect("read"),
                damaged,
                "strict cuts nothing"
            );

            let (got, report) = replay_all(&dir, 1, RecoveryMode::Salvage)
                .unwrap_or_else(|e| panic!("record {k} byte {i}: {e}"));
            assert_same(&got, &without(&entries, k));
            assert_eq!(report.truncated_tail, None);
            assert_eq!(report.salvaged.len(), 1);
            assert_eq!(
                (&report.salvaged[0].0, report.salvaged[0].1),
                (&path, starts[k] as u64)
            );
        }
    }
    // The last record has nothing after it: a torn tail, cut in both modes.
    let last = *starts.last().expect("records");
    for mode in [RecoveryMode::Strict, RecoveryMode::Salvage] {
        let mut damaged = original.clone();
        damaged[last + 20] ^= 0x01;
        let (_tmp, dir) = wal_dir();
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join(&name);
        std::fs::write(&path, &damaged).expect("write");
        let (got, report) = replay_all(&dir, 1, mode).expect("replay");
        assert_same(&got, &entries[..12]);
        assert_eq!(report.truncated_tail, Some((path.clone(), last as u64)));
    }
}

#[test]
fn damage_after_the_last_durable_mark_is_a_torn_write_even_with_intact_records_after_it() {
    // Records 1-5 fsynced, 6-13 not: a power cut may persist the pages of 8-13 and not
    // those of 7. Damage at 7 (index 6) is a torn write: the log ends there, in both
    // modes. Damage at 3 (index 2) is below the mark the unsynced records carry.
    let (_tmp, dir) = wal_dir();
    let (entries, path) = partly_synced_file(&dir, 13, 5);
    let original = std::fs::read(&path).expect("read");
    let starts = record_starts(&original);
    let name = path.file_name().expect("name").to_owned();
    let write = |bytes: &[u8]| {
        let (tmp, dir) = wal_dir();
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(&name), bytes).expect("write");
        (tmp, dir)
    };
    for k in [5usize, 6, 9] {
        for mode in [RecoveryMode::Strict, RecoveryMode::Salvage] {
            let mut damaged = original.clone();
            damaged[starts[k] + 1] ^= 0x10; // the length
            let (_tmp, dir) = write(&damaged);
            let (got, report) = replay_all(&dir, 1, mode).expect("torn write");
            assert_same(&got, &entries[..k]);
            assert_eq!(
                report.truncated_tail,
                Some((dir.join(&name), starts[k] as u64)),
                "record {k}"
            );
            assert_eq!(
                std::fs::metadata(dir.join(&name)).expect("stat").len(),
                starts[k] as u64,
                "cut there"
            );
        }
    }
    for k in [0usize, 2, 4] {
        let mut damaged = original.clone();
        damaged[starts[k] + RECORD_HEADER_LEN_V2] ^= 0x01; // the payload
        let (_tmp, dir) = write(&damaged);
        match replay_all(&dir, 1, RecoveryMode::Strict) {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, starts[k] as u64),
            other => panic!("record {k}: expected corruption, got {other:?}"),
        }
        let (got, report) = replay_all(&dir, 1, RecoveryMode::Salvage).expect("salvage");
        assert_same(&got, &without(&entries, k));
        assert_eq!(report.truncated_tail, None);
    }
    // Unsynced records carry the mark of the last fsync: the end of record 5.
    for &k in &[5usize, 12] {
        let raw = read_record(&original, starts[k], record::Framing::Marked)
            .expect("read")
            .expect("record");
        assert_eq!(raw.durable, Some(starts[5] as u64), "record {k}");
    }
}

#[test]
fn damage_in_an_older_file_is_corruption_or_salvaged() {
    let first_entries = sample_entries(4);
    let second_entries = sample_entries(3);
    let (_tmp, dir) = wal_dir();
    let wal = open(Arc::new(OsFileSystem), &dir, 1 << 20, Durability::None);
    for e in &first_entries {
        append(&wal, e).expect("append");
    }
    let (second_seq, ()) = wal.rotate_with(|| ()).expect("rotate");
    for e in &second_entries {
        append(&wal, e).expect("append");
    }
    wal.close().expect("close");
    let first = std::fs::read(record::file_path(&dir, 1)).expect("read");
    let second = std::fs::read(record::file_path(&dir, second_seq)).expect("read");
    let starts = record_starts(&first);

    for (i, damaged) in bit_flips(&first) {
        let (_tmp, dir) = wal_dir();
        std::fs::create_dir_all(&dir).expect("mkdir");
        let first_path = record::file_path(&dir, 1);
        std::fs::write(&first_path, &damaged).expect("write");
        std::fs::write(record::file_path(&dir, second_seq), &second).expect("write");
        let offset = record_of(&starts, i).map_or(0, |k| starts[k]) as u64;
        // Salvage keeps every intact record: all but the damaged one (none at all from
        // a file whose header is damaged).
        let kept: Vec<WalEntry> = match record_of(&starts, i) {
            Some(k) => first_entries
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .map(|(_, e)| e.clone())
                .collect(),
            None => Vec::new(),
        };

        match replay_all(&dir, 1, RecoveryMode::Strict) {
            Err(Error::Corruption {
                file, offset: at, ..
            }) => {
                assert_eq!((file, at), (first_path.clone(), offset), "byte {i}");
            }
            Err(Error::UnsupportedVersion { .. }) if (8..12).contains(&i) => continue,
            other => panic!("byte {i}: expected corruption, got {other:?}"),
        }
        let (got, report) =
            replay_all(&dir, 1, RecoveryMode::Salvage).unwrap_or_else(|e| panic!("byte {i}: {e}"));
        assert_same(&got[..kept.len()], &kept);
        assert_same(&got[kept.len()..], &second_entries);
        assert_eq!(report.salvaged.len(), 1, "byte {i}");
        assert_eq!(
            (&report.salvaged[0].0, report.salvaged[0].1),
            (&first_path, offset)
        );
        assert_eq!(report.truncated_tail, None);
        assert_eq!(
            std::fs::read(&first_path).expect("read"),
            damaged,
            "salvage never rewrites old files"
        );
    }
}

#[test]
fn half_created_file_that_is_not_the_newest_is_corruption() {
    let (_tmp, dir) = wal_dir();
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(record::file_path(&dir, 1), &record::encode_header(1)[..10]).expect("write");
    std::fs::write(record::file_path(&dir, 2), record::encode_header(2)).expect("write");
    let err = replay_all(&dir, 1, RecoveryMode::Strict).unwrap_err();
    assert!(matches!(err, Error::Corruption { offset: 0, .. }), "{err}");
    let (_, report) = replay_all(&dir, 1, RecoveryMode::Salvage).expect("salvage");
    assert_eq!(report.salvaged.len(), 1);
}

/// Three files of two records each, closed; returns their entries per file.
fn three_files(dir: &Path) -> Vec<Vec<WalEntry>> {
    let wal = open(Arc::new(OsFileSystem), dir, 1 << 20, Durability::Sync);
    let mut per_file = Vec::new();
    for f in 0..3u32 {
        if f > 0 {
            wal.rotate_with(|| ()).expect("rotate");
        }
        let entries = vec![points(f, &[1, 2]), points(f, &[3])];
        for e in &entries {
            append(&wal, e).expect("append");
        }
        per_file.push(entries);
    }
    assert_eq!(wal.current_seq(), 3);
    wal.close().expect("close");
    per_file
}

#[test]
fn a_file_missing_after_the_checkpoint_is_corruption_or_reported_lost() {
    for missing in [1u64, 2] {
        let (_tmp, dir) = wal_dir();
        let per_file = three_files(&dir);
        let gone = record::file_path(&dir, missing);
        std::fs::remove_file(&gone).expect("remove");

        match replay_all(&dir, 1, RecoveryMode::Strict) {
            Err(Error::Corruption { file, offset, what }) => {
                assert_eq!((&file, offset), (&gone, 0), "{what}");
                assert!(what.contains("missing"), "{what}");
            }
            other => panic!("file {missing} deleted: {other:?}"),
        }
        let (got, report) = replay_all(&dir, 1, RecoveryMode::Salvage).expect("salvage");
        let kept: Vec<WalEntry> = (1..=3u64)
            .filter(|&seq| seq != missing)
            .flat_map(|seq| per_file[seq as usize - 1].clone())
            .collect();
        assert_same(&got, &kept);
        assert_eq!(report.salvaged.len(), 1, "{:?}", report.salvaged);
        assert_eq!((&report.salvaged[0].0, report.salvaged[0].1), (&gone, 0));
    }

    // Files below the checkpoint are not expected: replay from file 2 does not miss 1.
    let (_tmp, dir) = wal_dir();
    let per_file = three_files(&dir);
    std::fs::remove_file(record::file_path(&dir, 1)).expect("remove");
    let (got, report) = replay_all(&dir, 2, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &per_file[1..].concat());
    assert!(report.salvaged.is_empty());
}

#[test]
fn a_removed_half_created_file_leaves_no_hole_for_the_next_open() {
    let (_tmp, dir) = wal_dir();
    let entries = sample_entries(2);
    write_one_file(&dir, &entries);
    std::fs::write(record::file_path(&dir, 2), &record::encode_header(2)[..5]).expect("write");
    let (_, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    let wal = Wal::open(
        Arc::new(OsFileSystem),
        &dir,
        WalOptions {
            file_size: 1 << 20,
            durability: Durability::Sync,
        },
        report.max_seq + 1,
    )
    .expect("reopen");
    assert_eq!(wal.current_seq(), 2, "the removed file's seq is reused");
    let extra = points(7, &[5]);
    append(&wal, &extra).expect("append");
    wal.close().expect("close");
    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("no hole");
    assert_same(&got[..entries.len()], &entries);
    assert_same(&got[entries.len()..], std::slice::from_ref(&extra));
    assert!(report.salvaged.is_empty());
}

#[test]
fn an_emptied_file_is_reported_when_newest_and_corruption_when_not() {
    let (_tmp, dir) = wal_dir();
    let per_file = three_files(&dir);
    // The newest: what a crash while creating it leaves, but also what a truncation of
    // a file with records leaves. Replay goes on, and says so.
    let newest = record::file_path(&dir, 3);
    std::fs::write(&newest, b"").expect("empty");
    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &per_file[..2].concat());
    assert_eq!(report.truncated_tail, Some((newest, 0)));

    // Any other file: its header was fsynced before the next file existed.
    let second = record::file_path(&dir, 2);
    std::fs::write(&second, b"").expect("empty");
    std::fs::write(record::file_path(&dir, 3), record::encode_header(3)).expect("write");
    match replay_all(&dir, 1, RecoveryMode::Strict) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (second.clone(), 0))
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let (got, report) = replay_all(&dir, 1, RecoveryMode::Salvage).expect("salvage");
    assert_same(&got, &per_file[0]);
    assert_eq!(report.salvaged.len(), 1);
    assert_eq!((&report.salvaged[0].0, report.salvaged[0].1), (&second, 0));
}

#[test]
fn newer_format_version_is_refused() {
    let (_tmp, dir) = wal_dir();
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut bytes = encode_header_with_version(1, record::FORMAT_VERSION + 1).to_vec();
    record::frame_record(
        RecordType::Points as u8,
        HEADER_LEN as u64,
        b"future",
        &mut bytes,
    );
    std::fs::write(record::file_path(&dir, 1), &bytes).expect("write");
    for mode in [RecoveryMode::Strict, RecoveryMode::Salvage] {
        match replay_all(&dir, 1, mode) {
            Err(Error::UnsupportedVersion {
                file,
                found,
                supported,
            }) => {
                assert_eq!(file, record::file_path(&dir, 1));
                assert_eq!((found, supported), (3, 2));
            }
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }
    assert_eq!(
        std::fs::read(record::file_path(&dir, 1)).expect("read"),
        bytes,
        "left untouched"
    );
}

#[test]
fn visitor_errors_stop_replay() {
    let (_tmp, dir) = wal_dir();
    write_one_file(&dir, &sample_entries(3));
    let mut seen = 0;
    let err = replay(&OsFileSystem, &dir, 1, RecoveryMode::Strict, |_, _| {
        seen += 1;
        Err(Error::Internal("stop".into()))
    })
    .unwrap_err();
    assert!(matches!(err, Error::Internal(_)));
    assert_eq!(seen, 1);
}

// ---------------------------------------------------------------------------------------
// Injected I/O failures.

#[test]
fn failed_write_is_cut_off_and_the_next_append_starts_a_new_file() {
    let (_tmp, dir) = wal_dir();
    let fs = Arc::new(FaultyFs::default());
    let wal = open(fs.clone(), &dir, 1 << 20, Durability::Sync);
    let a = points(1, &[1, 2, 3]);
    let b = points(2, &[4, 5, 6]);
    let c = points(3, &[7, 8, 9]);
    append(&wal, &a).expect("append");
    let len_before = std::fs::metadata(record::file_path(&dir, 1))
        .expect("stat")
        .len();

    fs.faults.fail_appends.store(1, Ordering::SeqCst);
    let mut payload = Vec::new();
    let rtype = encode_entry(&b, &mut payload);
    let mut ran = false;
    let err = wal.append_with(rtype, &payload, || ran = true).unwrap_err();
    assert!(
        matches!(&err, Error::Io { op: "write", path, .. } if *path == record::file_path(&dir, 1)),
        "{err}"
    );
    assert!(!ran, "then() runs only after a successful write");
    assert_eq!(
        std::fs::metadata(record::file_path(&dir, 1))
            .expect("stat")
            .len(),
        len_before
    );

    let lsn = append(&wal, &c).expect("append after a failed write");
    assert_eq!(wal.current_seq(), 2, "the failed file is sealed");
    wal.sync_to(lsn).expect("sync");
    wal.close().expect("close");

    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &[a, c]);
    assert_eq!((report.files, report.truncated_tail), (2, None));
}

#[test]
fn failed_cut_after_a_failed_write_poisons() {
    let (_tmp, dir) = wal_dir();
    let fs = Arc::new(FaultyFs::default());
    let wal = open(fs.clone(), &dir, 1 << 20, Durability::Sync);
    let a = points(1, &[1]);
    append(&wal, &a).expect("append");
    fs.faults.fail_appends.store(1, Ordering::SeqCst);
    fs.faults.fail_truncates.store(true, Ordering::SeqCst);
    assert!(matches!(
        append(&wal, &points(1, &[2])),
        Err(Error::Io { op: "write", .. })
    ));
    fs.faults.fail_truncates.store(false, Ordering::SeqCst);
    assert!(matches!(
        append(&wal, &points(1, &[3])),
        Err(Error::Poisoned(_))
    ));
    drop(wal);

    // On reopen the half-written record is the torn tail of the newest file.
    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &[a]);
    assert!(report.truncated_tail.is_some());
}

#[test]
fn failed_fsync_poisons_every_later_call() {
    let (_tmp, dir) = wal_dir();
    let fs = Arc::new(FaultyFs::default());
    let wal = open(fs.clone(), &dir, 1 << 20, Durability::Sync);
    let lsn = append(&wal, &points(1, &[1])).expect("append");
    fs.faults.fail_syncs.store(true, Ordering::SeqCst);
    let err = wal.sync_to(lsn).unwrap_err();
    assert!(
        matches!(&err, Error::Io { op: "fsync", path, .. } if *path == record::file_path(&dir, 1)),
        "{err}"
    );
    assert!(wal.durable_lsn() < lsn);

    // Even once the disk "recovers", nothing is retried.
    fs.faults.fail_syncs.store(false, Ordering::SeqCst);
    assert!(matches!(wal.sync_to(lsn), Err(Error::Poisoned(_))));
    assert!(matches!(
        append(&wal, &points(1, &[2])),
        Err(Error::Poisoned(_))
    ));
    assert!(matches!(wal.rotate_with(|| ()), Err(Error::Poisoned(_))));
    assert!(matches!(wal.close(), Err(Error::Poisoned(_))));
}

#[test]
fn failed_fsync_during_rotation_poisons() {
    let (_tmp, dir) = wal_dir();
    let fs = Arc::new(FaultyFs::default());
    let wal = open(fs.clone(), &dir, 1 << 20, Durability::None);
    append(&wal, &points(1, &[1])).expect("append");
    fs.faults.fail_syncs.store(true, Ordering::SeqCst);
    assert!(matches!(
        wal.rotate_with(|| ()),
        Err(Error::Io { op: "fsync", .. })
    ));
    fs.faults.fail_syncs.store(false, Ordering::SeqCst);
    assert!(matches!(
        append(&wal, &points(1, &[2])),
        Err(Error::Poisoned(_))
    ));
    assert_eq!(wal.current_seq(), 1, "no new file after a failed fsync");
}

// ---------------------------------------------------------------------------------------
// Throughput (release mode: cargo test --release --lib wal -- --ignored --nocapture).

/// Appends `batches` encoded copies of `batch` from `threads` writers; returns the time.
fn timed_appends(
    dir: &Path,
    batch: &PointColumns,
    batches: usize,
    threads: usize,
    durability: Durability,
) -> Duration {
    let wal = open(Arc::new(OsFileSystem), dir, 64 << 20, durability);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut payload = Vec::new();
                for _ in 0..batches / threads {
                    payload.clear();
                    let rtype = encode_points(
                        &batch.series,
                        &batch.timestamps,
                        &batch.values,
                        &mut payload,
                    );
                    let (lsn, ()) = wal.append_with(rtype, &payload, || ()).expect("append");
                    wal.sync_to(lsn).expect("sync");
                }
            });
        }
    });
    let elapsed = started.elapsed();
    wal.close().expect("close");
    elapsed
}

#[test]
#[ignore = "benchmark; run in release mode with --ignored --nocapture"]
fn throughput_10m_points() {
    const BATCHES: usize = 1000;
    let batch = grid_batch(1000, 10, 1_700_000_000_000_000_000);
    let points_total = (BATCHES * batch.len()) as f64;
    let mps = |d: Duration| points_total / d.as_secs_f64() / 1e6;
    println!(
        "WAL throughput, {BATCHES} batches of {} points (1000 series x 10 timestamps):",
        batch.len()
    );

    let mut payload = Vec::new();
    let started = Instant::now();
    for _ in 0..BATCHES {
        payload.clear();
        encode_points(
            &batch.series,
            &batch.timestamps,
            &batch.values,
            &mut payload,
        );
    }
    let encode = started.elapsed();
    println!(
        "  payload {:.2} bytes/point; encode {encode:?} ({:.0} M points/s, {:.1} us per batch)",
        payload.len() as f64 / batch.len() as f64,
        mps(encode),
        encode.as_secs_f64() * 1e6 / BATCHES as f64
    );

    for (threads, durability) in [
        (1, Durability::None),
        (1, Durability::Sync),
        (2, Durability::Sync),
        (4, Durability::Sync),
    ] {
        let (_tmp, dir) = wal_dir();
        let took = timed_appends(&dir, &batch, BATCHES, threads, durability);
        println!(
            "  encode+append{} with {threads} writer(s): {took:?} ({:.1} M points/s)",
            if durability == Durability::Sync {
                "+fsync per batch"
            } else {
                " (no fsync)"
            },
            mps(took)
        );
    }

    let (_tmp, dir) = wal_dir();
    timed_appends(&dir, &batch, BATCHES, 1, Durability::None);
    let wal_bytes: u64 = list_files(&OsFileSystem, &dir)
        .expect("list")
        .iter()
        .map(|(_, p)| std::fs::metadata(p).expect("stat").len())
        .sum();
    let started = Instant::now();
    let mut replayed = 0usize;
    let report = replay(&OsFileSystem, &dir, 1, RecoveryMode::Strict, |e, _| {
        if let WalEntry::Points(cols) = e {
            replayed += cols.len();
        }
        Ok(())
    })
    .expect("replay");
    let took = started.elapsed();
    assert_eq!(replayed as f64, points_total);
    println!(
        "  replay (read+check+decode) of {wal_bytes} bytes in {} files: {took:?} ({:.1} M points/s)",
        report.files,
        mps(took)
    );
}

// ---------------------------------------------------------------------------------------
// Format stability.

/// The entries of the golden file `testdata/v1.wal`.
fn golden_entries() -> Vec<WalEntry> {
    vec![
        WalEntry::Series(vec![
            (
                SeriesId(0),
                SeriesKey::new("cpu_usage")
                    .with("host", "h1")
                    .with("region", "eu"),
            ),
            (SeriesId(1), SeriesKey::new("mem_bytes")),
        ]),
        WalEntry::Points(PointColumns {
            series: vec![0, 0, 0, 1, 1],
            timestamps: vec![
                1_700_000_000_000_000_000,
                1_700_000_010_000_000_000,
                1_700_000_020_000_000_000,
                1_700_000_000_000_000_000,
                1_699_999_990_000_000_000,
            ],
            values: vec![
                0.25,
                1e300,
                -0.0,
                f64::from_bits(0x7ff8_0000_dead_beef),
                f64::NEG_INFINITY,
            ],
        }),
    ]
}

/// Version 1 files (written by earlier builds, no durable marks) must stay readable:
/// the golden file `testdata/v1.wal` is their framing around the same entries.
#[test]
fn golden_v1_file_still_reads() {
    const GOLDEN: &[u8] = include_bytes!("testdata/v1.wal");
    let mut built = encode_header_with_version(1, 1).to_vec();
    for entry in golden_entries() {
        let mut payload = Vec::new();
        let rtype = encode_entry(&entry, &mut payload);
        record::frame_record_v1(rtype, &payload, &mut built);
    }
    assert_eq!(built, GOLDEN, "the v1 entry encoding changed");

    let (_tmp, dir) = wal_dir();
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(record::file_path(&dir, 1), GOLDEN).expect("write");
    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &golden_entries());
    assert_eq!(report.truncated_tail, None);
}

/// Version 2 files must stay readable, and this build must still write them byte for
/// byte: `testdata/v2.wal` is what a `Durability::Sync` writer makes of the golden
/// entries, each record written after the one before it was fsynced (so each record's
/// durable mark is its own offset). Regenerate (only for a new format version, never
/// to paper over a change) with `SEDIMENTDB_BLESS=1 cargo test --lib wal::tests::golden`.
#[test]
fn golden_v2_file_still_reads_and_is_what_the_writer_writes() {
    const GOLDEN: &[u8] = include_bytes!("testdata/v2.wal");
    let mut built = record::encode_header(1).to_vec();
    for entry in golden_entries() {
        let mut payload = Vec::new();
        let rtype = encode_entry(&entry, &mut payload);
        let at = built.len() as u64;
        record::frame_record(rtype, at, &payload, &mut built);
    }
    if std::env::var_os("SEDIMENTDB_BLESS").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/wal/testdata/v2.wal");
        std::fs::write(path, &built).expect("bless");
        return;
    }
    assert_eq!(built, GOLDEN, "the v2 encoding changed");

    let (_tmp, dir) = wal_dir();
    let wal = open(Arc::new(OsFileSystem), &dir, 1 << 20, Durability::Sync);
    for entry in golden_entries() {
        let lsn = append(&wal, &entry).expect("append");
        wal.sync_to(lsn).expect("sync");
    }
    wal.close().expect("close");
    let path = record::file_path(&dir, 1);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        GOLDEN,
        "the writer's bytes"
    );
    let (got, report) = replay_all(&dir, 1, RecoveryMode::Strict).expect("replay");
    assert_same(&got, &golden_entries());
    assert_eq!(report.truncated_tail, None);
}

mod arbitrary_files {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the bytes, replay returns (an error or entries from intact records)
        /// and never panics; an older file is never modified.
        #[test]
        fn replay_of_arbitrary_files_never_panics(
            body in prop::collection::vec(any::<u8>(), 0..300),
            valid_prefix in 0usize..3,
            older in any::<bool>(),
        ) {
            let (_tmp, dir) = wal_dir();
            std::fs::create_dir_all(&dir).expect("mkdir");
            let mut bytes = Vec::new();
            let intact = sample_entries(valid_prefix.saturating_sub(1));
            if valid_prefix > 0 {
                bytes.extend_from_slice(&record::encode_header(1));
                for entry in &intact {
                    let mut payload = Vec::new();
                    let rtype = encode_entry(entry, &mut payload);
                    let at = bytes.len() as u64;
                    record::frame_record(rtype, at, &payload, &mut bytes);
                }
            }
            bytes.extend_from_slice(&body);
            std::fs::write(record::file_path(&dir, 1), &bytes).expect("write");
            if older {
                std::fs::write(record::file_path(&dir, 2), record::encode_header(2)).expect("write");
            }
            for mode in [RecoveryMode::Salvage, RecoveryMode::Strict] {
                if let Ok((got, _)) = replay_all(&dir, 1, mode) {
                    // Random bytes do not pass a CRC-32: only the intact records come back.
                    prop_assert!(got.len() <= intact.len());
                    assert_same(&got, &intact[..got.len()]);
                }
            }
            if older {
                prop_assert_eq!(std::fs::read(record::file_path(&dir, 1)).expect("read"), bytes);
            }
        }
    }
}
