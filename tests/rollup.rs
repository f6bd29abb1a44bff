//! Rollups: coarse queries over cold partitions read rollups and answer as the raw points
//! do; raw retention leaves the rollups; deletions are honoured; everything survives a
//! reopen.

use std::time::Duration;

use proptest::prelude::*;
use sedimentdb::{
    Aggregate, Db, Error, Matcher, Options, Query, QueryResult, RollupPolicy, Selector, SeriesKey,
    Tier, TimeRange, WriteBatch,
};

/// Partitions of 1000 ns, rollups of 100 ns: small numbers keep the tests fast.
const PART: i64 = 1000;
const RES: u64 = 100;

fn base() -> Options {
    Options::default()
        .durability(sedimentdb::Durability::None)
        .partition_duration(Duration::from_nanos(PART as u64))
        .retention_clock(sedimentdb::RetentionClock::NewestPoint)
        .warm_duration(Duration::from_nanos(2 * PART as u64))
        .head_window(Duration::from_secs(3600))
        .chunk_points(16)
        .cold_chunk_points(64)
}

fn with_rollups(raw_retention: Option<u64>) -> Options {
    let mut policy = RollupPolicy::new(Duration::from_nanos(RES));
    if let Some(r) = raw_retention {
        policy = policy.raw_retention(Duration::from_nanos(r));
    }
    base().rollup(Selector::metric("cpu"), policy)
}

fn key(host: u32) -> SeriesKey {
    SeriesKey::new("cpu").with("host", format!("h{host}"))
}

/// Writes `points` (host, ts, value) in batches, flushing between them.
fn write(db: &Db, points: &[(u32, i64, f64)], flush_every: usize) {
    for chunk in points.chunks(flush_every.max(1)) {
        let mut b = WriteBatch::new();
        for &(h, t, v) in chunk {
            b.push_key(&key(h), t, v);
        }
        db.write(&b).unwrap();
        db.flush().unwrap();
    }
}

const AGGREGATES: [Aggregate; 8] = [
    Aggregate::Count,
    Aggregate::Sum,
    Aggregate::Min,
    Aggregate::Max,
    Aggregate::Avg,
    Aggregate::First,
    Aggregate::Last,
    Aggregate::Stddev,
];

fn close_enough(a: f64, b: f64, agg: Aggregate) -> bool {
    match agg {
        Aggregate::Count | Aggregate::Min | Aggregate::Max | Aggregate::First | Aggregate::Last => {
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
        }
        _ => {
            (a.is_nan() && b.is_nan())
                || a == b
                || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
        }
    }
}

fn same(raw: &QueryResult, rolled: &QueryResult, agg: Aggregate) -> Result<(), String> {
    if raw.series.len() != rolled.series.len() {
        return Err(format!(
            "{} series from raw, {} with rollups",
            raw.series.len(),
            rolled.series.len()
        ));
    }
    for (a, b) in raw.series.iter().zip(&rolled.series) {
        if a.labels != b.labels || a.timestamps != b.timestamps {
            return Err(format!(
                "{:?}: timestamps {:?} vs {:?}",
                agg, a.timestamps, b.timestamps
            ));
        }
        for (x, y) in a.values.iter().zip(&b.values) {
            if !close_enough(*x, *y, agg) {
                return Err(format!("{agg:?} {}: {x} vs {y}", a.labels));
            }
        }
    }
    Ok(())
}

/// Coarse queries every rollup can answer: per 100, 200, 500 and 1000 ns, and over the
/// whole range, over all time and over a range cut inside partitions.
fn coarse_queries() -> Vec<Query> {
    let mut out = Vec::new();
    for agg in AGGREGATES {
        for range in [(i64::MIN, i64::MAX), (1000, 4000), (1250, 3730)] {
            for every in [100u64, 200, 500, 1000] {
                out.push(
                    Query::metric("cpu")
                        .between(range.0, range.1)
                        .downsample(Duration::from_nanos(every), agg),
                );
            }
            out.push(
                Query::metric("cpu")
                    .between(range.0, range.1)
                    .aggregate(agg),
            );
            out.push(
                Query::metric("cpu")
                    .between(range.0, range.1)
                    .downsample(Duration::from_nanos(500), agg)
                    .group_all(),
            );
        }
    }
    out
}

