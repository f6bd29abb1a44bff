//! Analytics as queries: planted signals are found, and each wrapper agrees with the
//! pure function of `sedimentdb::analytics` applied to the query's own result.

use std::time::Duration;

use sedimentdb::analytics::correlation::{pearson, CorrelationMethod};
use sedimentdb::analytics::trend::{linear_trend, Direction, Verdict};
use sedimentdb::query::{AnomalyMethod, CorrelateOptions, TrendOptions};
use sedimentdb::{Aggregate, Db, Durability, Options, Query, SeriesKey, TimeRange, WriteBatch};

const SEC: i64 = 1_000_000_000;
const MINUTE: Duration = Duration::from_secs(60);

/// A noise value in [-1, 1) from a counter (deterministic).
fn noise(i: u64) -> f64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Six hours of per-10 s data for hosts h0..h5 in two regions: `load` is noise, `temp`
/// follows `load` two minutes later, `fan` goes against `load` at once, `latency` grows
/// on h3 only, and `errors` spike on the `batch` job between 3 h and 3 h 30.
fn fixture(dir: &std::path::Path) -> Db {
    let db = Db::open(dir, Options::default().durability(Durability::None)).unwrap();
    let mut batch = WriteBatch::new();
    for h in 0..6u64 {
        let region = if h < 3 { "eu" } else { "us" };
        let job = if h % 2 == 0 { "api" } else { "batch" };
        let key = |m: &str| {
            SeriesKey::new(m)
                .with("host", format!("h{h}"))
                .with("region", region)
                .with("job", job)
        };
        let load_at =
            |minute: i64| 50.0 + 40.0 * noise((h * 1_000_003).wrapping_add(minute as u64));
        for i in 0..(6 * 360i64) {
            let t = i * 10 * SEC;
            let minute = i / 6;
            batch.push_key(&key("load"), t, load_at(minute));
            batch.push_key(&key("temp"), t, 20.0 + load_at(minute - 2) / 4.0);
            batch.push_key(&key("fan"), t, 1000.0 - 10.0 * load_at(minute));
            let drift = if h == 3 { i as f64 * 0.05 } else { 0.0 };
            batch.push_key(
                &key("latency"),
                t,
                100.0 + drift + noise(i as u64 + h) * 2.0,
            );
            let spike = job == "batch" && (3 * 360..3 * 360 + 180).contains(&i);
            let errors = if spike { 30.0 } else { 2.0 } + noise(i as u64 * 7 + h).abs();
            batch.push_key(&key("errors"), t, errors);
        }
        if batch.len() > 100_000 {
            db.write(&batch).unwrap();
            batch.clear();
        }
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db
}

#[test]
fn analytics_find_what_was_planted() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());

    // Trend: h3's latency degrades (0.05 per 10 s = 0.005/s); the others are stable.
    let latency = Query::metric("latency").downsample(MINUTE, Aggregate::Avg);
    let opts = TrendOptions {
        direction: Direction::IncreasingIsBad,
        min_slope_per_sec: 0.001,
        min_r2: 0.5,
        ..TrendOptions::default()
    };
    let trends = db.trend(&latency, &opts).unwrap();
    assert_eq!(trends.len(), 6);
    for t in &trends {
        let host = t.labels.get("host").unwrap();
        let expected = if host == "h3" {
            Verdict::Degrading
        } else {
            Verdict::Stable
        };
        assert_eq!(t.verdict, expected, "{host}");
        if host == "h3" {
            assert!((t.trend.slope_per_sec - 0.005).abs() < 1e-4);
            let f = t.forecast.as_ref().unwrap();
            assert!(f.lower < f.value && f.value < f.upper);
        }
    }
    // The wrapper is the pure function on the query's result.
    let result = db.query(&latency).unwrap();
    let direct = linear_trend(&result.series[3].timestamps, &result.series[3].values).unwrap();
    assert_eq!(trends[3].trend, direct);

    // Anomalies: the error spike on batch hosts, seen by the rolling z-score.
    let errors = Query::metric("errors").downsample(MINUTE, Aggregate::Avg);
    let found = db
        .anomalies(
            &errors,
            AnomalyMethod::RollingZScore {
                window: 30,
                threshold: 5.0,
            },
        )
        .unwrap();
    assert_eq!(found.len(), 3, "the three batch hosts");
    for s in &found {
        assert_eq!(s.labels.get("job"), Some("batch"));
        assert_eq!(
            s.anomalies[0].ts,
            3 * 3600 * SEC,
            "the spike's first minute"
        );
    }
    let changes = db.change_points(&errors, 5.0, 0.5).unwrap();
    assert_eq!(changes.len(), 3);
    for s in &changes {
        let starts: Vec<i64> = s.changes.iter().map(|c| c.ts).collect();
        assert!(starts.contains(&(3 * 3600 * SEC)), "{starts:?}");
    }

    // Correlation: temp follows load by two minutes, per host.
    let load = Query::metric("load").downsample(MINUTE, Aggregate::Avg);
    let temp = Query::metric("temp").downsample(MINUTE, Aggregate::Avg);
    let opts = CorrelateOptions {
        on: vec!["host".into()],
        max_lag: 5,
        ..CorrelateOptions::default()
    };
    let pairs = db.correlate(&load, &temp, &opts).unwrap();
    assert_eq!(pairs.len(), 6);
    for p in &pairs {
        assert_eq!(p.x.get("host"), p.y.get("host"));
        assert!(p.r.unwrap().abs() < 0.3, "unrelated at lag 0: {:?}", p.r);
        let lag = p.lag.as_ref().unwrap();
        assert_eq!(lag.lag, 2);
        assert!(lag.r > 0.999);
    }
    // The wrapper is Pearson over the buckets both have.
    let (lr, tr) = (db.query(&load).unwrap(), db.query(&temp).unwrap());
    let direct = pearson(&lr.series[0].values, &tr.series[0].values);
    assert!((direct.unwrap() - pairs[0].r.unwrap()).abs() < 1e-12);

    // Discovery: of every other series, h2's fan moves most strongly with h2's load
    // (against it: r = -1).
    let target = Query::metric("load")
        .filter(sedimentdb::Matcher::eq("host", "h2"))
        .downsample(MINUTE, Aggregate::Avg);
    let candidates =
        Query::metrics(["load", "temp", "fan", "latency"]).downsample(MINUTE, Aggregate::Avg);
    let top = db
        .discover_correlated(&target, &candidates, 3, CorrelationMethod::Pearson)
        .unwrap();
    assert_eq!(top.len(), 3);
    let best = top[0].0.series_key().unwrap();
    assert_eq!((best.name(), best.dimension("host")), ("fan", Some("h2")));
    assert!((top[0].1 + 1.0).abs() < 1e-9);
    assert!(top.windows(2).all(|w| w[0].1.abs() >= w[1].1.abs()));
    let spearman = db
        .discover_correlated(&target, &candidates, 1, CorrelationMethod::Spearman)
        .unwrap();
    assert_eq!(spearman[0].0, top[0].0);

    // Dimensional breakdown: errors are higher for job=batch (the spike); latency for
    // h3 (its drift), hence for region=us.
    let ranked = db.breakdown(&Query::metric("errors"), &[]).unwrap();
    let job = ranked.iter().find(|b| b.dimension == "job").unwrap();
    let ratio = |label: &str| {
        job.contributions
            .iter()
            .find(|c| c.label == label)
            .and_then(|c| c.ratio)
            .unwrap()
    };
    assert!(ratio("job=batch") > 1.2 && ratio("job=api") < 0.8);
    // The points were counted from chunk statistics, not decoded.
    let explain = db
        .explain(&Query::metric("errors").aggregate(Aggregate::Sum))
        .unwrap();
    assert_eq!(explain.points_decoded, 0);
    let ranked = db.breakdown(&Query::metric("latency"), &["host"]).unwrap();
    assert_eq!(ranked[0].contributions[0].label, "host=h3");

    // Attribution of the spike window: the batch job carries the whole change.
    let errors_sum = Query::metric("errors").downsample(MINUTE, Aggregate::Sum);
    let window = TimeRange::new(3 * 3600 * SEC, (3 * 3600 + 1800) * SEC);
    let ranked = db.attribute(&errors_sum, window, "job").unwrap();
    assert_eq!(ranked[0].label, "job=batch");
    assert!((ranked[0].share_of_delta - 1.0).abs() < 0.01);
    assert!(ranked[1].share_of_delta.abs() < 0.01);
}

