//! The collector's synchronous pipeline end to end: validation, enrichment,
//! de-duplication, sampling, storage mapping, routing and queries.

use std::sync::Arc;
use std::time::Duration;

use sedimentdb::{Db, Durability, Options, Selector, TimeRange};
use sedimentdb_collector::{
    Aggregation, CollectorConfig, DedupConfig, Enricher, ManualClock, MetricEvent, MetricQuery,
    Outcome, PerformanceMetric, Rejection, Sampler, Source, SystemMetric, UnifiedMetricsCollector,
    UserMetric,
};

fn admin() -> sedimentdb_collector::Principal {
    sedimentdb_collector::Principal::new("test", sedimentdb_collector::Role::Admin)
}

const T0: i64 = 1_714_564_800_000_000_000;
const SEC: i64 = 1_000_000_000;

fn open(config: CollectorConfig) -> (tempfile::TempDir, UnifiedMetricsCollector) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).unwrap();
    let config = CollectorConfig {
        clock: Arc::new(ManualClock::new(T0 + 3600 * SEC)),
        ..config
    };
    (dir, UnifiedMetricsCollector::new(db, config).unwrap())
}

fn cpu(ts: i64, host: &str, value: f64) -> MetricEvent {
    SystemMetric::new("cpu_usage", value, "percent")
        .dimension("host", host)
        .at(ts)
        .build()
}

#[test]
fn a_rejected_event_does_not_affect_the_others() {
    let (_dir, c) = open(CollectorConfig::default());
    let mut bad_value = cpu(T0, "h1", 1.0);
    bad_value.value = f64::NAN;
    let mut bad_name = cpu(T0, "h1", 1.0);
    bad_name.name = "9lives".into();
    let events = vec![
        cpu(T0, "h1", 10.0),
        bad_value,
        cpu(T0 + SEC, "h1", 20.0),
        bad_name,
    ];
    let report = c.batch_collect(events).unwrap();
    assert_eq!(report.stored, 2);
    let rejected: Vec<_> = report.rejected().collect();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].0, 1);
    assert!(matches!(rejected[0].1, Rejection::NonFiniteValue(_)));
    assert!(matches!(rejected[1].1, Rejection::InvalidName(_)));
    assert!(report.ids()[0].is_some() && report.ids()[1].is_none());
    let sum = c
        .query_metrics(
            &admin(),
            &MetricQuery::metric("cpu_usage").aggregate(Aggregation::Sum),
        )
        .unwrap();
    assert_eq!(sum.scalar(), Some(30.0));
    let stats = c.stats();
    assert_eq!((stats.received, stats.stored, stats.rejected), (4, 2, 2));
    assert!(matches!(
        c.collect_metric(cpu(T0 + 10 * 86_400 * SEC, "h1", 1.0)),
        Err(sedimentdb_collector::CollectorError::Rejected(
            Rejection::TimestampInFuture { .. }
        ))
    ));
}

#[test]
fn events_map_to_series_with_reserved_attribute_dimensions() {
    let enricher = Enricher::new([("environment", "prod"), ("version", "1.2.0")]).unwrap();
    let (_dir, c) = open(CollectorConfig {
        enricher,
        ..CollectorConfig::default()
    });
    c.collect_metric(cpu(T0, "h1", 5.0)).unwrap();
    c.collect_metric(
        PerformanceMetric::new("deploy", "command_execution_time", 3.0, "ms", true)
            .dimension("version", "2.0.0")
            .at(T0)
            .build(),
    )
    .unwrap();
    let keys = c.db().list_series(&Selector::any()).unwrap();
    let shown: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    assert_eq!(
        shown,
        [
            r#"cpu_usage{category="resource",environment="prod",host="h1",source="system",unit="percent",version="1.2.0"}"#,
            r#"command_execution_time{category="latency",environment="prod",operation="deploy",source="performance",success="true",unit="ms",version="2.0.0"}"#,
        ]
    );
    let by_source = c
        .query_metrics(&admin(), &MetricQuery::any().source(Source::Performance))
        .unwrap();
    assert_eq!(by_source.series.len(), 1);
    assert_eq!(by_source.series[0].points, vec![(T0, 3.0)]);
}

#[test]
fn duplicates_within_the_window_are_stored_once() {
    let (_dir, c) = open(CollectorConfig {
        dedup: DedupConfig {
            window: Duration::from_secs(60),
            max_ids: 1000,
        },
        ..CollectorConfig::default()
    });
    let e = cpu(T0, "h1", 1.0).with_id("evt-1");
    let report = c.batch_collect(vec![e.clone(), e.clone()]).unwrap();
    assert_eq!(
        report.outcomes,
        vec![
            Outcome::Stored("evt-1".into()),
            Outcome::Duplicate("evt-1".into())
        ]
    );
    assert_eq!(c.collect_metric(e.clone().at(T0 + SEC)).unwrap(), "evt-1");
    let count = c
        .query_metrics(
            &admin(),
            &MetricQuery::metric("cpu_usage").aggregate(Aggregation::Count),
        )
        .unwrap();
    assert_eq!(count.scalar(), Some(1.0));
    assert_eq!(c.stats().duplicates, 2);
    // Events without an id get unique ones and are never taken for duplicates.
    let r = c
        .batch_collect(vec![cpu(T0, "h2", 1.0), cpu(T0 + SEC, "h2", 1.0)])
        .unwrap();
    assert_eq!(r.stored, 2);
    assert_ne!(r.ids()[0], r.ids()[1]);
}