fn check_equal(raw: &Db, rolled: &Db) -> Result<u64, String> {
    let mut rollup_buckets = 0;
    for q in coarse_queries() {
        let agg = q.aggregate_fn().unwrap();
        let a = raw.query(&q).map_err(|e| e.to_string())?;
        let (b, explain) = rolled.query_explained(&q).map_err(|e| e.to_string())?;
        rollup_buckets += explain.rollup_buckets;
        same(&a, &b, agg).map_err(|e| format!("{q:?}: {e}"))?;
    }
    Ok(rollup_buckets)
}

fn points_strategy() -> impl Strategy<Value = Vec<(u32, i64, f64)>> {
    prop::collection::vec(
        (
            0u32..3,
            0i64..5000,
            prop_oneof![
                8 => (-1000i32..1000).prop_map(|v| f64::from(v) / 10.0),
                1 => Just(f64::NAN),
            ],
        ),
        1..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random points (overwrites, out of order, NaN) in several flushes; after cold
    /// compaction, every coarse query gives the raw answer.
    #[test]
    fn rollup_answers_equal_raw_answers(points in points_strategy(), flush_every in 20usize..200) {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let raw = Db::open(d1.path(), base()).unwrap();
        let rolled = Db::open(d2.path(), with_rollups(None)).unwrap();
        for db in [&raw, &rolled] {
            write(db, &points, flush_every);
            db.compact().unwrap();
        }
        check_equal(&raw, &rolled).map_err(TestCaseError::fail)?;
        // A late write into a cold partition: the rollup is stale until the next
        // compaction and must not be used meanwhile.
        for db in [&raw, &rolled] {
            write(db, &[(0, 1500, 1e6), (1, 1501, -1e6)], 10);
        }
        check_equal(&raw, &rolled).map_err(TestCaseError::fail)?;
        for db in [&raw, &rolled] {
            db.compact().unwrap();
        }
        check_equal(&raw, &rolled).map_err(TestCaseError::fail)?;
    }
}

/// [`check_equal`] restricted to ranges whose ends fall on partition boundaries: where
/// the raw points are gone, a rollup bucket cut by the range cannot be answered.
fn check_equal_aligned(raw: &Db, rolled: &Db) -> Result<(), String> {
    for q in coarse_queries() {
        let debug = format!("{q:?}");
        if debug.contains("1250") {
            continue;
        }
        let agg = q.aggregate_fn().unwrap();
        let a = raw.query(&q).map_err(|e| e.to_string())?;
        let b = rolled.query(&q).map_err(|e| e.to_string())?;
        same(&a, &b, agg).map_err(|e| format!("{debug}: {e}"))?;
    }
    Ok(())
}

/// A timestamp at or after `from` where `host` has no point in `points`.
fn free_slot(points: &[(u32, i64, f64)], host: u32, from: i64) -> i64 {
    (from..)
        .find(|t| !points.iter().any(|&(h, pt, _)| h == host && pt == *t))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Once raw retention dropped the raw points of old partitions, coarse queries over
    /// whole partitions still give the answers of a database that kept every point,
    /// also after later writes into those partitions and their compaction.
    #[test]
    fn rollups_answer_after_the_raw_points_are_gone(points in points_strategy()) {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let raw = Db::open(d1.path(), base()).unwrap();
        let rolled = Db::open(d2.path(), with_rollups(Some(1500))).unwrap();
        let mut points = points;
        points.push((2, 4999, 1.0)); // "now" is 4999 in both
        for db in [&raw, &rolled] {
            write(db, &points, 100);
            db.compact().unwrap();
        }
        let report = rolled.apply_retention().unwrap();
        let old_values = points.iter().any(|&(_, t, v)| t < 2000 && !v.is_nan());
        prop_assert_eq!(report.raw_rolled_up_segments > 0, old_values);
        check_equal_aligned(&raw, &rolled).map_err(TestCaseError::fail)?;
        let late = [
            (0, free_slot(&points, 0, 1500), 7.5),
            (1, free_slot(&points, 1, 500), -2.25),
        ];
        for db in [&raw, &rolled] {
            write(db, &late, 10);
        }
        check_equal_aligned(&raw, &rolled).map_err(TestCaseError::fail)?;
        for db in [&raw, &rolled] {
            db.compact().unwrap();
        }
        check_equal_aligned(&raw, &rolled).map_err(TestCaseError::fail)?;
    }
}

/// A steady series over 10 partitions: one point every 10 ns, value = i % 37.
fn steady(hosts: u32) -> Vec<(u32, i64, f64)> {
    let mut points = Vec::new();
    for h in 0..hosts {
        for i in 0..1000i64 {
            points.push((h, i * 10, ((i + i64::from(h)) % 37) as f64));
        }
    }
    points
}

#[test]
fn coarse_queries_read_rollups_and_fine_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), with_rollups(None)).unwrap();
    write(&db, &steady(2), 500);
    let report = db.compact().unwrap();
    // Partitions 0..=6 are cold (the newest point is at 9990, warm partitions start
    // at the one holding 9990 - 2000).
    assert_eq!(report.rollup_files, 7);
    assert!(report.rollup_bytes > 0);
    let stats = db.stats();
    assert_eq!(stats.rollup_files, 7);
    assert_eq!(stats.rollup_buckets, 2 * 7 * 10);

    let coarse = Query::metric("cpu").downsample(Duration::from_nanos(1000), Aggregate::Avg);
    let (_, e) = db.query_explained(&coarse).unwrap();
    assert_eq!(e.rollup_partitions, 7);
    assert_eq!(e.rollup_blocks, 14);
    assert_eq!(e.rollup_buckets, 140);
    assert!(e.to_string().contains("rollups: 7 partitions"));
    // A bucket finer than a chunk: the three warm partitions decode their points.
    let q = Query::metric("cpu").downsample(Duration::from_nanos(100), Aggregate::Avg);
    let (_, e) = db.query_explained(&q).unwrap();
    assert_eq!(e.rollup_buckets, 140);
    assert!(e.points_decoded > 0 && e.points_decoded <= 2 * 300);

    // Not a multiple of the resolution, a quantile, a filter: raw points.
    for q in [
        Query::metric("cpu").downsample(Duration::from_nanos(150), Aggregate::Avg),
        Query::metric("cpu").downsample(Duration::from_nanos(1000), Aggregate::P50),
        Query::metric("cpu")
            .downsample(Duration::from_nanos(1000), Aggregate::Max)
            .where_value(sedimentdb::query::ValueFilter::gt(3.0)),
        Query::metric("cpu").rate().aggregate(Aggregate::Max),
    ] {
        let (_, e) = db.query_explained(&q).unwrap();
        assert_eq!(e.rollup_buckets, 0, "{q:?}");
    }
}

