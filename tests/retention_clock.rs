//! Retention counts from the wall clock by default, and a write may not be further ahead
//! of the wall clock than `Options::max_future`: one far-future timestamp must not make
//! the rest of the history look old and have retention delete it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sedimentdb::{
    Db, Durability, Error, Options, RetentionClock, Selector, SeriesKey, TimeRange, WriteBatch,
};

const SEC: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * SEC;
const DAY: i64 = 24 * HOUR;
const YEAR: i64 = 365 * DAY;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn base() -> Options {
    Options::default()
        .durability(Durability::None)
        .partition_duration(Duration::from_secs(3600))
}

fn count(db: &Db) -> usize {
    db.select(&Selector::metric("m"), TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap().values.len())
        .sum()
}

/// 1000 points, one per second of the last ~17 minutes, flushed into segments.
fn write_recent(db: &Db, now: i64) {
    let key = SeriesKey::new("m").with("host", "h1");
    let mut batch = WriteBatch::new();
    for i in 0..1000 {
        batch.push_key(&key, now - (1000 - i) * SEC, i as f64);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_write_far_ahead_of_the_wall_clock_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), base()).unwrap();
    let now = now_ns();
    let key = SeriesKey::new("m");
    let mut batch = WriteBatch::new();
    batch.push_key(&key, now, 1.0);
    batch.push_key(&key, now + 80 * YEAR, 2.0);
    match db.write(&batch) {
        Err(e @ Error::FutureTimestamp { .. }) => {
            let Error::FutureTimestamp {
                timestamp,
                max_ahead_ns,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!(timestamp, now + 80 * YEAR);
            assert_eq!(max_ahead_ns, DAY, "the default bound is 24 hours");
            assert!(e.to_string().contains("Options::max_future"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&db), 0, "nothing of the refused batch is written");
    // Up to the bound is accepted.
    let mut batch = WriteBatch::new();
    batch.push_key(&key, now + 23 * HOUR, 1.0);
    db.write(&batch).unwrap();
    db.close().unwrap();

    // A tighter bound, and none at all.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), base().max_future(Some(Duration::from_secs(60)))).unwrap();
    let mut batch = WriteBatch::new();
    batch.push_key(&key, now_ns() + 2 * HOUR, 1.0);
    assert!(matches!(
        db.write(&batch),
        Err(Error::FutureTimestamp { max_ahead_ns, .. }) if max_ahead_ns == 60 * SEC
    ));
    drop(db);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), base().max_future(None)).unwrap();
    let mut batch = WriteBatch::new();
    batch.push_key(&key, sedimentdb::MAX_TIMESTAMP, 1.0);
    db.write(&batch).unwrap();
    assert_eq!(count(&db), 1);
}

/// The reproduction: 1000 recent points and one 80 years ahead (90 in the issue is past `MAX_TIMESTAMP` today) (let in by
/// `max_future(None)`), retention one day. Measured from the newest point, retention
/// left 1 of the 1001 points; from the wall clock it keeps them all.
#[test]
fn a_far_future_point_does_not_make_retention_delete_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let opts = base()
        .max_future(None)
        .retention(Duration::from_secs(86_400));
    let db = Db::open(dir.path(), opts).unwrap();
    let now = now_ns();
    write_recent(&db, now);
    let mut batch = WriteBatch::new();
    batch.push_key(
        &SeriesKey::new("m").with("host", "h2"),
        now + 80 * YEAR,
        1.0,
    );
    db.write(&batch).unwrap();
    db.flush().unwrap();
    let report = db.apply_retention().unwrap();
    assert_eq!(report.segments, 0, "{report:?}");
    assert_eq!(count(&db), 1001);
}

#[test]
fn wall_clock_retention_drops_what_is_older_than_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), base().retention(Duration::from_secs(86_400))).unwrap();
    let now = now_ns();
    let key = SeriesKey::new("m").with("host", "old");
    let mut batch = WriteBatch::new();
    for i in 0..10 {
        batch.push_key(&key, now - 3 * DAY + i * SEC, i as f64);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    write_recent(&db, now);
    let report = db.apply_retention().unwrap();
    assert!(report.segments >= 1, "{report:?}");
    assert_eq!(report.points, 10);
    assert!(report.cutoff >= now - DAY && report.cutoff <= now_ns() - DAY);
    assert_eq!(count(&db), 1000);
}

/// Replaying old data: with `RetentionClock::NewestPoint` its age counts from its own
/// newest point, so a year-old backfill keeps its last day, which the wall clock would
/// drop whole.
#[test]
fn retention_from_the_newest_point_is_an_option() {
    let old_end = now_ns() - YEAR;
    let key = SeriesKey::new("m");
    let backfill = |db: &Db| {
        for day in 0..3 {
            let mut batch = WriteBatch::new();
            for i in 0..10 {
                batch.push_key(&key, old_end - day * DAY - i * HOUR, i as f64);
            }
            db.write(&batch).unwrap();
            db.flush().unwrap();
        }
    };
    let day = Duration::from_secs(86_400);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        base()
            .retention(day)
            .retention_clock(RetentionClock::NewestPoint),
    )
    .unwrap();
    backfill(&db);
    let report = db.apply_retention().unwrap();
    assert_eq!(report.cutoff, old_end - DAY);
    // The newest day (10 points, each partition wholly inside it) stays.
    let left = count(&db);
    assert!((10..30).contains(&left), "{left} of 30 left, {report:?}");

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), base().retention(day)).unwrap();
    backfill(&db);
    db.apply_retention().unwrap();
    assert_eq!(
        count(&db),
        0,
        "measured from the wall clock it is all a year old"
    );
}

/// Per-selector retention rules count from the same clock.
#[test]
fn retention_rules_count_from_the_wall_clock_too() {
    let dir = tempfile::tempdir().unwrap();
    let opts = base()
        .max_future(None)
        .retention_for(Selector::metric("m"), Duration::from_secs(86_400));
    let db = Db::open(dir.path(), opts).unwrap();
    let now = now_ns();
    write_recent(&db, now);
    let mut batch = WriteBatch::new();
    batch.push_key(
        &SeriesKey::new("m").with("host", "h2"),
        now + 80 * YEAR,
        1.0,
    );
    db.write(&batch).unwrap();
    db.apply_retention().unwrap();
    assert_eq!(count(&db), 1001);
}