#[test]
fn sampling_records_the_rate_and_queries_scale_counts_back() {
    let (_dir, c) = open(CollectorConfig {
        sampler: Sampler::new(1.0).unwrap().with_rate("clicks", 0.1).unwrap(),
        ..CollectorConfig::default()
    });
    let events: Vec<_> = (0..20_000)
        .map(|i| {
            UserMetric::new(format!("u{}", i % 7), "clicks", 1.0)
                .at(T0 + i * 1_000_000)
                .build()
        })
        .collect();
    let report = c.batch_collect(events).unwrap();
    assert!((1_700..2_300).contains(&report.stored), "{}", report.stored);
    let keys = c.db().list_series(&Selector::metric("clicks")).unwrap();
    assert!(keys
        .iter()
        .all(|k| k.dimension("sample_rate") == Some("0.1")));
    let q = MetricQuery::metric("clicks")
        .aggregate(Aggregation::Count)
        .group_by(Vec::<String>::new());
    let estimate = c.query_metrics(&admin(), &q).unwrap().scalar().unwrap();
    assert!((17_000.0..23_000.0).contains(&estimate), "{estimate}");
    assert_eq!(c.stats().sampled_out as usize, 20_000 - report.stored);
}

#[test]
fn queries_bucket_group_and_reduce() {
    let (_dir, c) = open(CollectorConfig::default());
    let mut events = Vec::new();
    for i in 0..120 {
        events.push(cpu(T0 + i * SEC, "h1", i as f64));
        events.push(cpu(T0 + i * SEC, "h2", 100.0));
    }
    c.batch_collect(events).unwrap();
    let q = MetricQuery::metric("cpu_usage")
        .aggregate(Aggregation::Max)
        .bucket(Duration::from_secs(60))
        .group_by(["host"])
        .range(TimeRange::new(T0, T0 + 120 * SEC));
    let r = c.query_metrics(&admin(), &q).unwrap();
    assert_eq!(r.series.len(), 2);
    assert_eq!(r.series[0].labels["host"], "h1");
    assert_eq!(r.series[0].points, vec![(T0, 59.0), (T0 + 60 * SEC, 119.0)]);
    assert_eq!(
        r.series[1].points,
        vec![(T0, 100.0), (T0 + 60 * SEC, 100.0)]
    );
    let all = MetricQuery::metric("cpu_usage")
        .aggregate(Aggregation::Avg)
        .group_by(Vec::<String>::new());
    assert_eq!(
        c.query_metrics(&admin(), &all).unwrap().scalar(),
        Some((59.5 + 100.0) / 2.0)
    );
    let raw = c
        .query_metrics(
            &admin(),
            &MetricQuery::metric("cpu_usage").where_eq("host", "h2"),
        )
        .unwrap();
    assert_eq!(raw.series.len(), 1);
    assert_eq!(raw.samples(), 120);
}

#[test]
fn followed_metrics_reach_the_realtime_aggregator() {
    let (_dir, c) = open(CollectorConfig::default());
    c.realtime().follow("cpu_usage");
    c.batch_collect((0..10).map(|i| cpu(T0 + i * SEC, "h1", i as f64)).collect())
        .unwrap();
    c.collect_metric(SystemMetric::new("mem", 1.0, "MB").at(T0).build())
        .unwrap();
    let stats = c.realtime().stats(&Selector::any(), T0 + 5 * SEC);
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].1.count, stats[0].1.last), (5, 9.0));
}

#[test]
fn a_failing_store_is_an_error_and_nothing_is_remembered_as_seen() {
    let (_dir, c) = open(CollectorConfig::default());
    c.db().close().unwrap();
    let err = c
        .collect_metric(cpu(T0, "h9", 1.0).with_id("x"))
        .unwrap_err();
    assert!(
        matches!(err, sedimentdb_collector::CollectorError::Store(_)),
        "{err}"
    );
}

