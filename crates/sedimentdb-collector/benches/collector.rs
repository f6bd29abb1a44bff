//! Collector benchmarks: `collect_metric` latency (synchronous under `Durability::None`,
//! asynchronous enqueue) and `batch_collect` throughput (10 000 events per call).
//!
//! ```text
//! cargo bench --bench collector
//! ```
//!
//! Percentiles (p50/p99) of the same calls and bytes on disk per 10 000 metrics are
//! printed by `cargo run --release --example collector_figures`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sedimentdb::{Db, Durability, Options};
use sedimentdb_collector::{
    AsyncConfig, CollectorConfig, ManualClock, MetricEvent, Source, UnifiedMetricsCollector,
};

const T0: i64 = 1_714_564_800_000_000_000;

fn event(i: usize) -> MetricEvent {
    MetricEvent::new(
        Source::System,
        "resource",
        "cpu_usage",
        (i % 1000) as f64 / 10.0,
        "percent",
    )
    .at(T0 + i as i64 * 1_000_000)
    .with_dimension("host", format!("host-{:03}", i % 100))
}

fn collector(asynchronous: bool) -> (tempfile::TempDir, UnifiedMetricsCollector) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).expect("open");
    let config = CollectorConfig {
        clock: Arc::new(ManualClock::new(T0 + 86_400_000_000_000)),
        asynchronous: asynchronous.then(|| AsyncConfig {
            queue_capacity: 1 << 20,
            health_interval: None,
            ..AsyncConfig::default()
        }),
        ..CollectorConfig::default()
    };
    (
        dir,
        UnifiedMetricsCollector::new(db, config).expect("collector"),
    )
}

fn collect_metric(c: &mut Criterion) {
    let mut group = c.benchmark_group("collect_metric");
    group.measurement_time(Duration::from_secs(3));
    for asynchronous in [false, true] {
        let (_dir, collector) = collector(asynchronous);
        let mut i = 0;
        let name = if asynchronous { "async" } else { "sync" };
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    i += 1;
                    event(i)
                },
                |e| black_box(collector.collect_metric(e)),
                BatchSize::SmallInput,
            )
        });
        collector.flush().expect("flush");
    }
    group.finish();
}

fn batch_collect(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_collect");
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(10_000));
    let (_dir, collector) = collector(false);
    let mut base = 0;
    group.bench_function("10k_events", |b| {
        b.iter_batched(
            || {
                base += 10_000;
                (base..base + 10_000).map(event).collect::<Vec<_>>()
            },
            |events| black_box(collector.batch_collect(events).expect("batch")),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, collect_metric, batch_collect);
criterion_main!(benches);