#[test]
fn raw_retention_drops_raw_segments_and_rollups_keep_answering() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || {
        base().rollup(
            Selector::metric("cpu"),
            RollupPolicy::new(Duration::from_nanos(RES))
                .raw_retention(Duration::from_nanos(5000))
                .retention(Duration::from_nanos(8000)),
        )
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    write(&db, &steady(2), 400);
    db.compact().unwrap();
    let coarse = Query::metric("cpu").downsample(Duration::from_nanos(500), Aggregate::Sum);
    let whole = Query::metric("cpu").aggregate(Aggregate::Count);
    let before = db.query(&coarse).unwrap();
    let count_before = db.query(&whole).unwrap();

    let report = db.apply_retention().unwrap();
    // Newest point 9990: raw older than 4990 goes, i.e. partitions 0..=3.
    assert_eq!(report.raw_rolled_up_segments, 4);
    assert_eq!(report.segments, 4);
    // Rollups older than 1990 go: partition 0.
    assert_eq!(report.rollup_files, 1);
    assert_eq!(report.rollup_buckets, 20);

    let expect_after = |r: &QueryResult| {
        let mut r = r.clone();
        for s in &mut r.series {
            let keep: Vec<bool> = s.timestamps.iter().map(|&t| t >= 1000).collect();
            let mut k = keep.iter();
            s.timestamps.retain(|_| *k.next().unwrap());
            let mut k = keep.iter();
            s.values.retain(|_| *k.next().unwrap());
        }
        r
    };
    let after = db.query(&coarse).unwrap();
    same(&expect_after(&before), &after, Aggregate::Sum).unwrap();
    assert_eq!(
        db.query(&whole).unwrap().series[0].values[0],
        count_before.series[0].values[0] - 100.0
    );
    // The raw points of partitions 1..=3 are gone: a raw read starts at partition 4.
    let raw: Vec<_> = db
        .select(&Selector::metric("cpu"), TimeRange::all())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(raw[0].timestamps[0], 4000);
    // A fine query over the dropped range answers from nothing.
    let fine = Query::metric("cpu")
        .between(1000, 4000)
        .downsample(Duration::from_nanos(50), Aggregate::Sum);
    assert!(db.query(&fine).unwrap().is_empty());

    // Reopen: the same answers, and a late write into a raw-dropped partition adds to
    // its rollup, before and after compaction.
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    same(
        &expect_after(&before),
        &db.query(&coarse).unwrap(),
        Aggregate::Sum,
    )
    .unwrap();
    write(&db, &[(0, 2005, 1000.0)], 10);
    let bucket_2000 = |db: &Db| {
        let r = db
            .query(&coarse.clone().filter(Matcher::eq("host", "h0")))
            .unwrap();
        let s = &r.series[0];
        let i = s.timestamps.iter().position(|&t| t == 2000).unwrap();
        s.values[i]
    };
    let was = {
        let s = &before.series[0];
        s.values[s.timestamps.iter().position(|&t| t == 2000).unwrap()]
    };
    assert_eq!(bucket_2000(&db), was + 1000.0);
    db.compact().unwrap();
    assert_eq!(bucket_2000(&db), was + 1000.0);
    // A second late write: the partition's merged segment (summarised in the rollup)
    // and the new one are compacted together; only the new point is added.
    write(&db, &[(0, 2006, 10.0)], 10);
    assert_eq!(bucket_2000(&db), was + 1010.0);
    db.compact().unwrap();
    assert_eq!(bucket_2000(&db), was + 1010.0);
    // A warm compaction cannot carry the rollup: it leaves the partition alone.
    assert_eq!(
        db.compact_partition(2500, Tier::Warm).unwrap().partitions,
        0
    );
    assert_eq!(bucket_2000(&db), was + 1010.0);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(bucket_2000(&db), was + 1010.0);
}

