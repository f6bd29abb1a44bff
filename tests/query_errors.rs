//! Queries that make no sense are `InvalidArgument`; queries past their limits are
//! `LimitExceeded`, before the work or memory is spent; a closed database is `Closed`.

use std::time::Duration;

use sedimentdb::query::{AnomalyMethod, CorrelateOptions, Fill, QueryLimits, ValueFilter};
use sedimentdb::{
    Aggregate, Db, Durability, Error, Options, Query, SeriesKey, TimeRange, WriteBatch,
};

const SEC: i64 = 1_000_000_000;

fn db_with_data(dir: &std::path::Path) -> Db {
    let db = Db::open(dir, Options::default().durability(Durability::None)).unwrap();
    let mut batch = WriteBatch::new();
    for host in 0..5 {
        let key = SeriesKey::new("cpu").with("host", format!("h{host}"));
        for t in 0..100i64 {
            batch.push_key(&key, t * SEC, t as f64);
        }
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db
}

fn invalid(r: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(r, Err(Error::InvalidArgument(_)))
}

#[test]
fn nonsense_is_an_invalid_argument() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_data(dir.path());
    let q = || Query::metric("cpu");
    let minute = Duration::from_secs(60);
    for bad in [
        q().between(5, 5),
        q().between(5, -5),
        q().downsample(Duration::ZERO, Aggregate::Max),
        q().downsample(Duration::from_secs(200 * 365 * 86_400), Aggregate::Max),
        q().downsample(minute, Aggregate::Quantile(-0.1)),
        q().downsample(minute, Aggregate::Quantile(1.01)),
        q().aggregate(Aggregate::Quantile(f64::NAN)),
        q().group_by(["host"]),
        q().group_all(),
        q().aggregate(Aggregate::Sum).fill(Fill::Previous),
        q().downsample(minute, Aggregate::Sum)
            .fill(Fill::Value(f64::NAN)),
        q().where_value(ValueFilter::lt(f64::NAN)),
        q().downsample(minute, Aggregate::Sum)
            .having(ValueFilter::gt(f64::NAN)),
        q().bottom_k(0, Aggregate::Max),
        q().top_k(3, Aggregate::Quantile(2.0)),
        q().downsample(minute, Aggregate::Sum)
            .across_series(Aggregate::Max),
        q().last(Duration::ZERO),
    ] {
        assert!(invalid(db.query(&bad)), "{bad:?}");
        assert!(invalid(db.explain(&bad)), "{bad:?}");
    }
    // Analytics check their own parameters.
    let bucketed = q().downsample(minute, Aggregate::Avg);
    assert!(invalid(db.correlate(
        &q(),
        &bucketed,
        &CorrelateOptions::default()
    )));
    let other = q().downsample(Duration::from_secs(30), Aggregate::Avg);
    assert!(invalid(db.correlate(
        &bucketed,
        &other,
        &CorrelateOptions::default()
    )));
    let seasonal = AnomalyMethod::Seasonal {
        period: Duration::from_secs(86_400),
        threshold: 3.5,
    };
    assert!(invalid(db.anomalies(&q(), seasonal)), "needs buckets");
    let bad_window = AnomalyMethod::RollingZScore {
        window: 1,
        threshold: 3.5,
    };
    assert!(invalid(db.anomalies(&q(), bad_window)));
    assert!(invalid(db.attribute(&q(), TimeRange::new(0, SEC), "host")));
    assert!(invalid(db.attribute(
        &bucketed,
        TimeRange::new(SEC, 0),
        "host"
    )));
    let many = q().downsample(minute, Aggregate::Avg);
    assert!(invalid(db.discover_correlated(
        &many,
        &many,
        3,
        sedimentdb::analytics::correlation::CorrelationMethod::Pearson
    )));
}

#[test]
fn limits_stop_queries_early() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_data(dir.path());
    let limited = |limits: QueryLimits| Query::metric("cpu").limits(limits);
    let exceeded = |r: Result<_, Error>, what: &str| match r {
        Err(Error::LimitExceeded { what: w, .. }) => assert!(w.contains(what), "{w}"),
        other => panic!("expected a limit on {what}, got {other:?}"),
    };
    let d = QueryLimits::default();
    exceeded(
        db.query(&limited(QueryLimits { max_series: 4, ..d })),
        "series",
    );
    exceeded(
        db.query(&limited(QueryLimits {
            max_points_read: 499,
            ..d
        })),
        "points read",
    );
    // 500 points exactly is within the limit.
    assert_eq!(
        db.query(&limited(QueryLimits {
            max_points_read: 500,
            ..d
        }))
        .unwrap()
        .points(),
        500
    );
    exceeded(
        db.query(&limited(QueryLimits {
            max_result_points: 499,
            ..d
        })),
        "result",
    );
    // Statistics read no points: a whole-range max passes a tiny read limit.
    let max = Query::metric("cpu")
        .aggregate(Aggregate::Max)
        .limits(QueryLimits {
            max_points_read: 1,
            ..d
        });
    assert_eq!(db.query(&max).unwrap().len(), 5);
    // A fill over all time with 1 ns buckets would be enormous: refused before allocating.
    let huge = Query::metric("cpu")
        .downsample(Duration::from_nanos(1), Aggregate::Max)
        .fill(Fill::Null);
    exceeded(db.query(&huge), "result");
}

#[test]
fn closed_database_refuses_queries() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_data(dir.path());
    db.close().unwrap();
    assert!(matches!(
        db.query(&Query::metric("cpu")),
        Err(Error::Closed)
    ));
    assert!(matches!(
        db.breakdown(&Query::metric("cpu"), &[]),
        Err(Error::Closed)
    ));
}
