//! Rollup figures: coarse queries over cold TSBS data with and without 5-minute rollups,
//! and what the rollups cost on disk and in compaction time.
//!
//! ```text
//! cargo run --release --example rollup_figures -- [--hosts 10] [--days 14] [--runs 5]
//! ```
//!
//! Two databases get the same TSBS cpu-only data (10 metrics per host, one point every
//! 10 s); one has a 5-minute rollup policy on every metric. Every partition is compacted
//! cold. Then each query runs `--runs` times on each database (median reported), and
//! the answers are compared (counts, min and max exactly, sums and averages to 1e-9).

use std::time::{Duration, Instant};

use sedimentdb::{
    Aggregate, Db, Durability, Options, Query, QueryResult, RollupPolicy, Selector, SeriesKey,
    Tier, WriteBatch,
};
use sedimentdb_bench::tsbs_data::{make_hosts, metric_name, Shape, FIELDS, INTERVAL_NS, START_NS};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

const DAY_NS: i64 = 86_400_000_000_000;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(rollups: bool) -> Options {
    let opts = Options::default()
        .durability(Durability::None)
        .head_window(Duration::from_secs(6 * 3600));
    if rollups {
        opts.rollup(Selector::any(), RollupPolicy::new(Duration::from_secs(300)))
    } else {
        opts
    }
}

fn load(db: &Db, shape: &Shape) -> BoxResult<()> {
    let hosts = make_hosts(shape.hosts, shape.seed);
    let keys: Vec<SeriesKey> = (0..shape.series())
        .map(|s| {
            let (h, f) = (s / FIELDS.len(), s % FIELDS.len());
            let mut key = SeriesKey::new(metric_name(f));
            for (k, v) in hosts[h].tag_pairs() {
                key = key.with(k, v);
            }
            key
        })
        .collect();
    let handles = keys
        .iter()
        .map(|k| db.series(k))
        .collect::<Result<Vec<_>, _>>()?;
    let mut walks: Vec<_> = (0..shape.series()).map(|s| shape.walk(s)).collect();
    let mut batch = WriteBatch::new();
    for i in 0..shape.timestamps {
        let ts = shape.timestamp(i);
        for (s, walk) in walks.iter_mut().enumerate() {
            batch.push(handles[s], ts, walk.next_value());
        }
        if batch.len() >= 100_000 {
            db.write(&batch)?;
            batch = WriteBatch::new();
        }
    }
    db.write(&batch)?;
    db.flush()?;
    Ok(())
}

fn median_ms(
    db: &Db,
    q: &Query,
    runs: usize,
) -> BoxResult<(f64, QueryResult, sedimentdb::query::Explain)> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = db.query_explained(q)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(out);
    }
    times.sort_by(f64::total_cmp);
    let (result, explain) = last.ok_or("no run")?;
    Ok((times[times.len() / 2], result, explain))
}

fn agree(a: &QueryResult, b: &QueryResult) -> bool {
    a.series.len() == b.series.len()
        && a.series.iter().zip(&b.series).all(|(x, y)| {
            x.timestamps == y.timestamps
                && x.values
                    .iter()
                    .zip(&y.values)
                    .all(|(u, v)| (u - v).abs() <= 1e-9 * u.abs().max(v.abs()).max(1.0))
        })
}

fn main() -> BoxResult<()> {
    let hosts = arg("--hosts", 10);
    let days = arg("--days", 14);
    let runs = arg("--runs", 5);
    let shape = Shape::new(hosts, days as f64 * 24.0, 7);
    println!(
        "rollup_figures: {hosts} hosts, {days} days, {} series, {} points, 5-minute rollups",
        shape.series(),
        shape.points()
    );
    let dirs = [tempfile::tempdir()?, tempfile::tempdir()?];
    let mut dbs = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let with = i == 1;
        let db = Db::open(dir.path(), options(with))?;
        let t = Instant::now();
        load(&db, &shape)?;
        let ingest = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut rollup_bytes = 0;
        for day in 0..days as i64 + 1 {
            let report = db.compact_partition(START_NS + day * DAY_NS, Tier::Cold)?;
            rollup_bytes += report.rollup_bytes;
        }
        let compact = t.elapsed().as_secs_f64();
        let stats = db.stats();
        println!(
            "{}: ingest_secs={ingest:.1} cold_compact_secs={compact:.1} segment_bytes={} \
             bytes_per_point={:.3} rollup_files={} rollup_buckets={} rollup_bytes={} \
             rollup_bytes_per_raw_point={:.4} rollup_bytes_per_bucket={:.2}",
            if with { "with_rollups" } else { "raw_only" },
            stats.segment_bytes,
            stats.segment_bytes as f64 / shape.points() as f64,
            stats.rollup_files,
            stats.rollup_buckets,
            stats.rollup_bytes,
            stats.rollup_bytes as f64 / shape.points() as f64,
            stats.rollup_bytes as f64 / stats.rollup_buckets.max(1) as f64,
        );
        assert_eq!(stats.rollup_bytes, rollup_bytes);
        dbs.push(db);
    }
    let end = shape.timestamp(shape.timestamps) + INTERVAL_NS;
    let hour = Duration::from_secs(3600);
    let queries: Vec<(&str, Query)> = vec![
        (
            "avg per host per hour, one metric, all days",
            Query::metric("cpu_usage_user")
                .between(START_NS, end)
                .downsample(hour, Aggregate::Avg),
        ),
        (
            "max per hour over all hosts, one metric, all days",
            Query::metric("cpu_usage_user")
                .between(START_NS, end)
                .downsample(hour, Aggregate::Max)
                .group_all(),
        ),
        (
            "daily stddev per host, all 10 metrics",
            Query::select(Selector::any())
                .between(START_NS, end)
                .downsample(Duration::from_secs(86_400), Aggregate::Stddev),
        ),
        (
            "count per 5 min per host, one metric, all days",
            Query::metric("cpu_usage_user")
                .between(START_NS, end)
                .downsample(Duration::from_secs(300), Aggregate::Count),
        ),
    ];
    for (name, q) in &queries {
        let (raw_ms, raw, raw_explain) = median_ms(&dbs[0], q, runs)?;
        let (rolled_ms, rolled, e) = median_ms(&dbs[1], q, runs)?;
        println!(
            "query \"{name}\": raw_ms={raw_ms:.2} rollup_ms={rolled_ms:.2} speedup={:.1}x \
             raw_points_decoded={} rollup_buckets_read={} rollup_points_decoded={} same_answer={}",
            raw_ms / rolled_ms.max(1e-9),
            raw_explain.points_decoded,
            e.rollup_buckets,
            e.points_decoded,
            agree(&raw, &rolled),
        );
    }
    Ok(())
}
