//! The recorder under the real `metrics` macros: what a service records is what lands
//! in sedimentdb, sample after sample; quantiles are within the sketch's stated error of
//! the exact ones; the memory bounds hold; `metrics-util` layers work on top.

use std::time::Duration;

use metrics::Unit;
use metrics_util::layers::{Layer, PrefixLayer};
use sedimentdb::{Db, Durability, Matcher, Options, Query};
use sedimentdb_metrics::{RecorderError, RecorderOptions, QUANTILE_RELATIVE_ERROR};

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).unwrap();
    (dir, db)
}

/// Options whose own thread never samples during a test (samples are taken by hand).
fn manual() -> RecorderOptions {
    RecorderOptions::default().interval(Duration::from_secs(3600))
}

/// Every value of the one series matching `query`.
fn values(db: &Db, query: Query) -> Vec<f64> {
    let result = db.query(&query).unwrap();
    assert_eq!(result.series.len(), 1, "{query:?}");
    result.series[0].values.clone()
}

#[test]
fn counters_gauges_and_histograms_land_as_recorded_over_several_samples() {
    let (_dir, db) = open();
    let (recorder, handle) = sedimentdb_metrics::build(db.clone(), manual()).unwrap();
    let mut exact: Vec<f64> = Vec::new();
    for round in 0..3u64 {
        metrics::with_local_recorder(&recorder, || {
            for i in 0..1000u64 {
                let route = if i % 4 == 0 { "/login" } else { "/api" };
                metrics::counter!("http.requests", "route" => route).increment(1);
                let latency = 0.001 * (1 + (i * 7919 + round) % 997) as f64;
                metrics::histogram!("http.latency", "route" => "all").record(latency);
                if round == 2 {
                    exact.push(latency);
                }
            }
            metrics::gauge!("queue.depth").set(10.0 * (round + 1) as f64);
        });
        assert!(handle.sample_now().unwrap() > 0);
        std::thread::sleep(Duration::from_millis(2)); // distinct sample timestamps
    }
    let api = Query::metric("http.requests").filter(Matcher::eq("route", "/api"));
    assert_eq!(values(&db, api), vec![750.0, 1500.0, 2250.0]);
    let login = Query::metric("http.requests").filter(Matcher::eq("route", "/login"));
    assert_eq!(values(&db, login), vec![250.0, 500.0, 750.0]);
    assert_eq!(
        values(&db, Query::metric("queue.depth")),
        vec![10.0, 20.0, 30.0]
    );
    assert_eq!(
        values(&db, Query::metric("http.latency_count")),
        vec![1000.0, 2000.0, 3000.0]
    );

    // The last interval's extremes and quantiles are over that interval's values only.
    exact.sort_by(f64::total_cmp);
    let last = |name: &str| *values(&db, Query::metric(name)).last().unwrap();
    assert_eq!(last("http.latency_min"), exact[0]);
    assert_eq!(last("http.latency_max"), exact[exact.len() - 1]);
    for q in [0.5, 0.9, 0.99, 0.999] {
        let query = Query::metric("http.latency").filter(Matcher::eq("quantile", q.to_string()));
        let got = *values(&db, query).last().unwrap();
        let want = exact[(q * (exact.len() - 1) as f64).round() as usize];
        let error = (got - want).abs() / want;
        assert!(
            error <= QUANTILE_RELATIVE_ERROR * 1.01,
            "p{q}: {got} vs exact {want} ({error})"
        );
    }
    let stats = handle.stats();
    assert_eq!((stats.samples, stats.series), (3, 4));
    assert_eq!(
        (
            stats.series_refused,
            stats.histogram_values_dropped,
            stats.write_errors
        ),
        (0, 0, 0)
    );
    handle.shutdown().unwrap();
}

#[test]
fn units_become_the_unit_dimension_and_descriptions_are_kept() {
    let (_dir, db) = open();
    let (recorder, handle) = sedimentdb_metrics::build(db.clone(), manual()).unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("db.query", Unit::Seconds, "time to answer a query");
        metrics::histogram!("db.query").record(0.5);
    });
    handle.sample_now().unwrap();
    let series = db.query(&Query::metric("db.query_sum")).unwrap().series;
    assert_eq!(series[0].labels.get("unit"), Some("seconds"));
    let d = handle.descriptions();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].name.as_str(), d[0].unit.as_deref(), d[0].text.as_str()),
        ("db.query", Some("seconds"), "time to answer a query")
    );
}

#[test]
fn the_sampling_thread_samples_on_its_interval() {
    let (_dir, db) = open();
    let options = RecorderOptions::default().interval(Duration::from_millis(20));
    let (recorder, handle) = sedimentdb_metrics::build(db.clone(), options).unwrap();
    metrics::with_local_recorder(&recorder, || metrics::gauge!("up").set(1.0));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while handle.stats().samples < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no samples: {:?}",
            handle.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let n = values(&db, Query::metric("up")).len();
    assert!(n >= 3, "{n} samples of up");
    handle.shutdown().unwrap();
}

#[test]
fn memory_bounds_hold_and_are_counted() {
    let (_dir, db) = open();
    let options = manual().max_series(2).max_histogram_samples(10);
    let (recorder, handle) = sedimentdb_metrics::build(db.clone(), options).unwrap();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..100 {
            metrics::histogram!("h").record(i as f64);
        }
        metrics::counter!("a").increment(1);
        metrics::counter!("b").increment(1); // a third metric: refused
        metrics::counter!("b").increment(1);
    });
    handle.sample_now().unwrap();
    let stats = handle.stats();
    assert_eq!(stats.series, 2);
    assert_eq!(stats.series_refused, 2);
    assert_eq!(stats.histogram_values_dropped, 90);
    // Count and sum stay exact past the sample bound.
    assert_eq!(values(&db, Query::metric("h_count")), vec![100.0]);
    assert_eq!(values(&db, Query::metric("h_sum")), vec![4950.0]);
    assert!(db.query(&Query::metric("b")).unwrap().series.is_empty());
}

#[test]
fn metrics_util_layers_wrap_the_recorder() {
    let (_dir, db) = open();
    let (recorder, handle) =
        sedimentdb_metrics::build(db.clone(), manual().global_label("instance", "web-1")).unwrap();
    let layered = PrefixLayer::new("svc").layer(recorder);
    metrics::with_local_recorder(&layered, || {
        metrics::counter!("jobs", "kind" => "").increment(5)
    });
    handle.sample_now().unwrap();
    let series = db.query(&Query::metric("svc.jobs")).unwrap().series;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].values, vec![5.0]);
    assert_eq!(series[0].labels.get("instance"), Some("web-1"));
    assert_eq!(
        series[0].labels.get("kind"),
        None,
        "an empty label value is absent"
    );
}

#[test]
fn bad_options_are_refused_naming_the_option() {
    let (_dir, db) = open();
    for (options, name) in [
        (
            RecorderOptions::default().interval(Duration::from_millis(1)),
            "interval",
        ),
        (
            RecorderOptions::default().quantiles([0.5, 1.5]),
            "quantiles",
        ),
        (RecorderOptions::default().max_series(0), "max_series"),
        (
            RecorderOptions::default().max_histogram_samples(0),
            "max_histogram_samples",
        ),
    ] {
        match sedimentdb_metrics::build(db.clone(), options) {
            Err(RecorderError::InvalidOption { option, .. }) => assert_eq!(option, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}