#[test]
fn hostile_input_is_rejected_never_panics() {
    let (_dir, c) = open(CollectorConfig::default());
    // Garbage JSON never parses into an event.
    for line in [
        "",
        "{",
        "null",
        r#"{"timestamp":"9999-99-99","source":"system","category":"a","name":"b","value":1}"#,
        r#"{"timestamp":1e400,"source":"system","category":"a","name":"b","value":1}"#,
        r#"{"timestamp":"2024-05-01T12:00:00Z","source":"system","category":"a","name":"b","value":"x"}"#,
    ] {
        assert!(MetricEvent::from_json(line).is_err(), "{line}");
    }
    // Events that parse but are hostile are rejected one by one.
    let mut events = Vec::new();
    for name in ["", "a b", "é", "../../etc/passwd", &"n".repeat(10_000)] {
        let mut e = cpu(T0, "h1", 1.0);
        e.name = name.to_string();
        events.push(e);
    }
    for (k, v) in [
        ("", "v"),
        ("k\0", "v"),
        ("k", "\0"),
        ("unit", "x"),
        ("k", &"v".repeat(100_000)),
    ] {
        events.push(cpu(T0, "h1", 1.0).with_dimension(k, v));
    }
    for ts in [i64::MIN, i64::MAX, -1] {
        events.push(cpu(ts, "h1", 1.0));
    }
    let n = events.len();
    let report = c.batch_collect(events).unwrap();
    assert_eq!(report.rejected().count(), n);
    assert_eq!(report.stored, 0);
}

#[test]
fn new_series_past_the_limit_are_refused_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options::default()
            .durability(Durability::None)
            .max_series(5),
    )
    .unwrap();
    let c = UnifiedMetricsCollector::new(
        db,
        CollectorConfig {
            clock: Arc::new(ManualClock::new(T0 + 3600 * SEC)),
            ..CollectorConfig::default()
        },
    )
    .unwrap();
    c.collect_metric(cpu(T0, "h0", 1.0)).unwrap();
    // Seven new hosts (two points each) and one known host, where four more series fit.
    let mut events = Vec::new();
    for round in 0..2 {
        for h in 0..8 {
            let mut e = cpu(T0 + (1 + round) * SEC, &format!("h{h}"), h as f64);
            e.id = format!("e{round}-{h}");
            events.push(e);
        }
    }
    let report = c.batch_collect(events.clone()).unwrap();
    let refused: Vec<usize> = report
        .rejected()
        .map(|(i, r)| {
            assert!(matches!(r, Rejection::SeriesRefused(_)), "{r:?}");
            i
        })
        .collect();
    // h0 (known) and h1..h4 (the first four new ones) are stored, h5..h7 refused.
    assert_eq!(refused, [5, 6, 7, 13, 14, 15]);
    assert_eq!(report.stored, 10);
    assert_eq!(c.db().stats().series, 5);
    // The refused events' ids were not remembered as seen: a retry is refused for the
    // same reason again, not taken for a duplicate.
    let retry: Vec<MetricEvent> = refused.iter().map(|&i| events[i].clone()).collect();
    let report = c.batch_collect(retry).unwrap();
    assert_eq!(report.rejected().count(), 6, "{:?}", report.outcomes);
    assert_eq!(c.stats().duplicates, 0);
}

#[test]
fn groups_mixing_sampled_and_unsampled_series_are_weighted() {
    let (_dir, c) = open(CollectorConfig {
        sampler: Sampler::new(1.0)
            .unwrap()
            .with_rate("clicks", 0.25)
            .unwrap(),
        ..CollectorConfig::default()
    });
    let mut events = Vec::new();
    for i in 0..400 {
        let at = T0 + i * SEC;
        events.push(
            UserMetric::new("u1", "clicks", 2.0)
                .dimension("command", "x")
                .at(at)
                .build(),
        );
        events.push(
            UserMetric::new("u1", "taps", 10.0)
                .dimension("command", "x")
                .at(at)
                .build(),
        );
    }
    let report = c.batch_collect(events).unwrap();
    let clicks = (report.stored - 400) as f64; // every tap is kept
    assert!(clicks > 50.0 && clicks < 150.0, "{clicks}");
    let q = |agg| {
        let q = MetricQuery::any()
            .source(Source::User)
            .aggregate(agg)
            .group_by(["command"]);
        let r = c.query_metrics(&admin(), &q).unwrap();
        assert_eq!(r.series.len(), 1, "{r:?}");
        assert_eq!(r.series[0].labels["command"], "x");
        assert_eq!(r.series[0].samples, report.stored);
        r.scalar().unwrap()
    };
    // Each stored click stands for four.
    let (n, sum) = (4.0 * clicks + 400.0, 4.0 * clicks * 2.0 + 4000.0);
    assert_eq!(q(Aggregation::Count), n);
    assert_eq!(q(Aggregation::Sum), sum);
    assert!((q(Aggregation::Avg) - sum / n).abs() < 1e-9);
    // Unweighted reductions see the stored values.
    assert_eq!(q(Aggregation::Min), 2.0);
    assert_eq!(q(Aggregation::Max), 10.0);
    let mean = sum / n;
    let var = (4.0 * clicks * (2.0 - mean).powi(2) + 400.0 * (10.0 - mean).powi(2)) / (n - 1.0);
    assert!((q(Aggregation::StdDev) - var.sqrt()).abs() < 1e-9);
}
