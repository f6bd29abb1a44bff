//! Every query shape against a naive model: random series written through the public API
//! with flushes in between (head and several segments and partitions mixed, out-of-order
//! and duplicate points, NaN), random ranges, buckets, aggregates, groupings, filters,
//! transforms and fills; the engine's answer must equal the answer computed from a
//! `BTreeMap` of last writes. Values are multiples of 1/4, so sums are exact in f64 and
//! every aggregate but the standard deviation must match bit for bit.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use sedimentdb::query::{Fill, Labels, Parallelism, QueryResult, ValueFilter};
use sedimentdb::{
    Aggregate, Db, Durability, Matcher, Options, Query, Selector, SeriesKey, TimeRange, WriteBatch,
};

const SEC: i64 = 1_000_000_000;

/// The series of the test database: (metric, host, dc).
fn keys() -> Vec<SeriesKey> {
    let mut keys = Vec::new();
    for metric in ["m", "n"] {
        for host in 0..4 {
            let mut k = SeriesKey::new(metric).with("host", format!("h{host}"));
            if host != 3 {
                k = k.with("dc", if host % 2 == 0 { "eu" } else { "us" });
            }
            keys.push(k);
        }
    }
    keys
}

/// key index -> ts -> value: the last write of each point.
type Model = BTreeMap<usize, BTreeMap<i64, f64>>;

#[derive(Debug, Clone)]
struct Write {
    key: usize,
    ts: i64,
    value: f64,
}

fn arb_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        20 => (-400i32..400).prop_map(|q| q as f64 / 4.0),
        1 => Just(f64::NAN),
    ]
}