/// `Db::anomaly_scores` is the streaming detector run over each result series: the same
/// scores as a `Detector` fed the same points, whether they sit in segments or in the
/// head, one result series per stored series.
#[test]
fn anomaly_scores_equal_a_streaming_detector_over_segments_and_head() {
    use sedimentdb::analytics::detector::{Detector, DetectorConfig};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).unwrap();
    let hosts = ["a", "b", "c"];
    let mut expected = Vec::new();
    for (h, host) in hosts.iter().enumerate() {
        let ts: Vec<i64> = (0..3000_i64).map(|i| i * 10 * SEC).collect();
        let values: Vec<f64> = (0..3000_u64)
            .map(|i| {
                let spike = if i == 2000 { 30.0 } else { 0.0 };
                20.0 + 3.0 * noise(i + h as u64 * 7_777) + spike
            })
            .collect();
        // The first two thirds go to segments, the rest stays in the head.
        for (part, range) in [(0, 0..2000), (1, 2000..3000)] {
            let mut batch = WriteBatch::new();
            let key = SeriesKey::new("lat").with("host", *host);
            for i in range {
                batch.push_key(&key, ts[i], values[i]);
            }
            db.write(&batch).unwrap();
            if part == 0 {
                db.flush().unwrap();
            }
        }
        let mut detector = Detector::new(DetectorConfig::default()).unwrap();
        expected.push((host.to_string(), detector.score_all(&ts, &values)));
    }
    let scored = db
        .anomaly_scores(&Query::metric("lat"), &DetectorConfig::default())
        .unwrap();
    assert_eq!(scored.len(), hosts.len());
    for s in &scored {
        let host = s.labels.get("host").expect("one result series per host");
        let (_, want) = expected.iter().find(|(h, _)| h == host).unwrap();
        assert_eq!(s.scores.len(), 3000);
        assert!(s.series_id.is_some());
        for (i, (got, want)) in s.scores.iter().zip(want).enumerate() {
            assert_eq!(got.to_bits(), want.to_bits(), "host {host} point {i}");
        }
    }
}

