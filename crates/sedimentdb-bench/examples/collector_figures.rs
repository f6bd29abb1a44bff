//! Figures of the collection layer: `collect_metric` latency percentiles (async and
//! sync), `batch_collect` throughput and bytes on disk per 10 000 metrics.
//!
//! ```text
//! cargo run --release --example collector_figures
//! ```
//!
//! Throughput: 1 million pre-built events (1000 series: 100 hosts x 10 metrics, 1000
//! timestamps 10 s apart, values with two decimals) through `batch_collect` in batches of
//! 100 000, under `Durability::Sync` (one fsync per batch) and `Durability::None`.
//!
//! Size: 10 000 events of a typical service (50 series, 200 timestamps 10 s apart) after
//! a flush (warm segments) and after compacting the partition cold, counting segment,
//! catalog and WAL bytes.
//!
//! Time to detect: wall-clock time from the `collect_metric` call of the event that
//! breaks a threshold rule (`avg(error_rate) > 0.05` over 1 minute) to the alert
//! callback, synchronous and asynchronous (where the writer's batching delay, 50 ms by
//! default, is part of it); median of 20 incidents.
//!
//! New series: one `batch_collect` of 10 000 events that all name a new series (10 000
//! hosts), under `Durability::Sync`: the cost of creating series in bulk.
//!
//! `ENGINE_ONLY=1` also times the same points written straight through `Db::write`
//! (the collector's overhead is the difference); `ONLY_NONE=1` skips the `Sync` run;
//! `ONLY_NEW_SERIES=1` stops after the new-series and time-to-detect figures.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use sedimentdb::{Db, Durability, Options, Tier};
use sedimentdb_collector::{
    AsyncConfig, CollectorConfig, ManualClock, MetricEvent, Source, UnifiedMetricsCollector,
};

const T0: i64 = 1_714_564_800_000_000_000;
const STEP: i64 = 10_000_000_000;
const METRICS: [(&str, Source, &str, &str); 10] = [
    ("cpu_usage", Source::System, "resource", "percent"),
    ("memory_used", Source::System, "resource", "MB"),
    ("disk_used", Source::System, "resource", "percent"),
    ("request_latency", Source::Performance, "latency", "ms"),
    ("error_rate", Source::Performance, "errors", "ratio"),
    ("queue_depth", Source::System, "resource", "count"),
    ("active_sessions", Source::Business, "adoption", "count"),
    (
        "suggestion_confidence",
        Source::Learning,
        "learning",
        "ratio",
    ),
    ("cache_hit_ratio", Source::Performance, "cache", "ratio"),
    ("gc_pause", Source::Performance, "latency", "ms"),
];

fn events(hosts: usize, metrics: usize, steps: usize) -> Vec<MetricEvent> {
    let mut out = Vec::with_capacity(hosts * metrics * steps);
    let mut x: u64 = 42;
    for step in 0..steps {
        for h in 0..hosts {
            for &(name, source, category, unit) in &METRICS[..metrics] {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let value = ((x % 10_000) as f64) / 100.0;
                let mut e = MetricEvent::new(source, category, name, value, unit)
                    .at(T0 + step as i64 * STEP)
                    .with_dimension("host", format!("host-{h:03}"))
                    .with_dimension("region", if h % 2 == 0 { "eu-west" } else { "us-east" });
                e.id = String::new();
                out.push(e);
            }
        }
    }
    out
}

fn collector(
    dir: &std::path::Path,
    durability: Durability,
) -> Result<UnifiedMetricsCollector, Box<dyn Error>> {
    let db = Db::open(dir, Options::default().durability(durability))?;
    let config = CollectorConfig {
        clock: Arc::new(ManualClock::new(T0 + 86_400_000_000_000)),
        ..CollectorConfig::default()
    };
    Ok(UnifiedMetricsCollector::new(db, config)?)
}

fn throughput(durability: Durability) -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let c = collector(dir.path(), durability)?;
    let all = events(100, 10, 1000);
    let n = all.len();
    let mut chunks: Vec<Vec<MetricEvent>> = Vec::new();
    let mut it = all.into_iter();
    loop {
        let chunk: Vec<_> = it.by_ref().take(100_000).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let start = Instant::now();
    let mut stored = 0;
    for chunk in chunks {
        stored += c.batch_collect(chunk)?.stored;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(stored, n);
    println!(
        "batch_collect {durability:?}: {n} events in {:.3} s = {:.2} M events/s",
        secs,
        n as f64 / secs / 1e6
    );
    c.db().close()?;
    Ok(())
}

fn size() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let c = collector(dir.path(), Durability::Sync)?;
    let report = c.batch_collect(events(5, 10, 200))?;
    assert_eq!(report.stored, 10_000);
    c.db().flush()?;
    let s = c.db().stats();
    let warm = s.segment_bytes + s.catalog_bytes + s.wal_bytes;
    println!(
        "10 000 metrics (50 series x 200 points), warm: {warm} bytes (segments {}, catalog {}, wal {})",
        s.segment_bytes, s.catalog_bytes, s.wal_bytes
    );
    c.db().compact_partition(T0, Tier::Cold)?;
    let s = c.db().stats();
    let cold = s.segment_bytes + s.catalog_bytes + s.wal_bytes;
    println!(
        "10 000 metrics, cold: {cold} bytes ({:.2} bytes/metric; the original target was 1 MB)",
        cold as f64 / 10_000.0
    );
    c.db().close()?;
    Ok(())
}

