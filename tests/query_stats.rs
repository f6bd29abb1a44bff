//! Chunk statistics answer a bucket only when last-write-wins allows: every newer or
//! older source that overlaps a chunk (a head point, a chunk of another segment, a
//! deletion) forces a decode, and the answers stay right. Checked through `explain`.

use std::time::Duration;

use sedimentdb::query::{Explain, QueryResult, ValueFilter};
use sedimentdb::{
    Aggregate, Db, Durability, Matcher, Options, Query, Selector, SeriesKey, TimeRange, WriteBatch,
};

const SEC: i64 = 1_000_000_000;

fn open(dir: &std::path::Path) -> Db {
    let opts = Options::default()
        .durability(Durability::None)
        .chunk_points(16)
        .head_window(Duration::from_secs(1 << 30));
    Db::open(dir, opts).unwrap()
}

fn key(host: &str) -> SeriesKey {
    SeriesKey::new("cpu").with("host", host)
}

/// Writes `value(t)` at every second of `ts`.
fn write(db: &Db, host: &str, ts: impl IntoIterator<Item = i64>, value: impl Fn(i64) -> f64) {
    let mut batch = WriteBatch::new();
    for t in ts {
        batch.push_key(&key(host), t * SEC, value(t));
    }
    db.write(&batch).unwrap();
}

/// Max per 16 s: with 16-point chunks written from t = 0, every chunk fills one bucket.
fn max_per_16s() -> Query {
    Query::metric("cpu").downsample(Duration::from_secs(16), Aggregate::Max)
}

fn run(db: &Db, q: &Query) -> (QueryResult, Explain) {
    db.query_explained(q).unwrap()
}

#[test]
fn aligned_chunks_are_answered_without_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write(&db, "a", 0..64, |t| t as f64);
    db.flush().unwrap();
    let (r, e) = run(&db, &max_per_16s());
    assert_eq!(r.series[0].values, vec![15.0, 31.0, 47.0, 63.0]);
    assert_eq!(e.chunks_from_stats, 4);
    assert_eq!(
        (e.chunks_decoded, e.points_decoded, e.bytes_read),
        (0, 0, 0)
    );
    // Buckets narrower than a chunk need the points.
    let q = Query::metric("cpu").downsample(Duration::from_secs(8), Aggregate::Max);
    let (r, e) = run(&db, &q);
    assert_eq!(r.series[0].len(), 8);
    assert_eq!((e.chunks_from_stats, e.chunks_decoded), (0, 4));
    // A range cutting a chunk decodes that chunk only.
    let (r, e) = run(&db, &max_per_16s().between(8 * SEC, 64 * SEC));
    assert_eq!(r.series[0].values, vec![15.0, 31.0, 47.0, 63.0]);
    assert_eq!((e.chunks_from_stats, e.chunks_decoded), (3, 1));
}

#[test]
fn a_newer_head_point_inside_a_chunk_forces_a_merge() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write(&db, "a", 0..64, |t| t as f64);
    db.flush().unwrap();
    // Overwrite t = 20 (chunk 16..31) with a new maximum; it stays in the head.
    write(&db, "a", [20], |_| 1000.0);
    let (r, e) = run(&db, &max_per_16s());
    assert_eq!(r.series[0].values, vec![15.0, 1000.0, 47.0, 63.0]);
    assert_eq!(e.chunks_from_stats, 3);
    assert_eq!(e.chunks_merged, 1);
    assert_eq!(e.head_points, 1);
    // And a lower value replaces the old maximum rather than joining it.
    write(&db, "a", [31], |_| -1.0);
    let (r, _) = run(&db, &max_per_16s());
    assert_eq!(r.series[0].values, vec![15.0, 1000.0, 47.0, 63.0]);
    write(&db, "a", [20], |_| 0.0);
    let (r, _) = run(&db, &max_per_16s());
    assert_eq!(r.series[0].values[1], 30.0);
}

#[test]
fn overlapping_segments_are_merged_point_by_point() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write(&db, "a", 0..64, |t| t as f64);
    db.flush().unwrap();
    // A newer segment rewrites t = 40 and adds points between the old ones' span.
    write(&db, "a", [40, 100], |t| -(t as f64));
    db.flush().unwrap();
    let count = Query::metric("cpu").downsample(Duration::from_secs(16), Aggregate::Count);
    let (r, e) = run(&db, &count);
    assert_eq!(r.series[0].values, vec![16.0, 16.0, 16.0, 16.0, 1.0]);
    assert_eq!(
        e.chunks_merged, 3,
        "the new chunk 40..100 and the old ones it overlaps, 32..47 and 48..63"
    );
    let sum = Query::metric("cpu").aggregate(Aggregate::Sum);
    let (r, _) = run(&db, &sum);
    let expected: f64 = (0..64).map(|t| t as f64).sum::<f64>() - 40.0 - 40.0 - 100.0;
    assert_eq!(r.series[0].values, vec![expected]);
    // An older chunk overlapping a newer one is decoded too: the newer chunk's
    // statistics alone would count t = 40 twice.
    let (_, e) = run(&db, &max_per_16s());
    assert!(e.chunks_decoded >= 2);
}