fn arb_writes() -> impl Strategy<Value = Vec<Vec<Write>>> {
    let write = (0usize..8, -50i64..400, arb_value()).prop_map(|(key, t, value)| Write {
        key,
        ts: t * SEC,
        value,
    });
    prop::collection::vec(prop::collection::vec(write, 1..120), 1..5)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Group {
    None,
    ByDc,
    ByDcHost,
    All,
}

#[derive(Debug, Clone)]
struct Spec {
    selector: u8,
    start: i64,
    len: i64,
    bucket: Option<i64>,
    aggregate: Option<Aggregate>,
    group: Group,
    across: Option<Aggregate>,
    filter: Option<ValueFilter>,
    transform: u8,
    fill: Fill,
}

fn arb_aggregate() -> impl Strategy<Value = Aggregate> {
    prop_oneof![
        Just(Aggregate::Count),
        Just(Aggregate::Sum),
        Just(Aggregate::Min),
        Just(Aggregate::Max),
        Just(Aggregate::Avg),
        Just(Aggregate::First),
        Just(Aggregate::Last),
        Just(Aggregate::Stddev),
        Just(Aggregate::P50),
        (0u32..=8).prop_map(|e| Aggregate::Quantile(e as f64 / 8.0)),
    ]
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (
        0u8..4,
        (-80i64..420, 1i64..500),
        prop::option::weighted(
            0.7,
            prop_oneof![Just(1i64), 1i64..40, Just(100), Just(1000)],
        ),
        prop::option::weighted(0.85, arb_aggregate()),
        prop_oneof![
            Just(Group::None),
            Just(Group::ByDc),
            Just(Group::ByDcHost),
            Just(Group::All)
        ],
        prop::option::weighted(0.2, arb_aggregate()),
        prop::option::weighted(0.25, (0u8..6, -60i32..60)),
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        prop_oneof![
            4 => Just(Fill::None),
            1 => Just(Fill::Null),
            1 => Just(Fill::Previous),
            1 => Just(Fill::Linear),
            1 => Just(Fill::Value(-1.0)),
        ],
    )
        .prop_map(
            |(
                selector,
                (start, len),
                bucket,
                aggregate,
                group,
                across,
                filter,
                transform,
                fill,
            )| {
                let filter = filter.map(|(op, t)| {
                    let t = t as f64 / 4.0;
                    match op {
                        0 => ValueFilter::gt(t),
                        1 => ValueFilter::ge(t),
                        2 => ValueFilter::lt(t),
                        3 => ValueFilter::le(t),
                        4 => ValueFilter::eq(t),
                        _ => ValueFilter::ne(t),
                    }
                });
                let mut s = Spec {
                    selector,
                    start: start * SEC,
                    len: len * SEC,
                    bucket: bucket.map(|b| b * SEC),
                    aggregate,
                    group,
                    across,
                    filter,
                    transform,
                    fill,
                };
                // Keep only valid combinations (invalid ones have their own tests).
                if s.aggregate.is_none() {
                    s.group = Group::None;
                    s.bucket = None;
                }
                if s.group == Group::None {
                    s.across = None;
                }
                if s.bucket.is_none() {
                    s.fill = Fill::None;
                }
                s
            },
        )
}

impl Spec {
    fn selects(&self, key: &SeriesKey) -> bool {
        match self.selector {
            0 => key.name() == "m",
            1 => key.name() == "n" && key.dimension("dc") == Some("eu"),
            2 => key.dimension("host") != Some("h1"),
            _ => {
                key.name() == "m"
                    && key
                        .dimension("host")
                        .is_some_and(|h| h == "h0" || h == "h3")
            }
        }
    }

    fn query(&self) -> Query {
        let mut q = match self.selector {
            0 => Query::metric("m"),
            1 => Query::metric("n").filter(Matcher::eq("dc", "eu")),
            2 => Query::metrics(["m", "n"]).filter(Matcher::ne("host", "h1")),
            _ => Query::select(Selector::metric("m").with(Matcher::one_of("host", ["h0", "h3"]))),
        };
        q = q.between(self.start, self.start + self.len);
        q = match self.transform {
            1 => q.rate(),
            2 => q.derivative(),
            _ => q,
        };
        if let Some(f) = self.filter {
            q = q.where_value(f);
        }
        if let Some(agg) = self.aggregate {
            q = match self.bucket {
                Some(b) => q.downsample(Duration::from_nanos(b as u64), agg),
                None => q.aggregate(agg),
            };
        }
        q = match self.group {
            Group::None => q,
            Group::ByDc => q.group_by(["dc"]),
            Group::ByDcHost => q.group_by(["dc", "host"]),
            Group::All => q.group_all(),
        };
        if let Some(a) = self.across {
            q = q.across_series(a);
        }
        q.fill(self.fill)
    }
}

/// A result in comparable form: labels, and points with values as bits (NaN included).
type Flat = Vec<(String, Vec<(i64, f64)>)>;

fn flatten(r: &QueryResult) -> Flat {
    r.iter()
        .map(|s| (s.labels.to_string(), s.points().collect()))
        .collect()
}

fn naive_aggregate(points: &[(i64, f64, usize)], agg: Aggregate) -> (f64, Option<i64>) {
    // points: (ts, value, series order) in series order then time order.
    let vals: Vec<&(i64, f64, usize)> = points.iter().filter(|p| !p.1.is_nan()).collect();
    if vals.is_empty() {
        return (f64::NAN, None);
    }
    let xs: Vec<f64> = vals.iter().map(|p| p.1).collect();
    let n = xs.len() as f64;
    match agg {
        Aggregate::Count => (n, None),
        Aggregate::Sum => (xs.iter().sum(), None),
        Aggregate::Min => (xs.iter().copied().fold(f64::INFINITY, f64::min), None),
        Aggregate::Max => (xs.iter().copied().fold(f64::NEG_INFINITY, f64::max), None),
        Aggregate::Avg => (xs.iter().sum::<f64>() / n, None),
        Aggregate::First => {
            // Earliest; on a tie the first series in id order.
            let p = vals.iter().min_by_key(|p| (p.0, p.2)).unwrap();
            (p.1, Some(p.0))
        }
        Aggregate::Last => {
            let p = vals.iter().max_by_key(|p| (p.0, p.2)).unwrap();
            (p.1, Some(p.0))
        }
        Aggregate::Stddev => {
            if xs.len() < 2 {
                return (f64::NAN, None);
            }
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (var.sqrt(), None)
        }
        Aggregate::Quantile(q) => {
            let mut s = xs.clone();
            s.sort_by(f64::total_cmp);
            let h = (s.len() - 1) as f64 * q;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(s.len() - 1);
            let frac = h - lo as f64;
            let v = if frac == 0.0 || s[lo] == s[hi] {
                s[lo]
            } else {
                s[lo] + frac * (s[hi] - s[lo])
            };
            (v, None)
        }
        other => panic!("the model has no reference for {other:?}: add one"),
    }
}

fn transform(points: &[(i64, f64)], kind: u8) -> Vec<(i64, f64)> {
    if kind == 0 {
        return points.to_vec();
    }
    let mut out = Vec::new();
    let mut prev: Option<(i64, f64)> = None;
    for &(t, v) in points {
        if v.is_nan() {
            continue;
        }
        if let Some((pt, pv)) = prev {
            let secs = (t - pt) as f64 / 1e9;
            let delta = if kind == 1 && v < pv { v } else { v - pv };
            out.push((t, delta / secs));
        }
        prev = Some((t, v));
    }
    out
}

/// The answer computed naively from the model.
fn model_answer(model: &Model, keys: &[SeriesKey], spec: &Spec) -> Flat {
    let (start, end) = (spec.start, spec.start + spec.len);
    // Per selected series (in id order = key order): transformed, filtered points.
    let mut per_series: Vec<(usize, Vec<(i64, f64)>)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if !spec.selects(key) {
            continue;
        }
        let Some(points) = model.get(&i) else {
            continue;
        };
        let raw: Vec<(i64, f64)> = points.range(start..end).map(|(&t, &v)| (t, v)).collect();
        let mut pts = transform(&raw, spec.transform);
        if let Some(f) = spec.filter {
            pts.retain(|p| f.test(p.1));
        }
        if !pts.is_empty() {
            per_series.push((i, pts));
        }
    }
    let Some(agg) = spec.aggregate else {
        return per_series
            .into_iter()
            .map(|(i, pts)| (keys[i].to_string(), pts))
            .collect();
    };
    let bucket_of = |t: i64| match spec.bucket {
        Some(b) => t.div_euclid(b),
        None => 0,
    };
    let label = |index: i64, picked: Option<i64>, agg: Aggregate| match spec.bucket {
        Some(b) => index * b,
        None => match agg {
            Aggregate::First | Aggregate::Last => picked.unwrap_or(start),
            _ => start,
        },
    };
    // Per series: bucket -> points, for grouping.
    let bucketed = |pts: &[(i64, f64)], order: usize| {
        let mut m: BTreeMap<i64, Vec<(i64, f64, usize)>> = BTreeMap::new();
        for &(t, v) in pts {
            m.entry(bucket_of(t)).or_default().push((t, v, order));
        }
        m
    };
    let finish = |buckets: BTreeMap<i64, Vec<(i64, f64, usize)>>, agg: Aggregate| {
        let mut out = Vec::new();
        for (index, pts) in buckets {
            let (v, picked) = naive_aggregate(&pts, agg);
            if pts.iter().all(|p| p.1.is_nan()) {
                continue; // an empty bucket
            }
            out.push((label(index, picked, agg), v));
        }
        out
    };
    // Group keys sort like the engine's labels: by value, absent before present.
    let group_key = |key: &SeriesKey| -> (Vec<Option<String>>, String) {
        let dims: &[&str] = match spec.group {
            Group::ByDc => &["dc"],
            Group::ByDcHost => &["dc", "host"],
            _ => &[],
        };
        let values: Vec<Option<String>> = dims
            .iter()
            .map(|d| key.dimension(d).map(str::to_string))
            .collect();
        let shown: Vec<String> = dims
            .iter()
            .zip(&values)
            .map(|(d, v)| match v {
                Some(v) => format!("{d}={v:?}"),
                None => format!("{d}=<absent>"),
            })
            .collect();
        (values, format!("{{{}}}", shown.join(",")))
    };
    let mut results: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
    if spec.group == Group::None {
        for (i, pts) in &per_series {
            let out = finish(bucketed(pts, *i), agg);
            if !out.is_empty() {
                results.push((keys[*i].to_string(), out));
            }
        }
    } else {
        type Members<'a> = Vec<&'a (usize, Vec<(i64, f64)>)>;
        let mut groups: BTreeMap<(Vec<Option<String>>, String), Members<'_>> = BTreeMap::new();
        for s in &per_series {
            groups.entry(group_key(&keys[s.0])).or_default().push(s);
        }
        for ((_, name), members) in groups {
            let out = match spec.across {
                None => {
                    let mut all: BTreeMap<i64, Vec<(i64, f64, usize)>> = BTreeMap::new();
                    for (i, pts) in members {
                        for (b, v) in bucketed(pts, *i) {
                            all.entry(b).or_default().extend(v);
                        }
                    }
                    finish(all, agg)
                }
                Some(across) => {
                    let mut all: BTreeMap<i64, Vec<(i64, f64, usize)>> = BTreeMap::new();
                    for (i, pts) in members {
                        for (b, v) in finish(bucketed(pts, *i), agg) {
                            all.entry(bucket_of(b)).or_default().push((b, v, *i));
                        }
                    }
                    // Each series' value is labelled like its bucket; re-key by bucket.
                    let mut out = Vec::new();
                    for (index, pts) in all {
                        if pts.iter().all(|p| p.1.is_nan()) {
                            continue;
                        }
                        let (v, picked) = naive_aggregate(&pts, across);
                        out.push((label(index, picked, across), v));
                    }
                    out
                }
            };
            if !out.is_empty() {
                results.push((name, out));
            }
        }
    }
    if let (Some(b), fill) = (spec.bucket, spec.fill) {
        if fill != Fill::None {
            let first = start.div_euclid(b);
            let last = (end - 1).div_euclid(b);
            for (_, pts) in results.iter_mut() {
                let mut grid: Vec<f64> = vec![f64::NAN; (last - first + 1) as usize];
                for &(t, v) in pts.iter() {
                    grid[(t.div_euclid(b) - first) as usize] = v;
                }
                let known: Vec<usize> = (0..grid.len()).filter(|&i| !grid[i].is_nan()).collect();
                match fill {
                    Fill::Value(x) => grid.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = x),
                    Fill::Previous => {
                        let mut prev = f64::NAN;
                        for v in grid.iter_mut() {
                            if v.is_nan() {
                                *v = prev;
                            } else {
                                prev = *v;
                            }
                        }
                    }
                    Fill::Linear => {
                        for w in known.windows(2) {
                            for i in w[0] + 1..w[1] {
                                let f = (i - w[0]) as f64 / (w[1] - w[0]) as f64;
                                grid[i] = grid[w[0]] + (grid[w[1]] - grid[w[0]]) * f;
                            }
                        }
                    }
                    _ => {}
                }
                *pts = grid
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| ((first + i as i64) * b, v))
                    .collect();
            }
        }
    }
    results
}