#[test]
fn deletions_are_honoured_by_rollups() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let raw = Db::open(d1.path(), base()).unwrap();
    let rolled = Db::open(d2.path(), with_rollups(None)).unwrap();
    for db in [&raw, &rolled] {
        write(db, &steady(3), 700);
        db.compact().unwrap();
        // Cuts rollup buckets in half.
        db.delete_series(
            &Selector::metric("cpu").with(Matcher::eq("host", "h1")),
            TimeRange::new(1234, 3456),
        )
        .unwrap();
    }
    check_equal(&raw, &rolled).unwrap();
    let q = Query::metric("cpu").downsample(Duration::from_nanos(1000), Aggregate::Count);
    let (_, e) = rolled.query_explained(&q).unwrap();
    // Host 1 reads raw points in the three touched partitions.
    assert_eq!(e.rollup_blocks, 3 * 7 - 3, "{e}");
    // A late write into each touched partition makes compaction rewrite them.
    for db in [&raw, &rolled] {
        write(db, &[(0, 1999, 1.0), (0, 2999, 2.0), (0, 3999, 3.0)], 3);
        db.compact().unwrap();
    }
    // Compaction rebuilt the touched partitions' rollups without the deleted points.
    check_equal(&raw, &rolled).unwrap();
    let (_, e) = rolled.query_explained(&q).unwrap();
    assert_eq!(e.rollup_partitions, 7);
    // Host 1 has no point left in partition 2.
    assert_eq!(e.rollup_blocks, 3 * 7 - 1, "{e}");
}

