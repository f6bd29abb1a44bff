//! Compaction throughput: merging a day of flush segments (TSBS-shaped random walks,
//! 200 series x 8640 points, flushed every 2 hours of data) into one warm or one cold
//! segment. Each iteration starts from a copy of the same prepared directory.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sedimentdb::{Db, Durability, Options, SeriesKey, Tier, WriteBatch};

const SERIES: usize = 200;
const POINTS: i64 = 8640;
const STEP: i64 = 10_000_000_000;

fn prepare(dir: &Path) {
    let db = Db::open(dir, Options::default().durability(Durability::None)).unwrap();
    let handles: Vec<_> = (0..SERIES)
        .map(|i| {
            db.series(&SeriesKey::new("cpu_usage_user").with("hostname", format!("host_{i}")))
                .unwrap()
        })
        .collect();
    let mut walk: Vec<f64> = (0..SERIES).map(|i| (i * 37 % 100) as f64).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut batch = WriteBatch::with_capacity(SERIES * 720);
    for t in 0..POINTS {
        for (h, v) in handles.iter().zip(walk.iter_mut()) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // A cheap symmetric step in [-1.28, 1.27], rounded to 0.01 like TSBS.
            let step = ((x >> 56) as i64 - 128) as f64 / 100.0;
            *v = ((*v + step).clamp(0.0, 100.0) * 100.0).round() / 100.0;
            batch.push(*h, 1_451_606_400_000_000_000 + t * STEP, *v);
        }
        if (t + 1) % 720 == 0 {
            db.write(&batch).unwrap();
            batch.clear();
            db.flush().unwrap();
        }
    }
    db.close().unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    let prepared = tempfile::tempdir().unwrap();
    prepare(prepared.path());
    let mut group = c.benchmark_group("compaction");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(SERIES as u64 * POINTS as u64));
    for (name, tier) in [("day_to_warm", Tier::Warm), ("day_to_cold", Tier::Cold)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let work = tempfile::tempdir().unwrap();
                    copy_dir(prepared.path(), work.path());
                    let db = Db::open(work.path(), Options::default()).unwrap();
                    (work, db)
                },
                |(work, db)| {
                    let report = db
                        .compact_partition(1_451_606_400_000_000_000, tier)
                        .unwrap();
                    assert_eq!(report.points, SERIES as u64 * POINTS as u64);
                    (work, db)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
