//! A year of daily partitions, compacted cold, queried over the whole year and over one
//! day: is a query over the whole retention as usable as one over a day?
//!
//! ```text
//! cargo run --release --example year -- [--hosts 4] [--metrics 3] [--days 365] [--step-secs 60]
//! ```
//!
//! Writes `hosts x metrics` series (random walks of two-decimal values, as TSBS) every
//! `step-secs` for `days` days, flushing each day into its own partition, reopens,
//! compacts every partition cold (`compact_partition(.., Tier::Cold)`), reopens again,
//! and then times each query (median of 10 runs after a warm-up) once over the last day
//! and once over the whole year: `year_query_<name>_day_ms`, `year_query_<name>_year_ms`
//! and their ratio. How each ran (segments, chunks from statistics or decoded) goes to
//! stderr.
//!
//! Figures go to stdout, one `key=value` per line; progress goes to stderr.

use std::error::Error;
use std::time::{Duration, Instant};

use sedimentdb::{
    Aggregate, Db, Durability, Matcher, Options, Query, Selector, SeriesKey, Tier, WriteBatch,
};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: year [--hosts N] [--metrics N] [--days N] [--step-secs S]";
const DAY: i64 = 86_400_000_000_000;
/// 2016-01-01T00:00:00Z, as the TSBS data.
const START: i64 = 1_451_606_400_000_000_000;
const QUERY_RUNS: usize = 10;

struct Args {
    hosts: usize,
    metrics: usize,
    days: i64,
    step_secs: i64,
}

fn parse_args() -> BoxResult<Args> {
    let mut args = Args {
        hosts: 4,
        metrics: 3,
        days: 365,
        step_secs: 60,
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = raw
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}\n{USAGE}");
        match flag.as_str() {
            "--hosts" => args.hosts = value.parse().map_err(bad)?,
            "--metrics" => args.metrics = value.parse().map_err(bad)?,
            "--days" => args.days = value.parse().map_err(bad)?,
            "--step-secs" => args.step_secs = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}").into()),
        }
    }
    if args.hosts == 0 || args.metrics == 0 || args.days < 1 || args.step_secs < 1 {
        return Err(format!("every value must be positive\n{USAGE}").into());
    }
    Ok(args)
}

fn figure(key: &str, value: impl std::fmt::Display) {
    println!("{key}={value}");
}

fn options() -> Options {
    Options::default()
        .durability(Durability::None)
        // The example decides when segments are written: one flush per day of data.
        .head_window(Duration::from_secs(400 * 86_400))
}

