//! The TSBS "devops cpu-only" query set, for sedimentdb and for the SQLite baseline,
//! asked exactly as the peers ask it (TSBS's `devops` query generators) with S the start
//! of the data and hours counted from it.
//!
//! Both engines answer the same questions over the same data, and each answer is
//! reduced to a [`Digest`] (values and their sum) so that the program can check that
//! they agree before it reports any timing. The value counts on gen.py's 100-host, 24 h
//! file are given for checking against other systems.
//!
//! | name                    | question                                                   | values |
//! |-------------------------|------------------------------------------------------------|--------|
//! | `single_groupby_1_1_1`  | host_7, [S+6h, S+7h): max(usage_user) per 1 min            | 60     |
//! | `single_groupby_5_1_12` | host_7, [S+6h, S+18h): max of usage_user, usage_system, usage_idle, usage_nice, usage_iowait per 1 min | 3600 |
//! | `cpu_max_all_8`         | host_3, host_14, ... host_80, [S+4h, S+12h): max of each of the 10 fields per 1 h over the 8 hosts together | 80 |
//! | `double_groupby_1`      | all hosts, [S+6h, S+18h): mean(usage_user) per host per 1 h | 1200   |
//! | `lastpoint`             | the last point of every field of every host                | 1000   |
//! | `high_cpu_1`            | host_61, [S+6h, S+18h): all 10 fields at the timestamps where usage_user > 90 | 4160 |
//! | `correlate_all`         | Pearson of usage_user vs usage_system per host, 1-min buckets, 24 h (ours, not TSBS's) | 100 |
//!
//! With fewer hosts than a question names, host numbers wrap (`host_{i % hosts}`); with
//! less data than a window needs, the window is moved back inside the data.
//!
//! sedimentdb has no group by metric name, so `cpu_max_all_8` is ten queries (one per
//! field, the 8 hosts grouped together), and `high_cpu_1` is two: the timestamps where
//! usage_user > 90, then the 10 fields of the host at those timestamps. The SQL is what
//! a careful user writes against the baseline's schema: the points table
//! clustered by `(series_id, ts)` (`WITHOUT ROWID`), and — added before the queries, not
//! timed — a `series_host` table mapping each series to its host and metric, indexed
//! both ways, as anyone querying by host would keep. Buckets are `ts / width` integer
//! division (timestamps are positive, so it floors like sedimentdb's buckets). The
//! correlation fetches both metrics' minute averages in one statement and computes
//! Pearson in the application, with the same function sedimentdb uses.
#![allow(dead_code)] // each includer uses a different part

use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use rusqlite::{params_from_iter, Connection};
use sedimentdb::analytics::correlation::{align, pearson, CorrelationMethod};
use sedimentdb::query::{CorrelateOptions, Explain, ValueFilter};
use sedimentdb::{Aggregate, Db, Matcher, Query};

use crate::tsbs_data::{metric_name, FIELDS};
use crate::tsbs_dataset::Dataset;

type BoxResult<T> = Result<T, Box<dyn Error>>;

const MINUTE: i64 = 60_000_000_000;
const HOUR: i64 = 60 * MINUTE;

/// The query names, in reporting order.
pub const NAMES: [&str; 7] = [
    "single_groupby_1_1_1",
    "single_groupby_5_1_12",
    "cpu_max_all_8",
    "double_groupby_1",
    "lastpoint",
    "high_cpu_1",
    "correlate_all",
];

/// What a query returned, reduced to compare engines: rows and the sum of the values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Digest {
    pub rows: usize,
    pub sum: f64,
}

impl Digest {
    fn add(&mut self, v: f64) {
        self.rows += 1;
        self.sum += v;
    }

    /// Same row count and sums equal to 1e-9 relative (the engines add in different
    /// orders).
    pub fn agrees(&self, other: &Digest) -> bool {
        self.rows == other.rows
            && (self.sum - other.sum).abs() <= 1e-9 * self.sum.abs().max(other.sum.abs()).max(1.0)
    }
}

/// The fixed parameters of one run: the hosts and windows of TSBS's questions.
#[derive(Debug, Clone)]
pub struct Params {
    /// The host of `single_groupby_*` (host_7).
    pub host: String,
    /// The hosts of `cpu_max_all_8` (host_3, host_14, ..., host_80).
    pub hosts8: Vec<String>,
    /// The host of `high_cpu_1` (host_61).
    pub high_cpu_host: String,
    /// Start and end of the data.
    pub start: i64,
    pub end: i64,
}

