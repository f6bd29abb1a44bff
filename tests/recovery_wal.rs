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