#[test]
fn deletions_make_statistics_stale() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write(&db, "a", 0..64, |t| t as f64);
    db.flush().unwrap();
    db.delete_series(
        &Selector::metric("cpu").with(Matcher::eq("host", "a")),
        TimeRange::new(50 * SEC, 64 * SEC),
    )
    .unwrap();
    let (r, e) = run(&db, &max_per_16s());
    assert_eq!(r.series[0].values, vec![15.0, 31.0, 47.0, 49.0]);
    assert_eq!((e.chunks_from_stats, e.chunks_decoded), (3, 1));
}

#[test]
fn last_reads_only_the_newest_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for round in 0..5i64 {
        for host in ["a", "b", "c"] {
            write(&db, host, round * 64..(round + 1) * 64, |t| t as f64);
        }
        db.flush().unwrap();
    }
    let last = Query::metric("cpu").aggregate(Aggregate::Last);
    let (r, e) = run(&db, &last);
    assert_eq!(r.len(), 3);
    for s in r.iter() {
        assert_eq!(
            s.timestamps,
            vec![319 * SEC],
            "labelled with the point's time"
        );
        assert_eq!(s.values, vec![319.0]);
    }
    assert_eq!(e.chunks_from_stats, 3, "one chunk per series, of 20 each");
    assert_eq!(e.points_decoded, 0);
    // A newer point in the head wins; an older one does not matter.
    write(&db, "b", [400], |_| -5.0);
    write(&db, "c", [3], |_| 99.0);
    let (r, _) = run(&db, &last);
    assert_eq!(r.find("host", "b").unwrap().values, vec![-5.0]);
    assert_eq!(r.find("host", "c").unwrap().values, vec![319.0]);
    // A newest chunk that is all NaN: widen back to the last real value.
    write(&db, "a", 320..336, |_| f64::NAN);
    db.flush().unwrap();
    let (r, _) = run(&db, &last);
    assert_eq!(r.find("host", "a").unwrap().values, vec![319.0]);
    // First narrows the other way. c's rewrite of t = 3 (flushed with the NaN chunk)
    // overlaps its oldest chunk, so those two are decoded and merged.
    let first = Query::metric("cpu").aggregate(Aggregate::First);
    let (r, e) = run(&db, &first);
    assert_eq!(r.find("host", "c").unwrap().values, vec![0.0]);
    assert_eq!(r.find("host", "c").unwrap().timestamps, vec![0]);
    assert_eq!((e.chunks_from_stats, e.chunks_merged), (2, 2));
    assert_eq!(e.points_decoded, 17);
}

#[test]
fn value_filters_skip_chunks_that_cannot_pass() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write(&db, "a", 0..64, |t| if t == 50 { 95.0 } else { 10.0 });
    db.flush().unwrap();
    let q = Query::metric("cpu").where_value(ValueFilter::gt(90.0));
    let (r, e) = run(&db, &q);
    assert_eq!(r.series[0].timestamps, vec![50 * SEC]);
    assert_eq!((e.chunks_skipped, e.chunks_decoded), (3, 1));
    // All values pass: statistics still answer an aggregate.
    let q = max_per_16s().where_value(ValueFilter::ge(10.0));
    let (r, e) = run(&db, &q);
    assert_eq!(r.series[0].values, vec![10.0, 10.0, 10.0, 95.0]);
    assert_eq!((e.chunks_from_stats, e.chunks_decoded), (4, 0));
    // Some pass, some not: decode.
    let q = max_per_16s().where_value(ValueFilter::lt(50.0));
    let (r, e) = run(&db, &q);
    assert_eq!(r.series[0].values, vec![10.0, 10.0, 10.0, 10.0]);
    assert_eq!((e.chunks_from_stats, e.chunks_decoded), (3, 1));
}

#[test]
fn nan_keeps_first_and_last_away_from_statistics_but_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write(
        &db,
        "a",
        0..16,
        |t| if t == 15 { f64::NAN } else { t as f64 },
    );
    db.flush().unwrap();
    let (r, e) = run(&db, &Query::metric("cpu").aggregate(Aggregate::Count));
    assert_eq!(
        r.series[0].values,
        vec![15.0],
        "count counts the non-NaN points"
    );
    assert_eq!(e.chunks_from_stats, 1);
    let (r, e) = run(&db, &Query::metric("cpu").aggregate(Aggregate::Last));
    assert_eq!(r.series[0].values, vec![14.0], "last skips NaN");
    assert_eq!(r.series[0].timestamps, vec![14 * SEC]);
    assert_eq!(e.chunks_decoded, 1);
}
