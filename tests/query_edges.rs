//! Edge cases: empty databases and results, a single point, NaN, buckets at the range
//! edges, timestamps at the ends of the storable range, relative ranges, counters that
//! reset across a flush, grouping by a dimension some series lack, ranking, and results
//! that survive serialisation.

use std::time::Duration;

use sedimentdb::query::{Fill, Labels, QueryResult, ValueFilter};
use sedimentdb::{
    Aggregate, Db, Durability, Options, Query, SeriesKey, TimeRange, WriteBatch, MAX_TIMESTAMP,
    MIN_TIMESTAMP,
};

const SEC: i64 = 1_000_000_000;

fn open(dir: &std::path::Path) -> Db {
    Db::open(
        dir,
        Options::default()
            .durability(Durability::None)
            .chunk_points(16)
            .head_window(Duration::from_secs(1 << 30))
            // Timestamps at the ends of the storable range: no bound ahead of now.
            .max_future(None),
    )
    .unwrap()
}

fn write(db: &Db, key: &SeriesKey, points: &[(i64, f64)]) {
    let mut batch = WriteBatch::new();
    for &(t, v) in points {
        batch.push_key(key, t, v);
    }
    db.write(&batch).unwrap();
}

fn all_aggregates() -> Vec<Aggregate> {
    vec![
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::Avg,
        Aggregate::First,
        Aggregate::Last,
        Aggregate::Stddev,
        Aggregate::P50,
        Aggregate::P99,
    ]
}

#[test]
fn empty_database_and_empty_results() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for agg in all_aggregates() {
        let q = Query::metric("nothing").downsample(Duration::from_secs(1), agg);
        assert!(db.query(&q).unwrap().is_empty());
    }
    let key = SeriesKey::new("m");
    write(&db, &key, &[(10 * SEC, 1.0)]);
    // A range with no point, a filter nothing passes.
    assert!(db
        .query(&Query::metric("m").between(0, SEC))
        .unwrap()
        .is_empty());
    let q = Query::metric("m").where_value(ValueFilter::gt(5.0));
    assert!(db.query(&q).unwrap().is_empty());
    let q = Query::metric("m")
        .aggregate(Aggregate::Sum)
        .group_by(["host"])
        .between(0, SEC);
    assert!(db.query(&q).unwrap().is_empty());
}

#[test]
fn single_point_and_nan() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::new("m");
    write(&db, &key, &[(5 * SEC, 2.5)]);
    for flushed in [false, true] {
        if flushed {
            db.flush().unwrap();
        }
        for agg in all_aggregates() {
            let r = db.query(&Query::metric("m").aggregate(agg)).unwrap();
            let v = r.series[0].values[0];
            match agg {
                Aggregate::Count => assert_eq!(v, 1.0),
                Aggregate::Stddev => assert!(v.is_nan(), "no stddev of one point"),
                _ => assert_eq!(v, 2.5, "{agg:?}"),
            }
        }
    }
    // NaN points: kept by raw reads, skipped by aggregates; a bucket of only NaN is empty.
    write(&db, &key, &[(6 * SEC, f64::NAN), (20 * SEC, f64::NAN)]);
    let raw = db.query(&Query::metric("m")).unwrap();
    assert_eq!(raw.series[0].len(), 3);
    assert!(raw.series[0].values[1].is_nan());
    let q = Query::metric("m").downsample(Duration::from_secs(10), Aggregate::Count);
    let r = db.query(&q).unwrap();
    assert_eq!(r.series[0].timestamps, vec![0]);
    assert_eq!(r.series[0].values, vec![1.0]);
    let r = db
        .query(&q.fill(Fill::Value(0.0)).between(0, 30 * SEC))
        .unwrap();
    assert_eq!(r.series[0].values, vec![1.0, 0.0, 0.0]);
    let r = db
        .query(&Query::metric("m").aggregate(Aggregate::Avg))
        .unwrap();
    assert_eq!(r.series[0].values, vec![2.5]);
}