#[test]
fn deleting_where_only_rollups_are_left_hides_the_touched_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || with_rollups(Some(3000));
    let db = Db::open(dir.path(), opts()).unwrap();
    write(&db, &steady(1), 1000);
    db.compact().unwrap();
    assert!(db.apply_retention().unwrap().raw_rolled_up_segments > 0);
    let q = Query::metric("cpu").downsample(Duration::from_nanos(100), Aggregate::Count);
    let before = db.query(&q).unwrap().series[0].timestamps.clone();
    assert!(before.contains(&1200));
    db.delete_series(&Selector::metric("cpu"), TimeRange::new(1250, 1260))
        .unwrap();
    let check = |db: &Db| {
        let after = db.query(&q).unwrap().series[0].timestamps.clone();
        assert!(!after.contains(&1200));
        assert_eq!(after.len(), before.len() - 1);
    };
    check(&db);
    // Compaction of the partition (made cold again by a late write) removes the
    // bucket from disk, and the tombstone can go.
    write(&db, &[(0, 1995, 1.0)], 1);
    db.compact().unwrap();
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    check(&db);
    // In a partition with no raw segment at all, compaction rewrites the rollup alone.
    let buckets = db.stats().rollup_buckets;
    db.delete_series(&Selector::metric("cpu"), TimeRange::new(510, 520))
        .unwrap();
    assert!(!db.query(&q).unwrap().series[0].timestamps.contains(&500));
    let report = db.compact().unwrap();
    assert_eq!(report.rollup_files, 1);
    assert_eq!(db.stats().rollup_buckets, buckets - 1);
    assert!(!db.query(&q).unwrap().series[0].timestamps.contains(&500));
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().rollup_buckets, buckets - 1);
    assert_eq!(
        db.query(&q).unwrap().series[0].timestamps.len(),
        before.len() - 2
    );
}

#[test]
fn compact_partition_cold_writes_rollups_and_warm_drops_stale_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), with_rollups(None)).unwrap();
    write(&db, &steady(1), 300);
    let r = db.compact_partition(9500, Tier::Cold).unwrap();
    assert_eq!(r.rollup_files, 1);
    let q = Query::metric("cpu")
        .between(9000, 10000)
        .downsample(Duration::from_nanos(1000), Aggregate::Max);
    assert_eq!(db.query_explained(&q).unwrap().1.rollup_buckets, 10);
    db.compact_partition(9500, Tier::Warm).unwrap();
    assert_eq!(db.stats().rollup_files, 0);
    assert_eq!(db.query_explained(&q).unwrap().1.rollup_buckets, 0);
}

#[test]
fn bad_policies_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Duration::from_nanos;
    for policy in [
        RollupPolicy::new(ns(0)),
        RollupPolicy::new(ns(300)),
        RollupPolicy::new(ns(100)).raw_retention(ns(0)),
        RollupPolicy::new(ns(100))
            .raw_retention(ns(500))
            .retention(ns(400)),
        RollupPolicy::new(Duration::from_secs(u64::MAX)),
    ] {
        let opts = base().rollup(Selector::metric("cpu"), policy);
        assert!(
            matches!(Db::open(dir.path(), opts), Err(Error::InvalidArgument(_))),
            "{policy:?}"
        );
    }
    // Too many buckets per partition.
    let opts =
        Options::default().rollup(Selector::any(), RollupPolicy::new(Duration::from_millis(1)));
    assert!(matches!(
        Db::open(dir.path(), opts),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn database_retention_drops_raw_points_and_the_rollups_stay() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || with_rollups(None).retention(Duration::from_nanos(5000));
    let db = Db::open(dir.path(), opts()).unwrap();
    write(&db, &steady(1), 1000);
    db.compact().unwrap();
    let q = Query::metric("cpu").downsample(Duration::from_nanos(1000), Aggregate::Sum);
    let before = db.query(&q).unwrap();
    let report = db.apply_retention().unwrap();
    assert_eq!(report.segments, 4);
    assert_eq!(report.raw_rolled_up_segments, 0);
    assert_eq!(report.rollup_files, 0);
    // Partitions 0..=3 live on in their rollups (kept forever by the policy).
    same(&before, &db.query(&q).unwrap(), Aggregate::Sum).unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    same(&before, &db.query(&q).unwrap(), Aggregate::Sum).unwrap();
    assert_eq!(db.stats().rollup_files, 7);
}
