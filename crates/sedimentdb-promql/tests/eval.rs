//! The evaluator against hand-computed answers, over a real database.

use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
use sedimentdb_promql::{instant_query, range_query, EvalOptions, PromError, QueryValue};

const S: i64 = 1_000_000_000;

fn db_with(series: &[(SeriesKey, Vec<(i64, f64)>)]) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut batch = WriteBatch::new();
    for (key, points) in series {
        for &(t, v) in points {
            batch.push_key(key, t * S, v);
        }
    }
    db.write(&batch).unwrap();
    (dir, db)
}

fn key(name: &str, host: &str) -> SeriesKey {
    SeriesKey::new(name)
        .with("host", host)
        .with("dc", if host == "c" { "us" } else { "eu" })
}

/// Three hosts, samples every 10 s from 0 to 600 s: a = 10 t (counter), b = t, c = 600 - t.
fn standard() -> (tempfile::TempDir, Db) {
    let pts = |f: &dyn Fn(i64) -> f64| (0..=60).map(|i| (i * 10, f(i * 10))).collect::<Vec<_>>();
    db_with(&[
        (key("m", "a"), pts(&|t| 10.0 * t as f64)),
        (key("m", "b"), pts(&|t| t as f64)),
        (key("m", "c"), pts(&|t| 600.0 - t as f64)),
    ])
}

fn vector(db: &Db, q: &str, t: i64) -> Vec<(String, f64)> {
    match instant_query(db, q, t * S, &EvalOptions::default()).unwrap() {
        QueryValue::Vector(v) => v
            .into_iter()
            .map(|s| (s.labels.to_string(), s.value))
            .collect(),
        other => panic!("not a vector: {other:?}"),
    }
}

