//! delete_series: immediate, durable, physically applied by compaction, and a deleted
//! series leaves the listings until it is written again.

use std::collections::BTreeMap;

use sedimentdb::{Db, Durability, Matcher, Options, Selector, SeriesKey, TimeRange, WriteBatch};

fn opts() -> Options {
    Options::default()
        .durability(Durability::None)
        .chunk_points(32)
}

fn user(u: u32) -> SeriesKey {
    SeriesKey::new("clicks").with("user_id", format!("u{u}"))
}

fn read(db: &Db) -> BTreeMap<String, Vec<(i64, f64)>> {
    db.select(&Selector::any(), TimeRange::all())
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (s.key.to_string(), s.iter().collect())
        })
        .collect()
}

fn write(db: &Db, u: u32, times: std::ops::Range<i64>, value: f64) {
    let mut batch = WriteBatch::new();
    for t in times {
        batch.push_key(&user(u), t, value);
    }
    db.write(&batch).unwrap();
}

#[test]
fn deleting_a_user_hides_and_then_removes_their_points() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for u in 0..3 {
        write(&db, u, 0..100, u as f64);
    }
    db.flush().unwrap();
    write(&db, 1, 100..150, 1.0); // in the head when deleted
    let one = Selector::metric("clicks").with(Matcher::eq("user_id", "u1"));
    let report = db.delete_series(&one, TimeRange::all()).unwrap();
    assert_eq!((report.series, report.emptied), (1, 1));
    let after = read(&db);
    assert_eq!(after.len(), 2);
    assert!(!after.contains_key(&user(1).to_string()));
    assert!(
        db.list_series(&one).unwrap().is_empty(),
        "gone from the index"
    );
    assert_eq!(
        db.list_series(&Selector::metric("clicks")).unwrap().len(),
        2
    );

    // Durable: the same after a reopen.
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(read(&db), after);
    assert!(db.list_series(&one).unwrap().is_empty());

    // Physically removed by compaction.
    let before = db.stats().segment_points;
    db.compact().unwrap();
    assert_eq!(db.stats().segment_points, before - 150);
    assert_eq!(read(&db), after);
}

#[test]
fn partial_range_delete_keeps_the_rest_and_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    write(&db, 7, 0..100, 1.0);
    let sel = Selector::metric("clicks");
    let r = db.delete_series(&sel, TimeRange::new(20, 40)).unwrap();
    assert_eq!((r.series, r.emptied), (1, 0));
    // A write inside the deleted range after the delete is kept.
    write(&db, 7, 30..31, 9.0);
    let check = |db: &Db| {
        let got = read(db);
        let pts = &got[&user(7).to_string()];
        let times: Vec<i64> = pts.iter().map(|p| p.0).collect();
        let want: Vec<i64> = (0..20).chain(30..31).chain(40..100).collect();
        assert_eq!(times, want);
        assert_eq!(pts.iter().find(|p| p.0 == 30).unwrap().1, 9.0);
    };
    check(&db);
    db.flush().unwrap();
    db.compact().unwrap();
    check(&db);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    check(&db);
    assert!(matches!(
        db.delete_series(&sel, TimeRange::new(5, 5)),
        Err(sedimentdb::Error::InvalidArgument(_))
    ));
}

#[test]
fn a_deleted_series_written_again_reappears_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    write(&db, 3, 0..10, 1.0);
    db.delete_series(&Selector::any(), TimeRange::all())
        .unwrap();
    assert!(read(&db).is_empty());
    write(&db, 3, 50..55, 2.0);
    assert_eq!(read(&db)[&user(3).to_string()].len(), 5);
    drop(db); // not flushed: the WAL brings the new points back, and the series with them
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(read(&db)[&user(3).to_string()].len(), 5);
    assert_eq!(db.list_series(&Selector::any()).unwrap().len(), 1);
    db.flush().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(
        read(&db)[&user(3).to_string()],
        (50..55).map(|t| (t, 2.0)).collect::<Vec<_>>()
    );
}