#[test]
fn buckets_at_the_range_edges() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::new("m");
    let points: Vec<(i64, f64)> = (0..100).map(|t| (t * SEC, t as f64)).collect();
    write(&db, &key, &points);
    db.flush().unwrap();
    // [15, 45) in buckets of 10: the first bucket starts before the range at 10 and
    // holds only 15..19; the last holds 40..44.
    let q = Query::metric("m")
        .between(15 * SEC, 45 * SEC)
        .downsample(Duration::from_secs(10), Aggregate::Count);
    let r = db.query(&q).unwrap();
    assert_eq!(
        r.series[0].timestamps,
        vec![10 * SEC, 20 * SEC, 30 * SEC, 40 * SEC]
    );
    assert_eq!(r.series[0].values, vec![5.0, 10.0, 10.0, 5.0]);
    // The end is exclusive, the start inclusive.
    let q = Query::metric("m").between(15 * SEC, 16 * SEC);
    assert_eq!(db.query(&q).unwrap().series[0].timestamps, vec![15 * SEC]);
    // A whole-range aggregate is labelled with the range start.
    let q = Query::metric("m")
        .between(15 * SEC, 45 * SEC)
        .aggregate(Aggregate::Sum);
    let r = db.query(&q).unwrap();
    assert_eq!(r.series[0].timestamps, vec![15 * SEC]);
    assert_eq!(r.series[0].values, vec![(15..45).sum::<i64>() as f64]);
}

#[test]
fn timestamps_at_the_ends_of_the_storable_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::new("m");
    write(
        &db,
        &key,
        &[(MIN_TIMESTAMP, 1.0), (0, 2.0), (MAX_TIMESTAMP, 3.0)],
    );
    for round in 0..2 {
        if round == 1 {
            db.flush().unwrap();
        }
        for width in [
            Duration::from_nanos(1),
            Duration::from_nanos(7),
            Duration::from_secs(3600),
            Duration::from_nanos(sedimentdb::query::MAX_BUCKET_NS as u64),
        ] {
            for agg in all_aggregates() {
                let q = Query::metric("m").downsample(width, agg);
                let r = db.query(&q).unwrap();
                // The widest buckets put 0 and MAX_TIMESTAMP together in [0, 2^62).
                let buckets = if width.as_nanos() == 1 << 62 { 2 } else { 3 };
                assert_eq!(r.points(), buckets, "{width:?} {agg:?}");
                let ts = &r.series[0].timestamps;
                assert!(ts[0] <= MIN_TIMESTAMP && ts[buckets - 1] <= MAX_TIMESTAMP);
            }
        }
        // The widest buckets hold the whole storable range in four buckets: fill works.
        let q = Query::metric("m")
            .downsample(
                Duration::from_nanos(sedimentdb::query::MAX_BUCKET_NS as u64),
                Aggregate::Sum,
            )
            .fill(Fill::Linear);
        let r = db.query(&q).unwrap();
        assert!(r.series[0].len() <= 4);
        // Rate between the extremes: the time difference is taken without overflow.
        let r = db.query(&Query::metric("m").rate()).unwrap();
        assert_eq!(r.series[0].len(), 2);
        assert!(r.series[0].values.iter().all(|v| v.is_finite()));
        // Ranges beyond i64 on either side are fine.
        let q = Query::metric("m").between(i64::MIN, i64::MAX);
        assert_eq!(db.query(&q).unwrap().points(), 3);
        let q = Query::metric("m")
            .last(Duration::from_secs(10))
            .now(i64::MAX);
        assert!(db.query(&q).unwrap().is_empty());
        let q = Query::metric("m").since(i64::MIN).now(i64::MIN);
        assert!(db.query(&q).unwrap().is_empty());
    }
}

#[test]
fn relative_ranges_use_the_given_now() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::new("m");
    write(
        &db,
        &key,
        &[(100 * SEC, 1.0), (150 * SEC, 2.0), (200 * SEC, 3.0)],
    );
    let q = Query::metric("m")
        .last(Duration::from_secs(50))
        .now(200 * SEC);
    let r = db.query(&q).unwrap();
    assert_eq!(
        r.series[0].values,
        vec![2.0, 3.0],
        "[now - 50 s, now], both ends in"
    );
    let q = Query::metric("m").since(120 * SEC).now(160 * SEC);
    assert_eq!(db.query(&q).unwrap().series[0].values, vec![2.0]);
    // Without now(), the system clock: these points are in 1970, not in the last hour.
    let q = Query::metric("m").last(Duration::from_secs(3600));
    assert!(db.query(&q).unwrap().is_empty());
}

