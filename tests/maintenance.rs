//! The opt-in background scheduler flushes, compacts and applies retention by itself,
//! and stops on close.

use std::time::{Duration, Instant};

use sedimentdb::{
    Db, Durability, Maintenance, Options, Selector, SeriesKey, TimeRange, WriteBatch,
};

#[test]
fn scheduler_flushes_compacts_and_stops_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .durability(Durability::None)
        .partition_duration(Duration::from_secs(1))
        .retention(Duration::from_secs(5))
        .retention_clock(sedimentdb::RetentionClock::NewestPoint)
        .compaction_io_limit(1 << 20)
        .maintenance(
            Maintenance::new()
                .flush_every(Duration::from_millis(20))
                .compact_every(Duration::from_millis(50))
                .retention_every(Duration::from_millis(50)),
        );
    let db = Db::open(dir.path(), opts).unwrap();
    let h = db.series(&SeriesKey::new("m")).unwrap();
    let sec = 1_000_000_000i64;
    for i in 0..20i64 {
        let mut batch = WriteBatch::new();
        for j in 0..10 {
            batch.push(h, i * sec + j * sec / 10, (i * 10 + j) as f64);
        }
        db.write(&batch).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let points = || -> Vec<i64> {
        db.select(&Selector::any(), TimeRange::all())
            .unwrap()
            .flat_map(|s| s.unwrap().timestamps)
            .collect()
    };
    // Retention keeps 5 s behind the newest point (19.9 s): partitions before 14 s go,
    // once the scheduler has flushed everything and run retention after that.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = db.maintenance_status();
        let stats = db.stats();
        let settled = stats.head_points == 0 && stats.partitions.iter().all(|p| p.segments == 1);
        if status.compactions > 0 && settled && points().first() == Some(&(14 * sec)) {
            assert_eq!(status.last_error, None);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "maintenance did not settle: {status:?} {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(points().len(), 60);
    db.close().unwrap();
    let after = db.maintenance_status();
    assert!(after.flushes > 0 && after.retention_runs > 0);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        db.maintenance_status(),
        after,
        "the thread stopped with close"
    );
}

/// A `Db` dropped right after open must not wait for the scheduler's next tick: the stop
/// request may arrive before the thread first waits, and must not be slept through.
/// (This hung for a whole `flush_every` before the fix; the bound below is a hang
/// detector, an hour shorter than the interval, not a performance figure.)
#[test]
fn dropping_right_after_open_does_not_wait_for_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..50 {
            let opts = Options::default().maintenance(
                Maintenance::new()
                    .flush_every(Duration::from_secs(3600))
                    .compact_every(Duration::from_secs(3600)),
            );
            drop(Db::open(&path, opts).unwrap());
        }
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(300))
        .expect("dropping a Db with an idle scheduler hung");
}

/// The scheduler applies the per-selector retention rules (`Options::retention_for`)
/// even when no global retention is set. (Before the fix it called only the global
/// retention, so a database with rules alone kept everything forever.)
#[test]
fn scheduler_applies_per_selector_rules_without_a_global_retention() {
    let dir = tempfile::tempdir().unwrap();
    let sec = 1_000_000_000i64;
    let opts = Options::default()
        .durability(Durability::None)
        .retention_for(Selector::metric("short"), Duration::from_secs(10))
        .retention_clock(sedimentdb::RetentionClock::NewestPoint)
        .maintenance(Maintenance::new().retention_every(Duration::from_millis(10)));
    let db = Db::open(dir.path(), opts).unwrap();
    let mut batch = WriteBatch::new();
    for t in 0..100i64 {
        batch.push_key(&SeriesKey::new("short"), t * sec, 1.0);
        batch.push_key(&SeriesKey::new("long"), t * sec, 1.0);
    }
    db.write(&batch).unwrap();
    let count = |metric: &str| -> usize {
        db.select(&Selector::metric(metric), TimeRange::all())
            .unwrap()
            .map(|s| s.unwrap().len())
            .sum()
    };
    // A hang detector, not a timing: the rule applies within a few 10 ms ticks.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count("short") != 11 {
        assert!(
            Instant::now() < deadline,
            "the rule was never applied: {:?}, {} points",
            db.maintenance_status(),
            count("short")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count("long"), 100);
    assert_eq!(db.maintenance_status().last_error, None);
    db.close().unwrap();
}