impl Params {
    pub fn new(data: &Dataset) -> Params {
        let n = data.hosts().len().max(1);
        let host = |i: usize| format!("host_{}", i % n);
        Params {
            host: host(7),
            hosts8: (0..8).map(|i| host(i * 11 + 3)).collect(),
            high_cpu_host: host(61),
            start: data.start(),
            end: data.end(),
        }
    }

    /// A window of `hours` starting `offset_hours` into the data, moved back inside the
    /// data if it would end past it.
    fn window(&self, offset_hours: i64, hours: i64) -> (i64, i64) {
        let start = (self.start + offset_hours * HOUR).min(self.end);
        let start = if start + hours * HOUR > self.end {
            (self.end - hours * HOUR).max(self.start)
        } else {
            start
        };
        (start, (start + hours * HOUR).min(self.end.max(start + 1)))
    }
}

fn field_metrics(n: usize) -> Vec<String> {
    (0..n).map(metric_name).collect()
}

/// The sedimentdb queries that answer `name`, in the order their results are read.
/// `high_cpu_1` gives its first step only (the timestamps where usage_user > 90); the
/// second depends on that answer (`high_cpu_fields`).
pub fn sediment_queries(name: &str, p: &Params) -> Vec<Query> {
    let on = |host: &str| Matcher::eq("hostname", host);
    match name {
        "single_groupby_1_1_1" => {
            let (s, e) = p.window(6, 1);
            vec![Query::metric("cpu_usage_user")
                .filter(on(&p.host))
                .between(s, e)
                .downsample(Duration::from_secs(60), Aggregate::Max)]
        }
        "single_groupby_5_1_12" => {
            let (s, e) = p.window(6, 12);
            vec![Query::metrics(field_metrics(5))
                .filter(on(&p.host))
                .between(s, e)
                .downsample(Duration::from_secs(60), Aggregate::Max)]
        }
        "cpu_max_all_8" => {
            let (s, e) = p.window(4, 8);
            field_metrics(FIELDS.len())
                .into_iter()
                .map(|metric| {
                    Query::metric(metric)
                        .filter(Matcher::one_of("hostname", p.hosts8.clone()))
                        .between(s, e)
                        .downsample(Duration::from_secs(3600), Aggregate::Max)
                        .group_all()
                })
                .collect()
        }
        "double_groupby_1" => {
            let (s, e) = p.window(6, 12);
            vec![Query::metric("cpu_usage_user")
                .between(s, e)
                .downsample(Duration::from_secs(3600), Aggregate::Avg)
                .group_by(["hostname"])]
        }
        "lastpoint" => vec![Query::metrics(field_metrics(FIELDS.len())).aggregate(Aggregate::Last)],
        "high_cpu_1" => {
            let (s, e) = p.window(6, 12);
            vec![Query::metric("cpu_usage_user")
                .filter(on(&p.high_cpu_host))
                .between(s, e)
                .where_value(ValueFilter::gt(90.0))]
        }
        "correlate_all" => {
            let (x, y) = correlate_queries(p);
            vec![x, y]
        }
        _ => Vec::new(),
    }
}

/// `high_cpu_1`'s second step: the 10 fields of the host from the first to the last of
/// the first step's timestamps (`when`, sorted), of which the points at those timestamps
/// are the answer. Without `when`, the whole window (for `explain`).
fn high_cpu_fields(p: &Params, when: Option<&[i64]>) -> Query {
    let (s, e) = match when {
        Some([first, .., last]) => (*first, last + 1),
        Some([only]) => (*only, only + 1),
        _ => p.window(6, 12),
    };
    Query::metrics(field_metrics(FIELDS.len()))
        .filter(Matcher::eq("hostname", p.high_cpu_host.as_str()))
        .between(s, e)
}

fn correlate_queries(p: &Params) -> (Query, Query) {
    let (s, e) = p.window(0, 24);
    let q = |m: &str| {
        Query::metric(m)
            .between(s, e)
            .downsample(Duration::from_secs(60), Aggregate::Avg)
    };
    (q("cpu_usage_user"), q("cpu_usage_system"))
}

