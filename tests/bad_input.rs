//! Every caller mistake is a typed error, and nothing of a refused batch is written.

use sedimentdb::{
    Db, Durability, Error, Options, Selector, SeriesKey, TimeRange, WriteBatch, MAX_TIMESTAMP,
};

fn open(dir: &std::path::Path) -> Db {
    Db::open(
        dir,
        Options::default()
            .durability(Durability::None)
            .max_series(5)
            .max_batch_points(100)
            // MAX_TIMESTAMP is written: no bound ahead of the wall clock.
            .max_future(None),
    )
    .unwrap()
}

fn points(db: &Db) -> usize {
    db.select(&Selector::any(), TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap().len())
        .sum()
}

#[test]
fn bad_keys_are_refused_and_the_batch_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let good = SeriesKey::new("ok").with("host", "h1");
    let bad_keys = [
        SeriesKey::new(""),
        SeriesKey::new("x".repeat(300)),
        SeriesKey::new("../../etc/passwd"),
        SeriesKey::new("has space"),
        SeriesKey::new("nul\0"),
        SeriesKey::new("ok").with("k", "a").with("k", "b"),
        SeriesKey::new("ok").with("bad key", "v"),
        SeriesKey::new("ok").with("k", "v".repeat(2000)),
        SeriesKey::new("ok").with("k", "nul\0"),
        SeriesKey::from_parts("ok", (0..40).map(|i| (format!("k{i}"), "v"))),
    ];
    for bad in &bad_keys {
        assert!(
            matches!(db.series(bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
        let mut batch = WriteBatch::new();
        batch.push_key(&good, 1, 1.0);
        batch.push_key(bad, 2, 2.0);
        assert!(
            matches!(db.write(&batch), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert_eq!(points(&db), 0);
    assert_eq!(db.stats().series, 0, "no series created by refused batches");
}

#[test]
fn timestamps_outside_the_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let h = db.series(&SeriesKey::new("m")).unwrap();
    for ts in [i64::MAX, i64::MIN, MAX_TIMESTAMP + 1] {
        let mut batch = WriteBatch::new();
        batch.push(h, 5, 1.0);
        batch.push(h, ts, 1.0);
        assert!(matches!(db.write(&batch), Err(Error::InvalidArgument(_))));
    }
    assert_eq!(points(&db), 0);
    let mut batch = WriteBatch::new();
    batch.push(h, MAX_TIMESTAMP, 1.0);
    db.write(&batch).unwrap();
    assert_eq!(points(&db), 1);
}

#[test]
fn limits_on_batch_size_and_cardinality() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let h = db.series(&SeriesKey::new("m")).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..101 {
        batch.push(h, i, 0.0);
    }
    assert!(matches!(
        db.write(&batch),
        Err(Error::LimitExceeded {
            what: "points per batch",
            ..
        })
    ));
    assert!(db.write(&WriteBatch::new()).unwrap().points == 0);

    // max_series = 5: one exists; a batch creating 5 more is refused whole.
    let mut batch = WriteBatch::new();
    for i in 0..5 {
        batch.push_key(&SeriesKey::new("m").with("i", i.to_string()), 1, 1.0);
    }
    assert!(matches!(
        db.write(&batch),
        Err(Error::LimitExceeded {
            what: "series",
            limit: 5
        })
    ));
    assert_eq!(db.stats().series, 1);
    assert_eq!(points(&db), 0);
    batch.clear();
    for i in 0..4 {
        batch.push_key(&SeriesKey::new("m").with("i", i.to_string()), 1, 1.0);
    }
    db.write(&batch).unwrap();
    assert_eq!(db.stats().series, 5);
    assert!(matches!(
        db.series(&SeriesKey::new("another")),
        Err(Error::LimitExceeded { .. })
    ));
}

#[test]
fn handles_from_another_database_are_refused() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open(d1.path()), open(d2.path()));
    let ha = a.series(&SeriesKey::new("m")).unwrap();
    let mut batch = WriteBatch::new();
    batch.push(ha, 1, 1.0);
    assert!(matches!(b.write(&batch), Err(Error::InvalidArgument(_))));
    let hb = b.series(&SeriesKey::new("m")).unwrap();
    batch.push(hb, 2, 1.0);
    assert!(matches!(a.write(&batch), Err(Error::InvalidArgument(_))));
}

#[test]
fn bad_regex_is_a_typed_error() {
    assert!(matches!(
        sedimentdb::Matcher::regex("k", "(unclosed"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        sedimentdb::Matcher::regex("k", &"a".repeat(5000)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn directory_checks_lock_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    // A directory holding someone else's files is not a database.
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::NotADatabase { .. })
    ));
    // Missing directory without create_if_missing.
    let missing = dir.path().join("missing");
    assert!(matches!(
        Db::open(&missing, Options::default().create_if_missing(false)),
        Err(Error::NotADatabase { .. })
    ));

    let path = dir.path().join("db");
    let db = Db::open(&path, Options::default()).unwrap();
    // A second open while the first holds the lock.
    assert!(matches!(
        Db::open(&path, Options::default()),
        Err(Error::Locked { .. })
    ));
    db.close().unwrap();
    assert!(matches!(db.write(&WriteBatch::new()), Err(Error::Closed)));
    drop(db);

    // A manifest from a newer format version.
    let manifest = path.join("MANIFEST");
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes[8] = 9;
    std::fs::write(&manifest, &bytes).unwrap();
    assert!(matches!(
        Db::open(&path, Options::default()),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
}

/// An empty dimension value means "absent" in Prometheus' model; accepting it would make
/// `{k=""}` a series distinct from `{}` that a Prometheus client cannot name. Refused,
/// in `series` and in a batch, and the message says why.
#[test]
fn an_empty_dimension_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let empty = SeriesKey::new("login").with("user", "");
    match db.series(&empty) {
        Err(Error::InvalidArgument(msg)) => {
            assert!(msg.contains("\"user\"") && msg.contains("empty"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
    let mut batch = WriteBatch::new();
    batch.push_key(&SeriesKey::new("login").with("user", "ann"), 1, 1.0);
    batch.push_key(&empty, 2, 2.0);
    assert!(matches!(db.write(&batch), Err(Error::InvalidArgument(_))));
    assert_eq!(points(&db), 0);
    assert_eq!(db.stats().series, 0);
}

/// A segment whose magic names a newer major version is reported with that version, not
/// with the (older) version field that follows it.
#[test]
fn a_segment_of_a_newer_major_version_is_reported_with_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = open(&path);
    let mut batch = WriteBatch::new();
    batch.push_key(&SeriesKey::new("m"), 1, 1.0);
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    drop(db);
    let seg_dir = path.join("segments");
    let seg = std::fs::read_dir(&seg_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[7] = 2; // "SDSEGMT\x02", version field still 1
    std::fs::write(&seg, &bytes).unwrap();
    match Db::open(&path, Options::default()) {
        Err(e @ Error::UnsupportedVersion { found: 2, .. }) => {
            assert!(e.to_string().contains("format version 2"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}