/// A detector configuration that cannot work is refused before any scoring.
#[test]
fn anomaly_scores_refuse_an_invalid_config() {
    use sedimentdb::analytics::detector::DetectorConfig;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).unwrap();
    let mut config = DetectorConfig::default();
    config.alert_surprise = f64::NAN;
    let err = db
        .anomaly_scores(&Query::metric("lat"), &config)
        .unwrap_err();
    assert!(
        matches!(err, sedimentdb::Error::InvalidArgument(_)),
        "{err:?}"
    );
}

/// `AnomalyMethod::Streaming` flags exactly the points where the streaming detector
/// raised its own alert: the planted spike is among them, each carries the detector's
/// score and a finite expectation near the normal level, and they agree with a
/// `Detector` fed the same points.
#[test]
fn streaming_anomalies_are_the_detectors_alerts() {
    use sedimentdb::analytics::detector::{Detector, DetectorConfig};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).unwrap();
    let ts: Vec<i64> = (0..3000_i64).map(|i| i * 10 * SEC).collect();
    let values: Vec<f64> = (0..3000_u64)
        .map(|i| 20.0 + 3.0 * noise(i) + if i == 2400 { 60.0 } else { 0.0 })
        .collect();
    let mut batch = WriteBatch::new();
    let key = SeriesKey::new("lat").with("host", "a");
    for (&t, &v) in ts.iter().zip(&values) {
        batch.push_key(&key, t, v);
    }
    db.write(&batch).unwrap();
    let config = DetectorConfig::default();
    let found = db
        .anomalies(&Query::metric("lat"), AnomalyMethod::Streaming(config))
        .unwrap();
    assert_eq!(found.len(), 1);
    let anomalies = &found[0].anomalies;
    let mut detector = Detector::new(config).unwrap();
    let alerts: Vec<i64> = ts
        .iter()
        .zip(&values)
        .filter(|(&t, &v)| detector.update_scored(t, v).alerted)
        .map(|(&t, _)| t)
        .collect();
    let got: Vec<i64> = anomalies.iter().map(|a| a.ts).collect();
    assert_eq!(got, alerts);
    let spike = anomalies
        .iter()
        .find(|a| a.ts == ts[2400])
        .expect("the spike raises an alert");
    assert_eq!(spike.value, values[2400]);
    assert!((0.0..1.0).contains(&spike.score) && spike.score > 0.4);
    assert!((spike.expected - 20.0).abs() < 5.0, "{}", spike.expected);
    // One event, one detection: no other alert within the mute after the spike.
    assert!(!got
        .iter()
        .any(|&t| t > ts[2400] && t <= ts[2400 + config.mute_points as usize]));
}