/// Wall-clock time from the bad event to the alert callback, median of 20 incidents.
fn time_to_detect(asynchronous: bool) -> Result<(), Box<dyn Error>> {
    use sedimentdb_collector::{Alert, AlertRule, AlertState, CallbackSink, PerformanceMetric};
    use std::sync::mpsc;
    use std::time::Duration;
    let dir = tempfile::tempdir()?;
    let (tx, rx) = mpsc::channel::<(Instant, AlertState)>();
    let tx = std::sync::Mutex::new(tx);
    let db = Db::open(dir.path(), Options::default().durability(Durability::Sync))?;
    let c = UnifiedMetricsCollector::new(
        db,
        CollectorConfig {
            asynchronous: asynchronous.then(AsyncConfig::default),
            alert_interval: None,
            alerts_to_store: false,
            alert_sinks: vec![Arc::new(CallbackSink(move |a: &Alert| {
                let _ = tx.lock().map(|tx| tx.send((Instant::now(), a.state)));
            }))],
            ..CollectorConfig::default()
        },
    )?;
    c.alerts().add_rule(
        AlertRule::from_toml(
            r#"
        [[rule]]
        name = "failing"
        metric = "error_rate"
        kind = "threshold"
        aggregate = "avg"
        op = ">"
        value = 0.05
        window = "1m"
        group_by = ["incident"]
        "#,
        )?
        .remove(0),
    )?;
    // Each incident in its own group (`group_by = ["incident"]`): ten healthy points
    // (which create the series), then the failure that breaks the rule.
    let event = |incident: usize, v: f64| {
        PerformanceMetric::new("analyze", "error_rate", v, "ratio", true)
            .dimension("incident", incident.to_string())
            .build()
    };
    let mut waits = Vec::new();
    for incident in 0..20 {
        c.batch_collect((0..10).map(|_| event(incident, 0.0)).collect())?;
        let start = Instant::now();
        c.collect_metric(event(incident, 1.0))?;
        let (at, state) = rx.recv_timeout(Duration::from_secs(10))?;
        assert_eq!(state, AlertState::Firing);
        waits.push(at.duration_since(start));
    }
    waits.sort();
    println!(
        "time to detect ({}): median {:?}, max {:?}",
        if asynchronous {
            "async, 50 ms batching delay"
        } else {
            "sync"
        },
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
    c.shutdown()?;
    c.db().close()?;
    Ok(())
}

/// One batch of 10 000 events, each naming a series the store has not seen.
fn new_series() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let c = collector(dir.path(), Durability::Sync)?;
    let batch = events(10_000, 1, 1);
    let start = Instant::now();
    let report = c.batch_collect(batch)?;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(report.stored, 10_000);
    assert_eq!(c.db().stats().series, 10_000);
    println!(
        "batch_collect of 10 000 events naming 10 000 new series (Durability::Sync): {:.1} ms",
        secs * 1e3
    );
    c.db().close()?;
    Ok(())
}

/// Per-call latency of `collect_metric`: p50, p99, p99.9 and max over `n` calls.
fn latency(asynchronous: bool, n: usize) -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(dir.path(), Options::default().durability(Durability::Sync))?;
    let config = CollectorConfig {
        clock: Arc::new(ManualClock::new(T0 + 86_400_000_000_000)),
        asynchronous: asynchronous.then(|| AsyncConfig {
            queue_capacity: 1 << 20,
            ..AsyncConfig::default()
        }),
        ..CollectorConfig::default()
    };
    let c = UnifiedMetricsCollector::new(db, config)?;
    let events = events(100, 10, n.div_ceil(1000));
    let mut ns: Vec<u64> = Vec::with_capacity(events.len());
    for e in events.into_iter().take(n) {
        let t = Instant::now();
        let r = c.collect_metric(e);
        ns.push(t.elapsed().as_nanos() as u64);
        r?;
    }
    c.flush()?;
    ns.sort_unstable();
    let q = |p: f64| ns[((ns.len() - 1) as f64 * p) as usize];
    println!(
        "collect_metric {} (Durability::Sync), {} calls: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} us; dropped {}",
        if asynchronous { "async" } else { "sync" },
        ns.len(),
        q(0.5),
        q(0.99),
        q(0.999),
        ns[ns.len() - 1] / 1000,
        c.stats().dropped
    );
    c.shutdown()?;
    c.db().close()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    new_series()?;
    time_to_detect(false)?;
    time_to_detect(true)?;
    if std::env::var_os("ONLY_NEW_SERIES").is_some() {
        return Ok(());
    }
    latency(true, 500_000)?;
    latency(false, 2_000)?;
    if std::env::var_os("ENGINE_ONLY").is_some() {
        engine_only(Durability::Sync)?;
        engine_only(Durability::None)?;
    }
    if std::env::var_os("ONLY_NONE").is_none() {
        throughput(Durability::Sync)?;
    }
    throughput(Durability::None)?;
    size()
}

fn engine_only(durability: Durability) -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(dir.path(), Options::default().durability(durability))?;
    let all = events(100, 10, 1000);
    let mut handles = std::collections::HashMap::new();
    let mut batches = Vec::new();
    let mut b = sedimentdb::WriteBatch::with_capacity(100_000);
    for e in &all {
        let key = sedimentdb::SeriesKey::from_parts(e.name.clone(), e.dimensions.clone());
        let h = *handles
            .entry(key.clone())
            .or_insert_with(|| db.series(&key).unwrap());
        b.push(h, e.timestamp, e.value);
        if b.len() == 100_000 {
            batches.push(std::mem::take(&mut b));
        }
    }
    let start = Instant::now();
    for b in &batches {
        db.write(b)?;
    }
    println!(
        "engine write alone {durability:?}: {:.3} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