#[test]
fn counter_rate_across_a_reset_and_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::new("requests_total");
    write(
        &db,
        &key,
        &[(0, 100.0), (10 * SEC, 200.0), (20 * SEC, 300.0)],
    );
    db.flush().unwrap();
    // The process restarted: the counter starts again from 0.
    write(&db, &key, &[(30 * SEC, 50.0), (40 * SEC, 150.0)]);
    let r = db.query(&Query::metric("requests_total").rate()).unwrap();
    assert_eq!(
        r.series[0].timestamps,
        vec![10 * SEC, 20 * SEC, 30 * SEC, 40 * SEC]
    );
    assert_eq!(r.series[0].values, vec![10.0, 10.0, 5.0, 10.0]);
    let r = db
        .query(&Query::metric("requests_total").derivative())
        .unwrap();
    assert_eq!(r.series[0].values, vec![10.0, 10.0, -25.0, 10.0]);
    let q = Query::metric("requests_total")
        .rate()
        .downsample(Duration::from_secs(20), Aggregate::Avg);
    let r = db.query(&q).unwrap();
    assert_eq!(r.series[0].values, vec![10.0, 7.5, 10.0]);
}

#[test]
fn grouping_ranking_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let hosts = [
        ("a", Some("eu")),
        ("b", Some("eu")),
        ("c", Some("us")),
        ("d", None),
    ];
    for (i, (host, region)) in hosts.iter().enumerate() {
        let mut key = SeriesKey::new("cpu").with("host", *host);
        if let Some(r) = region {
            key = key.with("region", *r);
        }
        let points: Vec<(i64, f64)> = (0..20)
            .map(|t| (t * SEC, (i * 10) as f64 + t as f64))
            .collect();
        write(&db, &key, &points);
    }
    db.flush().unwrap();
    let q = Query::metric("cpu")
        .aggregate(Aggregate::Max)
        .group_by(["region"]);
    let r = db.query(&q).unwrap();
    let labels: Vec<String> = r.iter().map(|s| s.labels.to_string()).collect();
    assert_eq!(
        labels,
        vec!["{region=<absent>}", r#"{region="eu"}"#, r#"{region="us"}"#]
    );
    assert_eq!(r.series[1].series_count, 2);
    assert_eq!(r.series[1].values, vec![29.0]);
    assert_eq!(r.find("region", "us").unwrap().values, vec![39.0]);
    // Sum across series of each series' average, per 10 s.
    let q = Query::metric("cpu")
        .downsample(Duration::from_secs(10), Aggregate::Avg)
        .group_all()
        .across_series(Aggregate::Sum);
    let r = db.query(&q).unwrap();
    assert_eq!(r.series[0].labels, Labels::Group(vec![]));
    assert_eq!(
        r.series[0].values,
        vec![4.5 * 4.0 + 60.0, 14.5 * 4.0 + 60.0]
    );
    // Top and bottom by the maximum of the result values, and a limit.
    let by_max = |top: bool, k| {
        let q = Query::metric("cpu").aggregate(Aggregate::Avg);
        let q = if top {
            q.top_k(k, Aggregate::Max)
        } else {
            q.bottom_k(k, Aggregate::Max)
        };
        let r = db.query(&q).unwrap();
        r.iter()
            .map(|s| s.labels.get("host").unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_max(true, 2), vec!["d", "c"]);
    assert_eq!(by_max(false, 3), vec!["a", "b", "c"]);
    assert_eq!(db.query(&Query::metric("cpu").limit(1)).unwrap().len(), 1);
    // Having keeps only the buckets that pass.
    let q = Query::metric("cpu")
        .downsample(Duration::from_secs(10), Aggregate::Max)
        .having(ValueFilter::ge(35.0));
    let r = db.query(&q).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r.find("host", "c").unwrap().values, vec![39.0]);
    assert_eq!(r.find("host", "d").unwrap().values, vec![39.0, 49.0]);
}

#[test]
fn results_serialise_and_come_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::new("cpu").with("host", "a");
    write(&db, &key, &[(0, 1.0), (SEC, 2.0)]);
    for q in [
        Query::metric("cpu"),
        Query::metric("cpu")
            .aggregate(Aggregate::Max)
            .group_by(["host", "zone"]),
    ] {
        let (r, e) = db.query_explained(&q).unwrap();
        let bytes = bincode::serialize(&r).unwrap();
        let back: QueryResult = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back, r);
        let bytes = bincode::serialize(&e).unwrap();
        let back: sedimentdb::query::Explain = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back, e);
    }
    let _ = TimeRange::all();
}
