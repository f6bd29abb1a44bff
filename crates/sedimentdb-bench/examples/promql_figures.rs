//! PromQL figures on the standard dataset (TSBS devops cpu-only, 100 hosts x 24 h every
//! 10 s, 8.64 M points in 1,000 series), printed as `key=value` lines:
//!
//! - `max_over_time_1h_ms`: `max_over_time(cpu_usage_user{hostname="host_33"}[1m])`,
//!   step 1 m over one hour (the aim: under 2 ms);
//! - `avg_rate_12h_ms`: `avg by (hostname) (rate(cpu_usage_user[5m]))`, step 1 m over
//!   12 hours, all hosts (the aim: under 50 ms);
//! - and the same with a 15 s step (Grafana's default for a 12 h panel is coarser).
//!
//! Times are the evaluation as `sediment serve` runs it per request, without HTTP:
//! the median of 21 runs after 3 warm-ups, on a flushed and compacted database.
//!
//! ```text
//! cargo run --release -p sedimentdb-bench --example promql_figures [-- --hosts 100 --hours 24]
//! ```

use std::time::Instant;

use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
use sedimentdb_bench::tsbs_data::{self, Shape, FIELDS, START_NS};
use sedimentdb_promql::{range_query, EvalOptions, QueryValue};

const S: i64 = 1_000_000_000;

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn median_ms(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut n = 0;
    for _ in 0..3 {
        n = f();
    }
    let mut times: Vec<f64> = (0..21)
        .map(|_| {
            let t = Instant::now();
            n = f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], n)
}

fn points(v: &QueryValue) -> usize {
    match v {
        QueryValue::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
        _ => 0,
    }
}

fn main() {
    let hosts = arg("--hosts", 100.0) as usize;
    let hours = arg("--hours", 24.0);
    let shape = Shape::new(hosts, hours, 123);
    let host_tags = tsbs_data::make_hosts(shape.hosts, shape.seed);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let keys: Vec<SeriesKey> = (0..shape.series())
        .map(|s| {
            let (h, f) = (s / FIELDS.len(), s % FIELDS.len());
            SeriesKey::from_parts(tsbs_data::metric_name(f), host_tags[h].tag_pairs())
        })
        .collect();
    let handles = db.series_many(&keys).unwrap();
    let started = Instant::now();
    let mut stream = shape.stream();
    let mut buf = Vec::new();
    while stream.fill(&mut buf, 100_000) {
        let mut batch = WriteBatch::new();
        for p in &buf {
            batch.push(handles[p.series as usize], p.ts, p.value);
        }
        db.write(&batch).unwrap();
    }
    db.flush().unwrap();
    db.compact().unwrap();
    println!("points={}", shape.points());
    println!("series={}", shape.series());
    println!("load_secs={:.2}", started.elapsed().as_secs_f64());

    let opts = EvalOptions::default();
    let end_of_data = START_NS + shape.timestamps as i64 * tsbs_data::INTERVAL_NS;
    let host = format!("host_{}", 33.min(hosts - 1));
    let q1 = format!(r#"max_over_time(cpu_usage_user{{hostname="{host}"}}[1m])"#);
    let (start, end) = (end_of_data - 3600 * S, end_of_data);
    let (ms, n) = median_ms(|| points(&range_query(&db, &q1, start, end, 60 * S, &opts).unwrap()));
    println!("max_over_time_1h_points={n}");
    println!("max_over_time_1h_ms={ms:.3}");

    let q2 = "avg by (hostname) (rate(cpu_usage_user[5m]))";
    let (start, end) = (end_of_data - 12 * 3600 * S, end_of_data);
    let (ms, n) = median_ms(|| points(&range_query(&db, q2, start, end, 60 * S, &opts).unwrap()));
    println!("avg_rate_12h_step_1m_points={n}");
    println!("avg_rate_12h_ms={ms:.3}");
    let (ms, n) = median_ms(|| points(&range_query(&db, q2, start, end, 15 * S, &opts).unwrap()));
    println!("avg_rate_12h_step_15s_points={n}");
    println!("avg_rate_12h_step_15s_ms={ms:.3}");
    db.close().unwrap();
}
