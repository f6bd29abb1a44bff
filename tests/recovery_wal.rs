//! Damage to the WAL of a closed database, seen through `Db::open`: what is refused by
//! default, what `RecoveryMode::Salvage` keeps, and what `recovery_report()` says.
//! (Record-level cases are in `src/wal/tests.rs`; this file checks the whole open.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sedimentdb::{
    Db, Durability, Error, Options, RecoveryMode, Selector, SeriesKey, TimeRange, WriteBatch,
};

/// Points per batch: enough that one points record outgrows the smallest WAL file
/// size, so every record lands in a file of its own.
const POINTS: i64 = 600;

fn options() -> Options {
    Options::default()
        .durability(Durability::Sync)
        .wal_file_size(4096)
        .head_window(std::time::Duration::from_secs(1 << 30))
}

fn key(batch: usize) -> SeriesKey {
    SeriesKey::new("m").with("batch", batch.to_string())
}

/// Writes `batches` batches, each a new series, and closes. Returns the WAL files in
/// order: with the small file size each record (series, then points) is a file, so
/// batch `b`'s series entry is file `2b` and its points file `2b + 1`.
fn write_batches(dir: &Path, batches: usize) -> Vec<PathBuf> {
    let db = Db::open(dir, options()).unwrap();
    for b in 0..batches {
        let mut batch = WriteBatch::new();
        for t in 0..POINTS {
            batch.push_key(&key(b), t, (b as i64 * 1000 + t) as f64);
        }
        db.write(&batch).unwrap();
    }
    db.close().unwrap();
    wal_files(dir)
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

/// Points per series key.
fn contents(db: &Db) -> BTreeMap<String, usize> {
    db.select(&Selector::any(), TimeRange::all())
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (s.key.to_string(), s.iter().count())
        })
        .collect()
}

fn salvage() -> Options {
    options().recovery_mode(RecoveryMode::Salvage)
}

#[test]
fn a_wal_file_deleted_from_the_middle_fails_open_and_salvage_reports_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_batches(dir.path(), 3);
    assert_eq!(files.len(), 6, "{files:?}");
    let gone = files[3].clone(); // batch 1's points
    std::fs::remove_file(&gone).unwrap();

    match Db::open(dir.path(), options()) {
        Err(Error::Corruption { file, offset, what }) => {
            assert_eq!((&file, offset), (&gone, 0), "{what}");
        }
        other => panic!("expected corruption naming {gone:?}, got {other:?}"),
    }
    let db = Db::open(dir.path(), salvage()).unwrap();
    let got = contents(&db);
    assert_eq!(got.get(&key(0).to_string()), Some(&(POINTS as usize)));
    assert_eq!(
        got.get(&key(1).to_string()),
        None,
        "its points were in the lost file"
    );
    assert_eq!(got.get(&key(2).to_string()), Some(&(POINTS as usize)));
    let salvaged = &db.recovery_report().salvaged;
    assert!(
        salvaged
            .iter()
            .any(|(f, off, what)| *f == gone && *off == 0 && what.contains("missing")),
        "{salvaged:?}"
    );
}

#[test]
fn a_wal_file_emptied_is_reported_and_fails_open_unless_newest() {
    // Not the newest: the header was fsynced before the next file existed.
    let dir = tempfile::tempdir().unwrap();
    let files = write_batches(dir.path(), 2);
    let emptied = files[1].clone(); // batch 0's points
    std::fs::write(&emptied, b"").unwrap();
    match Db::open(dir.path(), options()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (emptied.clone(), 0))
        }
        other => panic!("expected corruption naming {emptied:?}, got {other:?}"),
    }
    let db = Db::open(dir.path(), salvage()).unwrap();
    let got = contents(&db);
    assert_eq!(got.get(&key(0).to_string()), None);
    assert_eq!(got.get(&key(1).to_string()), Some(&(POINTS as usize)));
    assert!(db
        .recovery_report()
        .salvaged
        .iter()
        .any(|(f, _, _)| *f == emptied));
    drop(db);

    // The newest file holding records: open goes on (a crash while creating a file
    // leaves the same thing) and reports it.
    let dir = tempfile::tempdir().unwrap();
    let mut files = write_batches(dir.path(), 2);
    let newest = files.pop().unwrap(); // batch 1's points
    std::fs::write(&newest, b"").unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.recovery_report().truncated_tail, Some((newest, 0)));
    assert_eq!(
        contents(&db).get(&key(0).to_string()),
        Some(&(POINTS as usize))
    );
}

