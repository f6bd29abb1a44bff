//! Every aggregate follows IEEE 754 on NaN and infinities, whichever way it is answered:
//! from points in the head, from decoded chunks and chunk statistics of segments, and
//! from rollup buckets of cold partitions.
//!
//! NaN is a missing value and is skipped by every aggregate (a bucket of NaN only is
//! absent). Infinities are values: `inf + -inf` is NaN, so is the mean and the standard
//! deviation of a bucket holding an infinity (the deviation `inf - inf` is undefined);
//! min, max, first, last and count are never NaN because of them.

use std::time::Duration;

use sedimentdb::{Aggregate, Db, Options, Query, RollupPolicy, Selector, SeriesKey, WriteBatch};

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;
/// Partitions of 1000 ns, rollups of 100 ns; one scenario per partition, inside one
/// rollup bucket.
const PART: i64 = 1000;

/// The values of one bucket, written at `k * PART + 10 * i`.
const SCENARIOS: &[&[f64]] = &[
    &[1.0, INF],
    &[INF, INF],
    &[-INF, 1.0],
    &[INF, -INF],
    &[NAN, INF],
    &[-INF],
    &[INF, NAN, 3.0, -2.0],
    &[-INF, -INF, 5.0],
    &[1.0, 2.0, NAN, 4.0],
    &[NAN, 7.0],
    &[0.5, -0.0, 0.0],
];

const AGGREGATES: [Aggregate; 11] = [
    Aggregate::Count,
    Aggregate::Sum,
    Aggregate::Min,
    Aggregate::Max,
    Aggregate::Avg,
    Aggregate::First,
    Aggregate::Last,
    Aggregate::Stddev,
    Aggregate::Quantile(0.0),
    Aggregate::Quantile(0.5),
    Aggregate::Quantile(0.9),
];

/// The IEEE answer over `values` (in time order), computed the textbook way: two-pass
/// standard deviation, type-7 quantile with the interpolation taken as its limit.
fn reference(values: &[f64], agg: Aggregate) -> Option<f64> {
    let vals: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if vals.is_empty() {
        return None;
    }
    let n = vals.len() as f64;
    let sum: f64 = vals.iter().sum();
    Some(match agg {
        Aggregate::Count => n,
        Aggregate::Sum => sum,
        Aggregate::Min => vals.iter().copied().fold(INF, f64::min),
        Aggregate::Max => vals.iter().copied().fold(-INF, f64::max),
        Aggregate::Avg => sum / n,
        Aggregate::First => vals[0],
        Aggregate::Last => vals[vals.len() - 1],
        Aggregate::Stddev => {
            if vals.len() < 2 {
                NAN
            } else {
                let mean = sum / n;
                let m2: f64 = vals.iter().map(|v| (v - mean) * (v - mean)).sum();
                (m2 / (n - 1.0)).sqrt()
            }
        }
        Aggregate::Quantile(q) => {
            let mut s = vals.clone();
            s.sort_by(f64::total_cmp);
            let h = (s.len() - 1) as f64 * q;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(s.len() - 1);
            let (a, b, frac) = (s[lo], s[hi], h - lo as f64);
            if frac == 0.0 || a == b {
                a
            } else if a == -INF && b == INF {
                NAN
            } else if a == -INF || b == INF {
                // Any point strictly between the two is the infinite end.
                if a == -INF {
                    a
                } else {
                    b
                }
            } else {
                a + frac * (b - a)
            }
        }
        other => panic!("no IEEE reference for {other:?}: add one"),
    })
}

fn same(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan())
        || got == want && got.is_sign_negative() == want.is_sign_negative()
        || (got.is_finite()
            && want.is_finite()
            && (got - want).abs() <= 1e-12 * want.abs().max(1.0))
}

fn options() -> Options {
    Options::default()
        .durability(sedimentdb::Durability::None)
        .partition_duration(Duration::from_nanos(PART as u64))
        .warm_duration(Duration::from_nanos(2 * PART as u64))
        .head_window(Duration::from_secs(3600))
        .chunk_points(16)
        .cold_chunk_points(64)
        .rollup(
            Selector::metric("ieee"),
            RollupPolicy::new(Duration::from_nanos(100)),
        )
}

fn write_scenarios(db: &Db) {
    let mut batch = WriteBatch::new();
    let key = SeriesKey::new("ieee");
    for (k, values) in SCENARIOS.iter().enumerate() {
        for (i, &v) in values.iter().enumerate() {
            batch.push_key(&key, k as i64 * PART + 10 * i as i64, v);
        }
    }
    db.write(&batch).unwrap();
}

/// Checks every aggregate per 100 ns, per partition and over everything; returns the
/// explain counters summed over the queries.
fn check(db: &Db, place: &str) -> sedimentdb::query::Explain {
    let mut total = sedimentdb::query::Explain::default();
    let all: Vec<f64> = SCENARIOS.iter().flat_map(|s| s.iter().copied()).collect();
    for agg in AGGREGATES {
        for every in [100u64, PART as u64] {
            let q = Query::metric("ieee").downsample(Duration::from_nanos(every), agg);
            let (result, explain) = db.query_explained(&q).unwrap();
            total.chunks_from_stats += explain.chunks_from_stats;
            total.rollup_buckets += explain.rollup_buckets;
            total.head_points += explain.head_points;
            total.chunks_decoded += explain.chunks_decoded;
            let series = &result.series[0];
            let mut want_ts = Vec::new();
            let mut want_vals = Vec::new();
            for (k, values) in SCENARIOS.iter().enumerate() {
                if let Some(v) = reference(values, agg) {
                    want_ts.push(k as i64 * PART);
                    want_vals.push(v);
                }
            }
            assert_eq!(series.timestamps, want_ts, "{place} {agg:?} per {every} ns");
            for ((t, got), want) in series.timestamps.iter().zip(&series.values).zip(&want_vals) {
                assert!(
                    same(*got, *want),
                    "{place} {agg:?} per {every} ns, bucket {t} {:?}: got {got}, want {want}",
                    SCENARIOS[(*t / PART) as usize]
                );
            }
        }
        let q = Query::metric("ieee").aggregate(agg);
        let result = db.query(&q).unwrap();
        let got = result.series[0].values[0];
        let want = reference(&all, agg).unwrap();
        assert!(
            same(got, want),
            "{place} {agg:?} overall: got {got}, want {want}"
        );
    }
    total
}

#[test]
fn aggregates_of_nan_and_infinities_in_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    write_scenarios(&db);
    let explain = check(&db, "head");
    assert!(explain.head_points > 0);
}

#[test]
fn aggregates_of_nan_and_infinities_in_segments_and_chunk_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    write_scenarios(&db);
    db.flush().unwrap();
    let explain = check(&db, "segments");
    assert!(
        explain.chunks_from_stats > 0,
        "no query was answered from chunk statistics"
    );
    assert!(explain.chunks_decoded > 0);
    assert_eq!(explain.head_points, 0);
}

#[test]
fn aggregates_of_nan_and_infinities_in_rollups() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    write_scenarios(&db);
    // A point far enough ahead that every scenario partition is older than the warm
    // duration and goes cold (with a rollup).
    let mut batch = WriteBatch::new();
    batch.push_key(&SeriesKey::new("other"), 100 * PART, 0.0);
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    let explain = check(&db, "rollups");
    assert!(
        explain.rollup_buckets > 0,
        "no query was answered from rollups"
    );
}
