//! Compaction and retention: answers equal an in-memory model before and after, files
//! are reclaimed, readers during compaction always see complete data.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sedimentdb::{Db, Durability, Options, Selector, SeriesKey, TimeRange, WriteBatch};

const SEC: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * SEC;

type Model = BTreeMap<(String, i64), u64>;

fn opts() -> Options {
    Options::default()
        .durability(Durability::None)
        .partition_duration(Duration::from_secs(86_400))
        // Timestamps here are days after the epoch: ages count from the newest point.
        .retention_clock(sedimentdb::RetentionClock::NewestPoint)
        // No automatic flushes: the tests decide when segments are written.
        .head_window(Duration::from_secs(1000 * 86_400))
        .warm_duration(Duration::from_secs(2 * 86_400))
        .chunk_points(64)
        .cold_chunk_points(256)
}

fn snapshot(db: &Db) -> Model {
    let mut out = Model::new();
    for s in db.select(&Selector::any(), TimeRange::all()).unwrap() {
        let s = s.unwrap();
        for (t, v) in s.iter() {
            out.insert((s.key.to_string(), t), v.to_bits());
        }
    }
    out
}

fn segment_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("segments")).unwrap().count()
}

/// Writes `n` points spread over `days` days for a few series, some overwriting earlier ones.
fn write(db: &Db, model: &mut Model, seed: u64, n: usize, days: i64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut batch = WriteBatch::new();
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = SeriesKey::new("m").with("s", (x % 4).to_string());
        let ts = ((x >> 3) % (days as u64 * 200)) as i64 * (DAY / 200);
        let v = ((x >> 40) % 1000) as f64 / 10.0;
        model.insert((key.to_string(), ts), v.to_bits());
        batch.push_key(&key, ts, v);
    }
    db.write(&batch).unwrap();
}

#[test]
fn compaction_preserves_answers_and_reclaims_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut model = Model::new();
    for round in 0..4 {
        write(&db, &mut model, round + 1, 2000, 6);
        db.flush().unwrap();
    }
    write(&db, &mut model, 99, 500, 6); // stays in the head, overlapping segments
    let before = db.stats();
    assert!(before.segments >= 20, "{before:?}");
    assert_eq!(snapshot(&db), model);

    let report = db.compact().unwrap();
    assert_eq!(report.partitions, 6, "{report:?}");
    assert_eq!(db.stats().segments, 6);
    assert_eq!(
        segment_files(dir.path()),
        6,
        "inputs deleted once no snapshot holds them"
    );
    assert_eq!(snapshot(&db), model);
    // Nothing left to do: a second compaction is a no-op.
    assert_eq!(db.compact().unwrap().partitions, 0);

    // Flush the head's overwrites, compact again: the newer values must still win.
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(snapshot(&db), model);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(snapshot(&db), model);
    assert_eq!(segment_files(dir.path()), db.stats().segments as usize);
}

#[test]
fn readers_keep_their_snapshot_during_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut model = Model::new();
    for round in 0..6 {
        write(&db, &mut model, round + 10, 1500, 4);
        db.flush().unwrap();
    }
    let expected = Arc::new(model);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, expected, stop) = (db.clone(), expected.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) || reads == 0 {
                    assert_eq!(&snapshot(&db), &*expected);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    // A held iterator pins its snapshot's files while compaction replaces them.
    let mut pinned = db.select(&Selector::any(), TimeRange::all()).unwrap();
    db.compact().unwrap();
    let first = pinned.next().unwrap().unwrap();
    assert!(!first.is_empty());
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    drop(pinned);
    assert_eq!(segment_files(dir.path()), db.stats().segments as usize);
}

#[test]
fn retention_drops_old_partitions_without_rewriting() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        opts().retention(Duration::from_secs(3 * 86_400)),
    )
    .unwrap();
    let mut model = Model::new();
    write(&db, &mut model, 5, 3000, 10);
    db.flush().unwrap();
    let report = db.apply_retention().unwrap();
    let newest = model.keys().map(|(_, t)| *t).max().unwrap();
    let cutoff = newest - 3 * DAY;
    assert_eq!(report.cutoff, cutoff);
    assert!(report.segments >= 6, "{report:?}");
    // Whole segments go: everything in a partition ending before the cutoff is gone, and
    // nothing at or after the cutoff.
    let got = snapshot(&db);
    for ((k, t), v) in &model {
        if *t >= cutoff {
            assert_eq!(got.get(&(k.clone(), *t)), Some(v));
        }
        if *t < (cutoff / DAY) * DAY {
            assert!(!got.contains_key(&(k.clone(), *t)));
        }
    }
    assert_eq!(segment_files(dir.path()), db.stats().segments as usize);
    // Without a retention option it is a no-op.
    let dir2 = tempfile::tempdir().unwrap();
    let db2 = Db::open(dir2.path(), opts()).unwrap();
    assert_eq!(db2.apply_retention().unwrap().segments, 0);
}

#[test]
fn retention_rules_keep_some_series_shorter() {
    let dir = tempfile::tempdir().unwrap();
    let user = Selector::metric("user_clicks");
    let opts = opts().retention_for(user.clone(), Duration::from_secs(2 * 86_400));
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut batch = WriteBatch::new();
    for hour in 0..(10 * 24) {
        let ts = hour * 3600 * SEC;
        batch.push_key(&SeriesKey::new("user_clicks").with("u", "1"), ts, 1.0);
        batch.push_key(&SeriesKey::new("cpu").with("h", "1"), ts, 2.0);
    }
    db.write(&batch).unwrap();
    let newest = (10 * 24 - 1) * 3600 * SEC;
    let cutoff = newest - 2 * DAY;
    let report = db.apply_retention().unwrap();
    assert_eq!(report.rule_series, 1);
    let check = |db: &Db| {
        let m = snapshot(db);
        let user_times: Vec<i64> = m
            .keys()
            .filter(|(k, _)| k.starts_with("user"))
            .map(|(_, t)| *t)
            .collect();
        let first_kept = (0..240).map(|h| h * 3600 * SEC).find(|&t| t >= cutoff);
        assert_eq!(user_times.first().copied(), first_kept);
        assert_eq!(
            user_times.len() as i64,
            240 - first_kept.unwrap() / (3600 * SEC)
        );
        assert_eq!(m.keys().filter(|(k, _)| k.starts_with("cpu")).count(), 240);
    };
    check(&db);
    // Nothing new to delete: no new tombstone.
    assert_eq!(db.apply_retention().unwrap().rule_series, 0);
    let before = db.stats().segment_points;
    db.compact().unwrap();
    assert!(
        db.stats().segment_points < before,
        "compaction removed the expired points"
    );
    check(&db);
    drop(db);
    let db = Db::open(dir.path(), opts).unwrap();
    check(&db);
}