fn same(a: f64, b: f64, loose: bool) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.to_bits() == b.to_bits() || a == b {
        return true;
    }
    loose && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn check(got: &Flat, want: &Flat, loose: bool) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} series, want {}", got.len(), want.len()));
    }
    for ((gn, gp), (wn, wp)) in got.iter().zip(want) {
        if gn != wn {
            return Err(format!("series {gn}, want {wn}"));
        }
        if gp.len() != wp.len() {
            return Err(format!(
                "{gn}: {} points, want {}: {gp:?} vs {wp:?}",
                gp.len(),
                wp.len()
            ));
        }
        for (g, w) in gp.iter().zip(wp) {
            if g.0 != w.0 || !same(g.1, w.1, loose) {
                return Err(format!("{gn}: point {g:?}, want {w:?}"));
            }
        }
    }
    Ok(())
}

fn open(dir: &std::path::Path) -> Db {
    let opts = Options::default()
        .durability(Durability::None)
        .chunk_points(16)
        .partition_duration(Duration::from_secs(150))
        .head_window(Duration::from_secs(1 << 30));
    Db::open(dir, opts).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn queries_match_the_model(
        batches in arb_writes(),
        ops in prop::collection::vec((0u8..5, 0usize..4, -50i64..400, 1i64..200), 5),
        specs in prop::collection::vec(arb_spec(), 24),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let keys = keys();
        // Series ids in key order, so that the model's order is the engine's id order.
        for k in &keys {
            db.series(k).unwrap();
        }
        let mut model = Model::new();
        for (i, batch) in batches.iter().enumerate() {
            let mut wb = WriteBatch::new();
            for w in batch {
                wb.push_key(&keys[w.key], w.ts, w.value);
                model.entry(w.key).or_default().insert(w.ts, w.value);
            }
            db.write(&wb).unwrap();
            let (op, host, start, len) = ops[i];
            match op {
                1 | 2 => {
                    db.flush().unwrap();
                }
                3 => {
                    db.flush().unwrap();
                    db.compact().unwrap();
                }
                4 => {
                    // Delete some of one host's "m" points.
                    let (start, end) = (start * SEC, (start + len) * SEC);
                    let sel = Selector::metric("m").with(Matcher::eq("host", format!("h{host}")));
                    db.delete_series(&sel, TimeRange::new(start, end)).unwrap();
                    let k = keys.iter().position(|k| sel.matches(k)).unwrap();
                    if let Some(points) = model.get_mut(&k) {
                        points.retain(|t, _| !(start..end).contains(t));
                    }
                }
                _ => {}
            }
        }
        for spec in &specs {
            let query = spec.query();
            let want = model_answer(&model, &keys, spec);
            let (got, explain) = db.query_explained(&query).unwrap();
            let loose = spec.aggregate == Some(Aggregate::Stddev)
                || spec.across == Some(Aggregate::Stddev)
                || spec.transform != 0
                || matches!(spec.aggregate, Some(Aggregate::Avg) | Some(Aggregate::Quantile(_))) && spec.across.is_some();
            if let Err(e) = check(&flatten(&got), &want, loose) {
                prop_assert!(false, "{e}\nspec {spec:?}\nexplain {explain:?}");
            }
            // One thread or many: the same bits.
            let serial = db.query(&query.clone().parallelism(Parallelism::Off)).unwrap();
            let (parallel, how) = db
                .query_explained(&query.clone().parallelism(Parallelism::Always))
                .unwrap();
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if cores > 1 && how.series_matched >= 2 {
                prop_assert!(how.threads > 1, "the pool was not used: {how:?}");
            }
            prop_assert_eq!(format!("{:?}", flat_bits(&serial)), format!("{:?}", flat_bits(&got)));
            prop_assert_eq!(format!("{:?}", flat_bits(&parallel)), format!("{:?}", flat_bits(&got)));
            for s in got.iter() {
                prop_assert!(s.timestamps.windows(2).all(|w| w[0] < w[1]));
                if spec.group == Group::None {
                    prop_assert!(matches!(s.labels, Labels::Series(_)));
                }
            }
        }
        db.close().unwrap();
    }
}

fn flat_bits(r: &QueryResult) -> Vec<(String, Vec<(i64, u64)>)> {
    r.iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.points().map(|(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect()
}

#[test]
fn reopened_database_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let keys = keys();
    let mut wb = WriteBatch::new();
    for i in 0..200i64 {
        wb.push_key(&keys[(i % 8) as usize], i * SEC, (i % 13) as f64);
    }
    db.write(&wb).unwrap();
    db.flush().unwrap();
    let q = Query::metric("m")
        .downsample(Duration::from_secs(30), Aggregate::Avg)
        .group_by(["dc"]);
    let before = db.query(&q).unwrap();
    db.close().unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(db.query(&q).unwrap(), before);
}
