//! The cost of `counter!(..).increment(1)` on the service's hot path, with the recorder
//! installed (locally) against the facade's no-op recorder, and of a histogram record.
//!
//! ```text
//! cargo bench -p sedimentdb-metrics --bench recorder
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use sedimentdb::{Db, Durability, Options};
use sedimentdb_metrics::RecorderOptions;

fn hot_path(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).expect("open");
    let (recorder, handle) =
        sedimentdb_metrics::build(db, RecorderOptions::default()).expect("build");
    let mut group = c.benchmark_group("recorder");
    group.bench_function("counter_increment_noop_recorder", |b| {
        b.iter(|| metrics::counter!("requests", "route" => "/api").increment(black_box(1)))
    });
    metrics::with_local_recorder(&recorder, || {
        group.bench_function("counter_increment", |b| {
            b.iter(|| metrics::counter!("requests", "route" => "/api").increment(black_box(1)))
        });
        group.bench_function("gauge_set", |b| {
            b.iter(|| metrics::gauge!("queue_depth").set(black_box(3.0)))
        });
        group.bench_function("histogram_record", |b| {
            b.iter(|| metrics::histogram!("latency_seconds").record(black_box(0.25)))
        });
        let counter = metrics::counter!("requests_kept_handle");
        group.bench_function("counter_increment_kept_handle", |b| {
            b.iter(|| counter.increment(black_box(1)))
        });
    });
    group.finish();
    handle.shutdown().expect("shutdown");
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
