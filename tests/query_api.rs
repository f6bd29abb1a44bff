//! The query-facing API items of issue #10: a bucket origin for downsampling, the series
//! id on every ungrouped result series, and whole-range aggregates labelled with the
//! range start (the earliest storable timestamp when the range has none).

use std::time::Duration;

use sedimentdb::query::{CorrelateOptions, Fill};
use sedimentdb::{
    Aggregate, Db, Durability, Error, Options, Query, RollupPolicy, Selector, SeriesKey, Tier,
    TimeRange, WriteBatch, MIN_TIMESTAMP,
};

const SEC: i64 = 1_000_000_000;

fn open(dir: &std::path::Path, opts: Options) -> Db {
    Db::open(
        dir,
        opts.durability(Durability::None)
            .chunk_points(16)
            .head_window(Duration::from_secs(1 << 30)),
    )
    .unwrap()
}

/// One point a second over `[0, n)` s with value `t` (in seconds).
fn write_seconds(db: &Db, key: &SeriesKey, n: i64) {
    let mut batch = WriteBatch::new();
    for t in 0..n {
        batch.push_key(key, t * SEC, t as f64);
    }
    db.write(&batch).unwrap();
}

/// The sums of `t` over buckets `[origin + k w, origin + (k + 1) w)` of the points
/// `0..n` s, computed directly.
fn expected_sums(n: i64, width: i64, origin: i64) -> (Vec<i64>, Vec<f64>) {
    let mut buckets: std::collections::BTreeMap<i64, f64> = Default::default();
    for t in 0..n {
        let start = (t * SEC - origin).div_euclid(width) * width + origin;
        *buckets.entry(start).or_default() += t as f64;
    }
    buckets.into_iter().unzip()
}

#[test]
fn buckets_start_at_the_origin_given() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::default());
    let key = SeriesKey::new("m");
    write_seconds(&db, &key, 100);
    let width = 10 * SEC;
    // In the head, then from segments (where chunk statistics answer whole chunks).
    for round in 0..2 {
        if round == 1 {
            db.flush().unwrap();
        }
        // Origins before, at and after the epoch, and ones that are the same grid.
        for origin in [3 * SEC, -7 * SEC, 13 * SEC, 1_000_003 * SEC, 0] {
            let q = Query::metric("m")
                .downsample(Duration::from_secs(10), Aggregate::Sum)
                .bucket_origin(origin);
            let r = db.query(&q).unwrap();
            let (ts, sums) = expected_sums(100, width, origin);
            assert_eq!(r.series[0].timestamps, ts, "origin {origin}");
            assert_eq!(r.series[0].values, sums, "origin {origin}");
            assert_eq!(q.bucket_offset_ns(), origin.rem_euclid(width));
        }
        // 3 s: the first bucket is [-7 s, 3 s) and holds 0, 1, 2.
        let q = Query::metric("m")
            .downsample(Duration::from_secs(10), Aggregate::Count)
            .bucket_origin(3 * SEC);
        let r = db.query(&q).unwrap();
        assert_eq!(r.series[0].timestamps[0], -7 * SEC);
        assert_eq!(r.series[0].values[0], 3.0);
    }
}

#[test]
fn fill_follows_the_shifted_grid() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::default());
    let mut batch = WriteBatch::new();
    batch.push_key(&SeriesKey::new("m"), 5 * SEC, 1.0);
    batch.push_key(&SeriesKey::new("m"), 35 * SEC, 2.0);
    db.write(&batch).unwrap();
    let q = Query::metric("m")
        .between(0, 40 * SEC)
        .downsample(Duration::from_secs(10), Aggregate::Max)
        .bucket_origin(5 * SEC)
        .fill(Fill::Value(0.0));
    let r = db.query(&q).unwrap();
    // The range [0, 40 s) meets the buckets starting at -5, 5, 15, 25 and 35 s.
    assert_eq!(
        r.series[0].timestamps,
        vec![-5 * SEC, 5 * SEC, 15 * SEC, 25 * SEC, 35 * SEC]
    );
    assert_eq!(r.series[0].values, vec![0.0, 1.0, 0.0, 0.0, 2.0]);
}

