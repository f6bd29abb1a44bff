//! Resource limits: a cardinality explosion stops at `max_series` with a typed error and
//! leaves the database usable; huge batches, names and dimension values are refused
//! before they cost anything; the head stays within its memory budget under sustained
//! writes (checked through `stats()`, not timing).

use std::time::Duration;

use sedimentdb::{Db, Durability, Error, Options, Selector, SeriesKey, TimeRange, WriteBatch};

fn key(i: u64) -> SeriesKey {
    SeriesKey::new("explode")
        .with("request_id", format!("r{i}"))
        .with("host", format!("h{}", i % 7))
}

fn points(db: &Db, selector: &Selector) -> usize {
    db.select(selector, TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap().len())
        .sum()
}

/// Writes batches of `per_batch` new series until the limit refuses one; checks
/// everything the test name promises. Returns the series created.
fn explode(limit: u64, per_batch: u64) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .durability(Durability::None)
        .max_series(limit);
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut next = 0u64;
    let refused = loop {
        let mut batch = WriteBatch::with_capacity(per_batch as usize);
        for i in next..next + per_batch {
            batch.push_key(&key(i), 1, i as f64);
        }
        match db.write(&batch) {
            Ok(_) => next += per_batch,
            Err(e) => break e,
        }
        assert!(next <= limit, "wrote {next} series past the limit {limit}");
    };
    assert!(
        matches!(refused, Error::LimitExceeded { what: "series", limit: l } if l == limit),
        "{refused:?}"
    );
    // The refused batch left nothing behind: no series, no point.
    assert_eq!(db.stats().series, next);
    assert!(limit - next < per_batch);
    let all = Selector::metric("explode");
    assert_eq!(points(&db, &all), next as usize);
    // Still usable: existing series take writes, single new series are refused (when
    // the limit is reached), queries answer, flush works.
    let mut batch = WriteBatch::new();
    batch.push_key(&key(0), 2, 0.5);
    db.write(&batch).unwrap();
    let fill = limit - next;
    for i in next..limit {
        db.series(&key(i)).unwrap();
    }
    assert!(matches!(
        db.series(&key(limit)),
        Err(Error::LimitExceeded { what: "series", .. })
    ));
    let mut mixed = WriteBatch::new();
    mixed.push_key(&key(1), 3, 1.0);
    mixed.push_key(&key(limit + 1), 3, 1.0);
    assert!(matches!(db.write(&mixed), Err(Error::LimitExceeded { .. })));
    db.flush().unwrap();
    assert_eq!(points(&db, &all), next as usize + 1);
    db.close().unwrap();
    drop(db);
    // After reopen the count and the limit hold; a higher limit lets series in again.
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    assert_eq!(db.stats().series, limit);
    assert!(db.series(&key(limit)).is_err());
    drop(db);
    let db = Db::open(dir.path(), opts.max_series(limit + 1)).unwrap();
    db.series(&key(limit)).unwrap();
    assert_eq!(db.stats().series, limit + 1);
    next + fill
}

#[test]
fn cardinality_explosion_hits_the_limit_and_the_database_stays_usable() {
    assert_eq!(explode(20_000, 1_500), 20_000);
}

#[test]
#[ignore = "long: SEDIMENT_CARDINALITY new series (default 2 million)"]
fn cardinality_explosion_millions() {
    let limit: u64 = std::env::var("SEDIMENT_CARDINALITY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    assert_eq!(explode(limit, 50_000), limit);
}

#[test]
fn huge_batches_names_and_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).unwrap();
    // One point past the default batch limit (1 million): refused before any work.
    let h = db.series(&SeriesKey::new("big")).unwrap();
    let mut batch = WriteBatch::with_capacity(1_000_001);
    for i in 0..1_000_001i64 {
        batch.push(h, i, 0.0);
    }
    assert!(matches!(
        db.write(&batch),
        Err(Error::LimitExceeded {
            what: "points per batch",
            limit: 1_000_000
        })
    ));
    drop(batch);
    let mib = 1 << 20;
    for bad in [
        SeriesKey::new("x".repeat(mib)),
        SeriesKey::new("big").with("v", "v".repeat(mib)),
        SeriesKey::new("big").with("k".repeat(mib), "v"),
        SeriesKey::from_parts("big", (0..10_000).map(|i| (format!("d{i}"), "v"))),
    ] {
        let mut batch = WriteBatch::new();
        batch.push_key(&bad, 1, 1.0);
        assert!(
            matches!(db.write(&batch), Err(Error::InvalidArgument(_))),
            "{:.60}",
            bad.to_string()
        );
    }
    assert_eq!(db.stats().series, 1);
    assert_eq!(db.stats().head_points, 0);
    assert!(
        db.stats().wal_bytes < 64 << 10,
        "nothing refused reached the WAL"
    );
}

#[test]
fn head_memory_stays_within_its_budget_under_sustained_writes() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 1usize << 20;
    let opts = Options::default()
        .durability(Durability::None)
        .head_memory_budget(budget)
        // Only the budget triggers flushes.
        .head_window(Duration::from_secs(365 * 86_400))
        .wal_file_size(256 << 10);
    let db = Db::open(dir.path(), opts).unwrap();
    let series = 50u64;
    let per_batch = 2_000i64;
    let batches = 200i64;
    let (mut max_head, mut max_wal) = (0u64, 0u64);
    for b in 0..batches {
        let mut batch = WriteBatch::with_capacity(per_batch as usize);
        for i in 0..per_batch {
            let n = b * per_batch + i;
            let s = n as u64 % series;
            batch.push_key(
                &SeriesKey::new("load").with("s", s.to_string()),
                n * 1_000_000,
                (n % 1000) as f64 * 0.25,
            );
        }
        db.write(&batch).unwrap();
        let stats = db.stats();
        max_head = max_head.max(stats.head_bytes);
        max_wal = max_wal.max(stats.wal_bytes);
    }
    let stats = db.stats();
    let total = (batches * per_batch) as u64;
    eprintln!(
        "{total} points, head budget {budget} B: largest head {max_head} B, largest WAL {max_wal} B, {} segments",
        stats.segments
    );
    // Without the budget the head would hold every point (far more than 1 MiB).
    assert!(
        max_head <= budget as u64 + (64 << 10),
        "head grew to {max_head} B, budget {budget}"
    );
    assert!(stats.segments > 1, "the head was flushed at its budget");
    // The WAL files the flushes made redundant were removed.
    assert!(max_wal <= 4 * budget as u64, "WAL grew to {max_wal} B");
    assert_eq!(
        stats.head_points + stats.segment_points,
        total,
        "every point kept, once"
    );
    assert_eq!(points(&db, &Selector::any()), total as usize);
}