/// Start offsets of the records of a (version 2) WAL file: 24-byte file header, then
/// records of a 17-byte header (length u32 first) and the payload.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        starts.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 17 + len;
    }
    assert_eq!(at, bytes.len());
    starts
}

#[test]
fn a_damaged_record_followed_by_durable_records_is_corruption_not_a_torn_tail() {
    // 13 acknowledged `Sync` batches of one series in one file: a series record, then
    // 13 points records. A flipped bit in the 6th batch must not cut the 7 after it.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::Sync)).unwrap();
    for b in 0..13i64 {
        let mut batch = WriteBatch::new();
        batch.push_key(&key(0), b, b as f64);
        db.write(&batch).unwrap();
    }
    db.close().unwrap();
    let files = wal_files(dir.path());
    assert_eq!(files.len(), 1);
    let file = files[0].clone();
    let mut bytes = std::fs::read(&file).unwrap();
    let starts = record_starts(&bytes);
    assert_eq!(starts.len(), 14);
    let sixth = starts[6];
    bytes[sixth + 20] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();

    match Db::open(dir.path(), options()) {
        Err(Error::Corruption {
            file: f,
            offset,
            what,
        }) => {
            assert_eq!((&f, offset), (&file, sixth as u64), "{what}");
        }
        other => panic!("expected corruption at {sixth}, got {other:?}"),
    }
    let db = Db::open(dir.path(), salvage()).unwrap();
    let report = db.recovery_report().clone();
    assert_eq!(report.truncated_tail, None);
    assert_eq!(report.salvaged.len(), 1, "{:?}", report.salvaged);
    assert_eq!(
        (&report.salvaged[0].0, report.salvaged[0].1),
        (&file, sixth as u64)
    );
    let got: Vec<i64> = db
        .select(&Selector::any(), TimeRange::all())
        .unwrap()
        .flat_map(|s| s.unwrap().timestamps)
        .collect();
    let want: Vec<i64> = (0..13).filter(|&t| t != 5).collect();
    assert_eq!(got, want, "every batch but the damaged one");
}

#[test]
fn salvage_opens_when_the_damaged_part_defined_a_series_and_reports_its_points() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_batches(dir.path(), 3);
    // Batch 1's series entry (file 2): a flipped bit in its payload.
    let mut bytes = std::fs::read(&files[2]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&files[2], &bytes).unwrap();

    match Db::open(dir.path(), options()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (files[2].clone(), 24))
        }
        other => panic!("expected corruption in {:?}, got {other:?}", files[2]),
    }
    let db = Db::open(dir.path(), salvage()).unwrap();
    let got = contents(&db);
    assert_eq!(got.get(&key(0).to_string()), Some(&(POINTS as usize)));
    assert_eq!(got.len(), 1, "{got:?}");
    let report = db.recovery_report();
    // Series ids are dense: with id 1 undefined, id 2 cannot be defined either.
    let skipped: Vec<(u32, u64, &Path, u64)> = report
        .skipped_points
        .iter()
        .map(|s| (s.series, s.points, s.file.as_path(), s.offset))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (1, POINTS as u64, files[3].as_path(), 24),
            (2, POINTS as u64, files[5].as_path(), 24)
        ]
    );
    let salvaged: Vec<&Path> = report
        .salvaged
        .iter()
        .map(|(f, _, _)| f.as_path())
        .collect();
    assert_eq!(salvaged, vec![files[2].as_path(), files[4].as_path()]);
    // The database is writable, and a new series takes the next free id.
    let mut batch = WriteBatch::new();
    batch.push_key(&key(9), 1, 1.0);
    db.write(&batch).unwrap();
    db.flush().unwrap();
    assert_eq!(contents(&db).len(), 2);
}