/// Runs query `name` on sedimentdb.
pub fn run_sediment(db: &Db, name: &str, p: &Params) -> BoxResult<Digest> {
    let mut d = Digest::default();
    match name {
        "correlate_all" => {
            let (x, y) = correlate_queries(p);
            let opts = CorrelateOptions {
                on: vec!["hostname".into()],
                method: CorrelationMethod::Pearson,
                max_lag: 0,
            };
            for pair in db.correlate(&x, &y, &opts)? {
                d.add(pair.r.unwrap_or(f64::NAN));
            }
        }
        "high_cpu_1" => {
            let [first] = sediment_queries(name, p)
                .try_into()
                .map_err(|_| "one query")?;
            let mut when: Vec<i64> = Vec::new();
            for s in db.query(&first)?.iter() {
                when.extend(&s.timestamps);
            }
            when.sort_unstable();
            if when.is_empty() {
                return Ok(d);
            }
            for s in db.query(&high_cpu_fields(p, Some(&when)))?.iter() {
                for (ts, v) in s.timestamps.iter().zip(&s.values) {
                    if when.binary_search(ts).is_ok() {
                        d.add(*v);
                    }
                }
            }
        }
        _ => {
            let queries = sediment_queries(name, p);
            if queries.is_empty() {
                return Err(format!("unknown query {name}").into());
            }
            for query in &queries {
                for s in db.query(query)?.iter() {
                    s.values.iter().for_each(|v| d.add(*v));
                }
            }
        }
    }
    Ok(d)
}

/// How sedimentdb executed query `name` (the sum over its queries).
pub fn explain_sediment(db: &Db, name: &str, p: &Params) -> BoxResult<Explain> {
    let mut queries = sediment_queries(name, p);
    if name == "high_cpu_1" {
        queries.push(high_cpu_fields(p, None));
    }
    let mut total: Option<Explain> = None;
    for query in &queries {
        let b = db.explain(query)?;
        match total.as_mut() {
            None => total = Some(b),
            Some(a) => {
                a.segments_scanned += b.segments_scanned;
                a.segments_pruned += b.segments_pruned;
                a.series_matched += b.series_matched;
                a.chunks_from_stats += b.chunks_from_stats;
                a.chunks_decoded += b.chunks_decoded;
                a.chunks_skipped += b.chunks_skipped;
                a.points_decoded += b.points_decoded;
                a.bytes_read += b.bytes_read;
                a.micros += b.micros;
            }
        }
    }
    total.ok_or_else(|| format!("unknown query {name}").into())
}

/// Adds the `series_host` lookup table and its indexes (not timed: schema a careful user
/// has before querying by host).
pub fn prepare_sqlite(conn: &Connection) -> BoxResult<()> {
    conn.execute_batch(
        "DROP TABLE IF EXISTS series_host;
         CREATE TABLE series_host(
             series_id INTEGER PRIMARY KEY,
             hostname TEXT NOT NULL,
             metric TEXT NOT NULL
         );",
    )?;
    let rows: Vec<(i64, String, String)> = {
        let mut stmt = conn.prepare("SELECT id, metric, tags FROM series")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert =
            tx.prepare("INSERT INTO series_host(series_id, hostname, metric) VALUES (?1, ?2, ?3)")?;
        for (id, metric, tags) in rows {
            let host = tags
                .split(',')
                .find_map(|kv| kv.strip_prefix("hostname="))
                .ok_or("series without hostname")?;
            insert.execute(rusqlite::params![id, host, metric])?;
        }
    }
    tx.commit()?;
    conn.execute_batch(
        "CREATE INDEX series_host_by_host ON series_host(hostname, metric);
         CREATE INDEX series_host_by_metric ON series_host(metric, hostname);
         ANALYZE;",
    )?;
    Ok(())
}

