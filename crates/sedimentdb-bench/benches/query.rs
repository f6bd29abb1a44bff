//! The TSBS query set (see `src/tsbs_queries.rs`) on a flushed database of
//! 100 hosts x 24 h (8.64 M points), the shape `examples/tsbs.rs` reports on.
//!
//! ```text
//! cargo bench --bench query [-- name-filter]
//! ```
//!
//! The data is loaded once with `Durability::None` (the query figures do not depend on
//! how the WAL was synced) and flushed by the default 2 h head window, as in the tsbs
//! example. Each query is checked to return rows before it is measured. Measurement
//! times are short so the whole bench runs in about a minute.

use sedimentdb_bench::{tsbs_data, tsbs_queries};

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sedimentdb::{Db, Durability, Options, SeriesKey, WriteBatch};

use tsbs_data::{metric_name, GenPoint, Shape, FIELDS};
use tsbs_queries::Params;

const HOSTS: usize = 100;
const HOURS: f64 = 24.0;

fn load(db: &Db, shape: &Shape) {
    let hosts = tsbs_data::make_hosts(shape.hosts, shape.seed);
    let mut handles = Vec::with_capacity(shape.series());
    for host in &hosts {
        for field in 0..FIELDS.len() {
            let key = SeriesKey::from_parts(metric_name(field), host.tag_pairs());
            handles.push(db.series(&key).expect("creating a series"));
        }
    }
    let mut stream = shape.stream();
    let mut chunk: Vec<GenPoint> = Vec::new();
    let mut batch = WriteBatch::with_capacity(10_000);
    while stream.fill(&mut chunk, 10_000) {
        batch.clear();
        for p in &chunk {
            batch.push(handles[p.series as usize], p.ts, p.value);
        }
        db.write(&batch).expect("writing a batch");
    }
    db.flush().expect("flush");
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let db = Db::open(dir.path(), Options::default().durability(Durability::None))
        .expect("opening the bench database");
    let shape = Shape::new(HOSTS, HOURS, 123);
    load(&db, &shape);
    let params = Params::new(&sedimentdb_bench::tsbs_dataset::Dataset::generated(shape));
    let mut group = c.benchmark_group("tsbs");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500));
    for name in tsbs_queries::NAMES {
        let digest = tsbs_queries::run_sediment(&db, name, &params).expect("query");
        assert!(digest.rows > 0, "{name} returned nothing");
        group.bench_function(name, |b| {
            b.iter(|| black_box(tsbs_queries::run_sediment(&db, name, &params).expect("query")))
        });
    }
    group.finish();
    db.close().expect("close");
}

criterion_group!(benches, queries);
criterion_main!(benches);