fn main() -> BoxResult<()> {
    let args = parse_args()?;
    let dir = tempfile::Builder::new()
        .prefix("sedimentdb-year-")
        .tempdir()?;
    let per_day = 86_400 / args.step_secs;
    let series = args.hosts * args.metrics;
    let points = series as u64 * per_day as u64 * args.days as u64;
    eprintln!(
        "year: {} hosts x {} metrics every {} s for {} days = {points} points; in {}",
        args.hosts,
        args.metrics,
        args.step_secs,
        args.days,
        dir.path().display()
    );
    figure("year_points", points);

    // 1. Ingest, one flush per day.
    let db = Db::open(dir.path(), options())?;
    let mut handles = Vec::with_capacity(series);
    for m in 0..args.metrics {
        for h in 0..args.hosts {
            let key = SeriesKey::new(format!("metric_{m}")).with("hostname", format!("host_{h}"));
            handles.push(db.series(&key)?);
        }
    }
    let mut walk: Vec<f64> = (0..series).map(|i| (i * 37 % 100) as f64).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let step = args.step_secs * 1_000_000_000;
    let started = Instant::now();
    let mut batch = WriteBatch::with_capacity(series * per_day as usize);
    for day in 0..args.days {
        batch.clear();
        for i in 0..per_day {
            let ts = START + day * DAY + i * step;
            for (h, v) in handles.iter().zip(walk.iter_mut()) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let delta = ((x >> 56) as i64 - 128) as f64 / 100.0;
                *v = ((*v + delta).clamp(0.0, 100.0) * 100.0).round() / 100.0;
                batch.push(*h, ts, *v);
            }
        }
        db.write(&batch)?;
        db.flush()?;
    }
    figure(
        "year_ingest_secs",
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    db.close()?;
    drop(db);

    // 2. Every partition cold.
    let db = Db::open(dir.path(), options())?;
    let started = Instant::now();
    let mut input_bytes = 0;
    for partition in db.stats().partitions {
        input_bytes += db
            .compact_partition(partition.start, Tier::Cold)?
            .input_bytes;
    }
    let secs = started.elapsed().as_secs_f64();
    figure("year_cold_compact_secs", format!("{secs:.2}"));
    figure(
        "year_cold_compact_input_mb_per_sec",
        format!("{:.1}", input_bytes as f64 / 1e6 / secs.max(1e-9)),
    );
    let stats = db.stats();
    let cold = stats.partitions.iter().filter(|p| p.cold).count();
    figure("year_cold_partitions", cold);
    figure(
        "year_cold_bytes_per_point",
        format!("{:.3}", stats.segment_bytes as f64 / points as f64),
    );
    if stats.segment_points != points || cold as i64 != args.days {
        return Err(format!(
            "expected {points} points in {} cold partitions, found {stats:?}",
            args.days
        )
        .into());
    }
    db.close()?;
    drop(db);
    let started = Instant::now();
    let db = Db::open(dir.path(), options())?;
    figure(
        "year_reopen_ms",
        format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
    );

    // 3. Each query over the last day and over the whole year.
    let end = START + args.days * DAY;
    let last_day = (end - DAY, end);
    let year = (START, end);
    let host = || Matcher::eq("hostname", "host_1");
    type MakeQuery = fn((i64, i64), Matcher) -> Query;
    let queries: [(&str, MakeQuery); 5] = [
        // Max per day of one series (one bucket vs 365).
        ("max_per_day_1_host", |(s, e), host| {
            Query::metric("metric_0")
                .filter(host)
                .between(s, e)
                .downsample(Duration::from_secs(86_400), Aggregate::Max)
        }),
        // Hourly average of one series (24 buckets vs 8760).
        ("avg_1h_1_host", |(s, e), host| {
            Query::metric("metric_0")
                .filter(host)
                .between(s, e)
                .downsample(Duration::from_secs(3600), Aggregate::Avg)
        }),
        // Hourly max of one metric for every host, grouped by host.
        ("max_1h_by_host", |(s, e), _| {
            Query::metric("metric_0")
                .between(s, e)
                .downsample(Duration::from_secs(3600), Aggregate::Max)
                .group_by(["hostname"])
        }),
        // The last value of every series.
        ("lastpoint", |(s, e), _| {
            Query::select(Selector::any())
                .between(s, e)
                .aggregate(Aggregate::Last)
        }),
        // Every raw point of one series: the one query that must touch every point.
        ("raw_1_host", |(s, e), host| {
            Query::metric("metric_0").filter(host).between(s, e)
        }),
    ];
    for (name, make) in queries {
        let mut ms = [0.0; 2];
        for (i, (span, range)) in [("day", last_day), ("year", year)].into_iter().enumerate() {
            let query = make(range, host());
            let mut times = Vec::with_capacity(QUERY_RUNS);
            let mut rows = 0;
            db.query(&query)?; // warm-up
            for _ in 0..QUERY_RUNS {
                let started = Instant::now();
                let result = db.query(&query)?;
                times.push(started.elapsed().as_secs_f64() * 1e3);
                rows = result.iter().map(|s| s.values.len()).sum::<usize>();
            }
            times.sort_by(f64::total_cmp);
            ms[i] = times[QUERY_RUNS / 2];
            figure(
                &format!("year_query_{name}_{span}_ms"),
                format!("{:.3}", ms[i]),
            );
            let e = db.explain(&query)?;
            eprintln!(
                "  {name} over the {span}: {rows} values; {} of {} segments scanned, chunks {} from stats / {} decoded, {} points decoded",
                e.segments_scanned,
                e.segments_total,
                e.chunks_from_stats,
                e.chunks_decoded,
                e.points_decoded
            );
        }
        figure(
            &format!("year_query_{name}_year_vs_day"),
            format!("{:.1}", ms[1] / ms[0].max(1e-6)),
        );
    }
    db.close()?;
    Ok(())
}
