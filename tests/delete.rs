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

/// Settled partitions (one warm or cold segment each) holding deleted points are
/// rewritten by the next compaction, in their tier; the others are left alone; the
/// deletions leave the manifest with the points.
#[test]
fn compaction_rewrites_settled_partitions_holding_deleted_points() {
    const HOUR: i64 = 3_600_000_000_000;
    let opts = || {
        opts()
            .partition_duration(std::time::Duration::from_secs(3600))
            .warm_duration(std::time::Duration::from_secs(2 * 3600))
            .head_window(std::time::Duration::from_secs(1000 * 3600))
            .cold_chunk_points(64)
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    // Six hourly partitions: 0-2 cold by age, 3 and 5 warm (lone flush segments), 4 made
    // cold on request. User 0 everywhere, user 1 in partitions 0-4, user 2 in partition 1 and 5.
    let per_hour = 100;
    let step = HOUR / per_hour;
    for p in 0..6i64 {
        let hour = |u| (p * per_hour..(p + 1) * per_hour).map(move |i| (u, i * step));
        let mut batch = WriteBatch::new();
        let users = hour(0)
            .chain(
                if p < 5 { Some(hour(1)) } else { None }
                    .into_iter()
                    .flatten(),
            )
            .chain(
                if p == 1 || p == 5 {
                    Some(hour(2))
                } else {
                    None
                }
                .into_iter()
                .flatten(),
            );
        for (u, t) in users {
            batch.push_key(&user(u), t, (t / step) as f64);
        }
        db.write(&batch).unwrap();
        db.flush().unwrap();
    }
    db.compact().unwrap();
    db.compact_partition(4 * HOUR, sedimentdb::Tier::Cold)
        .unwrap();
    assert!(
        db.compact().unwrap().partitions == 0,
        "everything is settled"
    );
    let cold_before: Vec<bool> = db.stats().partitions.iter().map(|p| p.cold).collect();
    assert_eq!(cold_before, [true, true, true, false, true, false]);

    // All of user 1, and user 2's points in the second half of partition 1.
    let u1 = Selector::metric("clicks").with(Matcher::eq("user_id", "u1"));
    let u2 = Selector::metric("clicks").with(Matcher::eq("user_id", "u2"));
    assert_eq!(db.delete_series(&u1, TimeRange::all()).unwrap().emptied, 1);
    let cut = HOUR + HOUR / 2;
    db.delete_series(&u2, TimeRange::new(cut, 2 * HOUR))
        .unwrap();
    let after = read(&db);
    assert_eq!(db.stats().tombstones, 2);
    let before = db.stats();

    let report = db.compact().unwrap();
    // Partitions 0-4 held user 1's points; 5 held no deleted point.
    assert_eq!(report.partitions, 5);
    let stats = db.stats();
    assert_eq!(stats.tombstones, 0, "resolved deletions leave the manifest");
    assert_eq!(stats.segment_points, before.segment_points - 5 * 100 - 50);
    let points: Vec<u64> = stats.partitions.iter().map(|p| p.points).collect();
    assert_eq!(points, [100, 150, 100, 100, 100, 200]);
    let cold: Vec<bool> = stats.partitions.iter().map(|p| p.cold).collect();
    assert_eq!(cold, cold_before, "each partition keeps its tier");
    assert_eq!(stats.partitions[5], before.partitions[5], "untouched");
    assert_eq!(read(&db), after);
    assert!(db.list_series(&u1).unwrap().is_empty());
    assert_eq!(db.compact().unwrap().partitions, 0, "nothing left to do");

    // No tombstone hides anything any more, so whatever is on disk would show: after a
    // reopen, and once user 1 is written again (which un-hides the series), only the
    // new point is there.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(read(&db), after);
    assert_eq!(db.stats().tombstones, 0);
    write(&db, 1, 7 * HOUR..7 * HOUR + 1, 5.0);
    let got = read(&db);
    assert_eq!(got[&user(1).to_string()], vec![(7 * HOUR, 5.0)]);
    let u2_times: Vec<i64> = got[&user(2).to_string()].iter().map(|p| p.0).collect();
    let want: Vec<i64> = (per_hour..per_hour + 50)
        .chain(5 * per_hour..6 * per_hour)
        .map(|i| i * step)
        .collect();
    assert_eq!(u2_times, want);
}