/// `?first, ?first+1, ...`: numbered, so they can follow other numbered parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs query `name` on SQLite.
pub fn run_sqlite(conn: &Connection, name: &str, p: &Params) -> BoxResult<Digest> {
    let mut d = Digest::default();
    let mut collect =
        |sql: &str, args: Vec<rusqlite::types::Value>, value_col: usize| -> BoxResult<()> {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params_from_iter(args))?;
            while let Some(row) = rows.next()? {
                let v: f64 = row.get(value_col)?;
                d.add(v);
            }
            Ok(())
        };
    use rusqlite::types::Value as V;
    let text = |s: &str| V::Text(s.to_string());
    match name {
        "single_groupby_1_1_1" => {
            let (s, e) = p.window(6, 1);
            collect(
                "SELECT p.ts / 60000000000 AS minute, max(p.value) FROM points p
                 WHERE p.series_id = (SELECT series_id FROM series_host
                                      WHERE hostname = ?1 AND metric = 'cpu_usage_user')
                   AND p.ts >= ?2 AND p.ts < ?3
                 GROUP BY minute ORDER BY minute",
                vec![text(&p.host), V::Integer(s), V::Integer(e)],
                1,
            )?;
        }
        "single_groupby_5_1_12" => {
            let (s, e) = p.window(6, 12);
            let mut args = vec![text(&p.host), V::Integer(s), V::Integer(e)];
            args.extend(field_metrics(5).iter().map(|m| text(m)));
            collect(
                &format!(
                    "SELECT p.series_id, p.ts / 60000000000 AS minute, max(p.value) FROM points p
                     WHERE p.series_id IN (SELECT series_id FROM series_host
                                           WHERE hostname = ?1 AND metric IN ({}))
                       AND p.ts >= ?2 AND p.ts < ?3
                     GROUP BY p.series_id, minute ORDER BY p.series_id, minute",
                    placeholders(4, 5)
                ),
                args,
                2,
            )?;
        }
        "cpu_max_all_8" => {
            let (s, e) = p.window(4, 8);
            let mut args = vec![V::Integer(s), V::Integer(e)];
            args.extend(p.hosts8.iter().map(|h| text(h)));
            collect(
                &format!(
                    "SELECT h.metric, p.ts / 3600000000000 AS hour, max(p.value)
                     FROM series_host h JOIN points p ON p.series_id = h.series_id
                     WHERE h.hostname IN ({}) AND p.ts >= ?1 AND p.ts < ?2
                     GROUP BY h.metric, hour ORDER BY h.metric, hour",
                    placeholders(3, p.hosts8.len())
                ),
                args,
                2,
            )?;
        }
        "double_groupby_1" => {
            let (s, e) = p.window(6, 12);
            collect(
                "SELECT h.hostname, p.ts / 3600000000000 AS hour, avg(p.value)
                 FROM series_host h JOIN points p ON p.series_id = h.series_id
                 WHERE h.metric = 'cpu_usage_user' AND p.ts >= ?1 AND p.ts < ?2
                 GROUP BY h.hostname, hour ORDER BY h.hostname, hour",
                vec![V::Integer(s), V::Integer(e)],
                2,
            )?;
        }
        "lastpoint" => {
            collect(
                "SELECT h.series_id,
                        (SELECT p.value FROM points p WHERE p.series_id = h.series_id
                         ORDER BY p.ts DESC LIMIT 1)
                 FROM series_host h",
                vec![],
                1,
            )?;
        }
        "high_cpu_1" => {
            let (s, e) = p.window(6, 12);
            collect(
                "SELECT p.ts, p.value FROM series_host h JOIN points p ON p.series_id = h.series_id
                 WHERE h.hostname = ?1 AND p.ts >= ?2 AND p.ts < ?3
                   AND p.ts IN (SELECT u.ts FROM points u
                                WHERE u.series_id = (SELECT series_id FROM series_host
                                                     WHERE hostname = ?1 AND metric = 'cpu_usage_user')
                                  AND u.ts >= ?2 AND u.ts < ?3 AND u.value > 90.0)
                 ORDER BY p.ts",
                vec![text(&p.high_cpu_host), V::Integer(s), V::Integer(e)],
                1,
            )?;
        }
        "correlate_all" => {
            let (s, e) = p.window(0, 24);
            let mut stmt = conn.prepare_cached(
                "SELECT h.hostname, h.metric, p.ts / 60000000000 AS minute, avg(p.value)
                 FROM series_host h JOIN points p ON p.series_id = h.series_id
                 WHERE h.metric IN ('cpu_usage_user', 'cpu_usage_system')
                   AND p.ts >= ?1 AND p.ts < ?2
                 GROUP BY h.series_id, minute",
            )?;
            // host -> (user, system) as (bucket start, avg) columns.
            type Cols = (Vec<i64>, Vec<f64>);
            let mut by_host: BTreeMap<String, (Cols, Cols)> = BTreeMap::new();
            let mut rows = stmt.query(rusqlite::params![s, e])?;
            while let Some(row) = rows.next()? {
                let host: String = row.get(0)?;
                let metric: String = row.get(1)?;
                let minute: i64 = row.get(2)?;
                let avg: f64 = row.get(3)?;
                let entry = by_host.entry(host).or_default();
                let cols = if metric == "cpu_usage_user" {
                    &mut entry.0
                } else {
                    &mut entry.1
                };
                cols.0.push(minute * MINUTE);
                cols.1.push(avg);
            }
            for (_, (user, system)) in by_host {
                let (x, y) = align(&user.0, &user.1, &system.0, &system.1);
                d.add(pearson(&x, &y).unwrap_or(f64::NAN));
            }
        }
        other => return Err(format!("unknown query {other}").into()),
    }
    Ok(d)
}

/// Median wall-clock milliseconds of `runs` calls of `f` after one warm-up call; also
/// returns the warm-up's result.
pub fn time_median<T>(runs: usize, mut f: impl FnMut() -> BoxResult<T>) -> BoxResult<(f64, T)> {
    let first = f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(f()?);
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = if times.is_empty() {
        f64::NAN
    } else if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0
    };
    Ok((median, first))
}