fn scalar(db: &Db, q: &str, t: i64) -> f64 {
    match instant_query(db, q, t * S, &EvalOptions::default()).unwrap() {
        QueryValue::Scalar { value, .. } => value,
        other => panic!("not a scalar: {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn instant_selector_looks_back_five_minutes_left_open() {
    let (_d, db) = db_with(&[(key("g", "a"), vec![(100, 1.0), (200, 2.0)])]);
    // At 250 s the newest sample is 200 s.
    assert_eq!(vector(&db, "g", 250)[0].1, 2.0);
    // 200 + 300 = 500: the window (200, 500] no longer holds it.
    assert_eq!(vector(&db, "g", 499)[0].1, 2.0);
    assert!(vector(&db, "g", 500).is_empty());
    // Before the first sample: nothing.
    assert!(vector(&db, "g", 99).is_empty());
    // A per-query lookback.
    let opts = EvalOptions::default()
        .lookback_delta(std::time::Duration::from_secs(30))
        .unwrap();
    let v = instant_query(&db, "g", 240 * S, &opts).unwrap();
    assert_eq!(v, QueryValue::Vector(vec![]));
}

#[test]
fn staleness_markers_end_a_series() {
    let stale = f64::from_bits(sedimentdb_promql::STALE_NAN_BITS);
    let (_d, db) = db_with(&[(key("g", "a"), vec![(100, 1.0), (110, stale), (200, 3.0)])]);
    assert!(vector(&db, "g", 150).is_empty());
    assert_eq!(vector(&db, "g", 205)[0].1, 3.0);
    // Range windows drop the marker.
    assert_eq!(vector(&db, "count_over_time(g[200s])", 205)[0].1, 2.0);
}

#[test]
fn range_windows_are_left_open_right_closed() {
    let (_d, db) = standard();
    // (240, 300] holds 250..=300: six samples.
    assert_eq!(
        vector(&db, r#"count_over_time(m{host="a"}[60s])"#, 300)[0].1,
        6.0
    );
    assert_eq!(
        vector(&db, r#"min_over_time(m{host="b"}[60s])"#, 300)[0].1,
        250.0
    );
    assert_eq!(
        vector(&db, r#"max_over_time(m{host="b"}[60s])"#, 300)[0].1,
        300.0
    );
    assert_eq!(
        vector(&db, r#"sum_over_time(m{host="b"}[60s])"#, 300)[0].1,
        1650.0
    );
    assert_eq!(
        vector(&db, r#"avg_over_time(m{host="b"}[60s])"#, 300)[0].1,
        275.0
    );
    assert_eq!(
        vector(&db, r#"last_over_time(m{host="b"}[60s])"#, 305)[0].1,
        300.0
    );
    // Population stddev of 250..300 step 10: sqrt(mean of squares of -25,-15,-5,5,15,25) = sqrt(291.67).
    let sd = vector(&db, r#"stddev_over_time(m{host="b"}[60s])"#, 300)[0].1;
    assert!(close(sd, (1750.0f64 / 6.0).sqrt()), "{sd}");
    // quantile 0.5 of 250..300: rank 2.5 -> 275.
    assert_eq!(
        vector(&db, r#"quantile_over_time(0.5, m{host="b"}[60s])"#, 300)[0].1,
        275.0
    );
    // last_over_time keeps the metric name; the others drop it.
    assert!(vector(&db, r#"last_over_time(m{host="b"}[1m])"#, 300)[0]
        .0
        .contains("__name__"));
    assert!(!vector(&db, r#"max_over_time(m{host="b"}[1m])"#, 300)[0]
        .0
        .contains("__name__"));
}

#[test]
fn rate_increase_delta_and_irate() {
    let (_d, db) = standard();
    // a rises 1 per second; window (0, 300] holds 10..=300 (30 samples, 290 s).
    // Start gap 10 s <= 1.1 x 10 s: extrapolate to the start; but the zero point is
    // 290 * 100 / 2900 = 10 s back, the same. End gap 0. Increase 2900 * 300 / 290 = 3000.
    assert!(close(
        vector(&db, r#"increase(m{host="a"}[5m])"#, 300)[0].1,
        3000.0
    ));
    assert!(close(
        vector(&db, r#"rate(m{host="a"}[5m])"#, 300)[0].1,
        10.0
    ));
    // c falls: as a counter each step is a reset; delta is the plain difference.
    assert!(close(
        vector(&db, r#"delta(m{host="c"}[5m])"#, 300)[0].1,
        -300.0
    ));
    assert!(close(
        vector(&db, r#"irate(m{host="a"}[5m])"#, 300)[0].1,
        10.0
    ));
    assert!(close(
        vector(&db, r#"idelta(m{host="c"}[5m])"#, 300)[0].1,
        -10.0
    ));
    // One sample in the window: no rate.
    assert!(vector(&db, r#"rate(m{host="a"}[10s])"#, 300).is_empty());
}

#[test]
fn counter_resets_add_the_value_before_the_reset() {
    // 0, 10, 20, reset to 5, 15 every 10 s from 10 s; window (0, 50].
    let (_d, db) = db_with(&[(
        key("c", "a"),
        vec![(10, 0.0), (20, 10.0), (30, 20.0), (40, 5.0), (50, 15.0)],
    )]);
    // Raw increase 15 + 20 = 35 over 40 s; extrapolation to the start is cut at the zero
    // point (the first value is 0: 0 s). 35 * 40 / 40.
    assert!(close(vector(&db, "increase(c[50s])", 50)[0].1, 35.0));
    assert!(close(vector(&db, "rate(c[50s])", 50)[0].1, 35.0 / 50.0));
    // irate across the reset: the new value over 10 s.
    assert!(close(vector(&db, "irate(c[50s])", 40)[0].1, 0.5));
}

#[test]
fn offset_and_at_move_the_window() {
    let (_d, db) = standard();
    assert_eq!(vector(&db, r#"m{host="b"} offset 100s"#, 300)[0].1, 200.0);
    assert_eq!(
        vector(&db, r#"max_over_time(m{host="b"}[1m] offset 1m)"#, 300)[0].1,
        240.0
    );
    assert_eq!(vector(&db, r#"m{host="b"} @ 120"#, 300)[0].1, 120.0);
}

#[test]
fn aggregations_by_and_without() {
    let (_d, db) = standard();
    // At 100 s: a = 1000, b = 100, c = 500.
    assert_eq!(vector(&db, "sum(m)", 100), vec![("{}".into(), 1600.0)]);
    let by = vector(&db, "sum by (dc) (m)", 100);
    assert_eq!(
        by,
        vec![
            (r#"{dc="eu"}"#.into(), 1100.0),
            (r#"{dc="us"}"#.into(), 500.0)
        ]
    );
    let without = vector(&db, "max without (host) (m)", 100);
    assert_eq!(
        without,
        vec![
            (r#"{dc="eu"}"#.into(), 1000.0),
            (r#"{dc="us"}"#.into(), 500.0)
        ]
    );
    assert_eq!(vector(&db, "min(m)", 100)[0].1, 100.0);
    assert_eq!(vector(&db, "count(m)", 100)[0].1, 3.0);
    assert!(close(vector(&db, "avg(m)", 100)[0].1, 1600.0 / 3.0));
    assert_eq!(vector(&db, "quantile(0.5, m)", 100)[0].1, 500.0);
    // Population stddev of 1000, 100, 500.
    let mean = 1600.0 / 3.0;
    let var =
        ((1000.0f64 - mean).powi(2) + (100.0f64 - mean).powi(2) + (500.0f64 - mean).powi(2)) / 3.0;
    assert!(close(vector(&db, "stddev(m)", 100)[0].1, var.sqrt()));
    assert_eq!(vector(&db, "group(m)", 100)[0].1, 1.0);
}

#[test]
fn topk_and_bottomk_keep_labels_and_break_ties_like_prometheus() {
    let (_d, db) = standard();
    let top = vector(&db, "topk(2, m)", 100);
    assert_eq!(top.len(), 2);
    assert!(top[0].0.contains(r#"host="a""#) && top[0].1 == 1000.0);
    assert!(top[1].0.contains(r#"host="c""#) && top[1].1 == 500.0);
    let bottom = vector(&db, "bottomk by (dc) (1, m)", 100);
    assert_eq!(bottom.len(), 2);
    assert!(bottom[0].0.contains(r#"host="b""#));
    assert!(bottom[1].0.contains(r#"host="c""#));
    // Ties: at 300 s b = c = 300 and a = 3000. The heap of two keeps a and b (b is pushed
    // before c and c does not beat the top b); with three equal values and k = 2 the
    // first two pushed (label order a, b) win, the third never replaces the top.
    let (_d2, tied) = db_with(&[
        (key("t", "a"), vec![(0, 1.0)]),
        (key("t", "b"), vec![(0, 1.0)]),
        (key("t", "c"), vec![(0, 1.0)]),
    ]);
    let top = vector(&tied, "topk(2, t)", 0);
    assert_eq!(top.len(), 2);
    assert!(top[0].0.contains(r#"host="a""#), "{top:?}");
    assert!(top[1].0.contains(r#"host="b""#), "{top:?}");
    // Go's heap order after a push of 1 then 1: replacing the top evicts the first.
    let (_d3, mixed) = db_with(&[
        (key("u", "a"), vec![(0, 1.0)]),
        (key("u", "b"), vec![(0, 1.0)]),
        (key("u", "c"), vec![(0, 2.0)]),
    ]);
    let top = vector(&mixed, "topk(2, u)", 0);
    assert!(
        top[0].0.contains(r#"host="c""#) && top[1].0.contains(r#"host="b""#),
        "{top:?}"
    );
}

#[test]
fn binary_operators() {
    let (_d, db) = standard();
    assert_eq!(scalar(&db, "1 + 2 * 3", 0), 7.0);
    assert_eq!(scalar(&db, "2 ^ 10 % 7", 0), 2.0);
    assert_eq!(scalar(&db, "1 > bool 2", 0), 0.0);
    let v = vector(&db, r#"m{host="b"} * 2"#, 100);
    assert_eq!(v, vec![(r#"{dc="eu", host="b"}"#.into(), 200.0)]);
    // A comparison filters and keeps the name and the vector's value, on either side.
    let v = vector(&db, "m > 400", 100);
    assert_eq!(v.len(), 2);
    assert!(v[0].0.contains("__name__"));
    let v = vector(&db, "400 < m", 100);
    assert_eq!(
        v.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![1000.0, 500.0]
    );
    let v = vector(&db, "m >= bool 500", 100);
    assert_eq!(
        v.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![1.0, 0.0, 1.0]
    );
    // One-to-one matching.
    let v = vector(&db, r#"m{host="a"} / on(dc) m{host="b"}"#, 100);
    assert_eq!(v, vec![(r#"{dc="eu"}"#.into(), 10.0)]);
    // Without host, a and b share {dc="eu"}: many-to-many is an execution error.
    let e = instant_query(
        &db,
        "m - ignoring(host) m",
        100 * S,
        &EvalOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, PromError::Execution(_)), "{e}");
    let v = vector(&db, "m - m", 100);
    assert_eq!(
        v.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![0.0, 0.0, 0.0]
    );
    // Set operators.
    assert_eq!(vector(&db, r#"m and m{host="a"}"#, 100).len(), 1);
    assert_eq!(vector(&db, r#"m unless m{host="a"}"#, 100).len(), 2);
    assert_eq!(vector(&db, r#"m{host="a"} or m{host="b"}"#, 100).len(), 2);
    assert_eq!(vector(&db, "-m", 100)[0].1, -1000.0);
}

#[test]
fn range_queries_evaluate_at_every_step_up_to_end() {
    let (_d, db) = standard();
    let opts = EvalOptions::default();
    let QueryValue::Matrix(m) =
        range_query(&db, r#"m{host="b"}"#, 5 * S, 65 * S, 20 * S, &opts).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        m[0].points,
        vec![(5 * S, 0.0), (25 * S, 20.0), (45 * S, 40.0), (65 * S, 60.0)]
    );
    let QueryValue::Matrix(m) = range_query(&db, "time()", 0, 20 * S, 10 * S, &opts).unwrap()
    else {
        panic!()
    };
    assert_eq!(m[0].points, vec![(0, 0.0), (10 * S, 10.0), (20 * S, 20.0)]);
    // Past the data plus lookback the series ends.
    let QueryValue::Matrix(m) =
        range_query(&db, r#"m{host="b"}"#, 800 * S, 1000 * S, 100 * S, &opts).unwrap()
    else {
        panic!()
    };
    assert_eq!(m[0].points, vec![(800 * S, 600.0)]);
}

#[test]
fn errors_are_typed_with_prometheus_error_types() {
    let (_d, db) = standard();
    let opts = EvalOptions::default();
    let e = instant_query(&db, "sum(", 0, &opts).unwrap_err();
    assert_eq!(e.error_type(), "bad_data");
    let e = instant_query(&db, "histogram_quantile(0.9, m)", 0, &opts).unwrap_err();
    assert_eq!((e.error_type(), e.http_status()), ("bad_data", 400));
    assert!(e.to_string().contains("histogram_quantile"), "{e}");
    let e = instant_query(&db, "max_over_time(m[5m:1m])", 0, &opts).unwrap_err();
    assert!(e.to_string().contains("subquery"), "{e}");
    let e = range_query(&db, "m[5m]", 0, 10 * S, S, &opts).unwrap_err();
    assert!(e.to_string().contains("range vector"), "{e}");
    let e = range_query(&db, "m", 0, 100_000 * S, S, &opts).unwrap_err();
    assert!(matches!(e, PromError::TooManySteps { limit: 11_000 }));
    let small = EvalOptions::default().max_samples(10).unwrap();
    let e = instant_query(&db, "m[5m]", 300 * S, &small).unwrap_err();
    assert_eq!((e.error_type(), e.http_status()), ("execution", 422));
    // rate over two metrics that differ only in name collides.
    let (_d2, two) = db_with(&[
        (key("x", "a"), vec![(0, 1.0), (10, 2.0)]),
        (key("y", "a"), vec![(0, 1.0), (10, 2.0)]),
    ]);
    let e = instant_query(&two, r#"rate({__name__=~"x|y"}[1m])"#, 10 * S, &opts).unwrap_err();
    assert_eq!(e.error_type(), "execution");
}

#[test]
fn an_instant_query_of_a_range_selector_returns_raw_samples() {
    let (_d, db) = standard();
    let QueryValue::Matrix(m) =
        instant_query(&db, r#"m{host="b"}[30s]"#, 300 * S, &EvalOptions::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        m[0].points,
        vec![(280 * S, 280.0), (290 * S, 290.0), (300 * S, 300.0)]
    );
}