#[test]
fn a_bucket_origin_needs_buckets_and_correlation_needs_the_same_origin() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::default());
    write_seconds(&db, &SeriesKey::new("m"), 10);
    let whole = Query::metric("m")
        .aggregate(Aggregate::Sum)
        .bucket_origin(SEC);
    assert!(matches!(db.query(&whole), Err(Error::InvalidArgument(_))));
    let x = Query::metric("m").downsample(Duration::from_secs(2), Aggregate::Avg);
    let y = x.clone().bucket_origin(SEC);
    assert!(matches!(
        db.correlate(&x, &y, &CorrelateOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    // An origin one whole bucket away is the same grid.
    let z = x.clone().bucket_origin(2 * SEC);
    assert_eq!(
        db.correlate(&x, &z, &CorrelateOptions::default())
            .unwrap()
            .len(),
        1
    );
}

/// Rollups (100 ns buckets, aligned to the epoch) answer a shifted grid only when the
/// shift is a multiple of their resolution; otherwise the raw points must answer, and
/// the answers are the same as without rollups.
#[test]
fn rollups_answer_a_shifted_grid_only_when_it_fits_them() {
    const PART: u64 = 1000;
    let opts = |rollups: bool| {
        let o = Options::default()
            .partition_duration(Duration::from_nanos(PART))
            .warm_duration(Duration::from_nanos(2 * PART))
            .cold_chunk_points(64);
        if rollups {
            o.rollup(
                Selector::metric("cpu"),
                RollupPolicy::new(Duration::from_nanos(100)),
            )
        } else {
            o
        }
    };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let dbs: Vec<Db> = [false, true]
        .iter()
        .zip(&dirs)
        .map(|(&r, d)| open(d.path(), opts(r)))
        .collect();
    for db in &dbs {
        let mut batch = WriteBatch::new();
        for t in 0..5000i64 {
            batch.push_key(&SeriesKey::new("cpu"), t, ((t * 7919) % 101) as f64);
        }
        db.write(&batch).unwrap();
        db.flush().unwrap();
        for p in 0..5 {
            db.compact_partition(p * PART as i64, Tier::Cold).unwrap();
        }
    }
    for origin in [0i64, 100, 250, 37, -50] {
        let q = Query::metric("cpu")
            .between(0, 4000)
            .downsample(Duration::from_nanos(200), Aggregate::Sum)
            .bucket_origin(origin);
        let raw = dbs[0].query(&q).unwrap();
        let (rolled, explain) = dbs[1].query_explained(&q).unwrap();
        assert_eq!(
            raw.series[0].timestamps, rolled.series[0].timestamps,
            "{origin}"
        );
        assert_eq!(raw.series[0].values, rolled.series[0].values, "{origin}");
        let fits = origin.rem_euclid(100) == 0;
        assert_eq!(
            explain.rollup_partitions > 0,
            fits,
            "origin {origin}: {explain:?}"
        );
    }
}

#[test]
fn result_series_carry_their_series_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::default());
    let keys: Vec<SeriesKey> = ["a", "b", "c"]
        .iter()
        .map(|h| SeriesKey::new("cpu").with("host", *h))
        .collect();
    // Created in reverse so that ids and key order differ.
    let handles: Vec<_> = keys.iter().rev().map(|k| db.series(k).unwrap()).collect();
    let mut batch = WriteBatch::new();
    for (i, h) in handles.iter().enumerate() {
        batch.push(*h, 0, i as f64);
        batch.push(*h, SEC, i as f64);
    }
    db.write(&batch).unwrap();
    for q in [
        Query::metric("cpu"),
        Query::metric("cpu").downsample(Duration::from_secs(1), Aggregate::Max),
        Query::metric("cpu").aggregate(Aggregate::Sum),
    ] {
        let r = db.query(&q).unwrap();
        assert_eq!(r.series.len(), 3);
        for s in &r.series {
            let key = s.labels.series_key().unwrap();
            let id = s.series_id.expect("an ungrouped series has an id");
            let handle = handles
                .iter()
                .zip(keys.iter().rev())
                .find(|(_, k)| *k == &**key)
                .map(|(h, _)| *h)
                .unwrap();
            assert_eq!(id, handle.id(), "{key}");
        }
    }
    // A group stands for several series: no id.
    let grouped = db
        .query(&Query::metric("cpu").aggregate(Aggregate::Sum).group_all())
        .unwrap();
    assert_eq!(grouped.series[0].series_id, None);
    assert_eq!(grouped.series[0].values, vec![6.0]);
}

#[test]
fn whole_range_aggregates_are_labelled_with_the_range_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::default());
    let key = SeriesKey::new("m");
    write_seconds(&db, &key, 100);
    for round in 0..2 {
        if round == 1 {
            db.flush().unwrap();
        }
        // A bounded range: its start.
        let q = Query::metric("m")
            .between(5 * SEC, 50 * SEC)
            .aggregate(Aggregate::Sum);
        let r = db.query(&q).unwrap();
        assert_eq!(r.series[0].timestamps, vec![5 * SEC]);
        assert_eq!(r.series[0].values, vec![(5..50).sum::<i64>() as f64]);
        // No range, or one starting before the storable range: the earliest storable
        // timestamp, never i64::MIN.
        for q in [
            Query::metric("m").aggregate(Aggregate::Max),
            Query::metric("m")
                .range(TimeRange::new(i64::MIN, 200 * SEC))
                .aggregate(Aggregate::Avg),
            Query::metric("m").aggregate(Aggregate::Count).group_all(),
        ] {
            let r = db.query(&q).unwrap();
            assert_eq!(r.series[0].timestamps, vec![MIN_TIMESTAMP], "{q:?}");
        }
        // First and last keep the time of the point they pick.
        let r = db
            .query(&Query::metric("m").aggregate(Aggregate::Last))
            .unwrap();
        assert_eq!(r.series[0].timestamps, vec![99 * SEC]);
    }
}
