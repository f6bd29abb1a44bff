//! Ingest throughput: batches of 10 000 points (1000 series x 10 timestamps) written
//! through pre-resolved series handles, with `Durability::None` and `Durability::Sync`.
//!
//! ```text
//! cargo bench --bench ingest
//! ```
//!
//! Values come from the TSBS devops cpu-only generator (100 hosts x 10 fields), so the
//! head and the segments see realistic data. Each iteration writes the next 10
//! timestamps; building the batch is outside the timed region, `write` is inside. Flushes
//! triggered by the head window and memory budget happen in the background and slow the
//! writes they overlap, as they would in a service.

// The module's own unit tests run with the examples; in this bench build their imports look unused.
#[allow(unused_imports)]
#[path = "../crates/sedimentdb-bench/src/tsbs_data.rs"]
mod tsbs_data;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sedimentdb::{Db, Durability, Options, SeriesHandle, SeriesKey, WriteBatch};

use tsbs_data::{metric_name, GenPoint, PointStream, Shape, FIELDS};

const HOSTS: usize = 100;
const BATCH_POINTS: usize = HOSTS * FIELDS.len() * 10;

/// An open database with the 1000 TSBS series resolved, and an endless source of batches.
struct Fixture {
    _dir: tempfile::TempDir,
    db: Db,
    handles: Vec<SeriesHandle>,
    stream: PointStream,
    chunk: Vec<GenPoint>,
    batch: WriteBatch,
}

impl Fixture {
    fn new(durability: Durability) -> Fixture {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let db = Db::open(dir.path(), Options::default().durability(durability))
            .expect("opening the bench database");
        // Long enough that no benchmark run reaches the end (the stream is lazy).
        let shape = Shape::new(HOSTS, 10_000.0, 42);
        let hosts = tsbs_data::make_hosts(HOSTS, shape.seed);
        let mut handles = Vec::with_capacity(shape.series());
        for host in &hosts {
            for field in 0..FIELDS.len() {
                let key = SeriesKey::from_parts(metric_name(field), host.tag_pairs());
                handles.push(db.series(&key).expect("creating a series"));
            }
        }
        Fixture {
            _dir: dir,
            db,
            handles,
            stream: shape.stream(),
            chunk: Vec::with_capacity(BATCH_POINTS),
            batch: WriteBatch::with_capacity(BATCH_POINTS),
        }
    }

    /// Fills `batch` with the next 10 timestamps of every series.
    fn next_batch(&mut self) {
        assert!(
            self.stream.fill(&mut self.chunk, BATCH_POINTS),
            "the bench data ran out; make the shape longer"
        );
        self.batch.clear();
        for p in &self.chunk {
            self.batch
                .push(self.handles[p.series as usize], p.ts, p.value);
        }
    }
}

fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH_POINTS as u64));
    for (name, durability) in [
        ("batch_10k_durability_none", Durability::None),
        ("batch_10k_durability_sync", Durability::Sync),
    ] {
        let mut fixture = Fixture::new(durability);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    fixture.next_batch();
                    let started = Instant::now();
                    let receipt = fixture.db.write(&fixture.batch).expect("write");
                    elapsed += started.elapsed();
                    black_box(receipt);
                }
                elapsed
            })
        });
        fixture.db.close().expect("close");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    targets = ingest
}
criterion_main!(benches);
